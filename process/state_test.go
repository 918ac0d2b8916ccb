package process

import (
	"testing"
	"time"
)

// TestDebouncer runs one spec's debouncer through counts at given times,
// with ForkDelay 2s and TerminateDelay 5s, checking each published state.
func TestDebouncer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const fork, term = 2 * time.Second, 5 * time.Second
	type step struct {
		at      time.Duration
		want    bool // the count is within the quorum
		changed bool
		state   State
		pending bool
	}
	for _, tc := range []struct {
		name  string
		start State
		steps []step
	}{
		{"up after the fork delay", StateDown, []step{
			{0, true, false, StateDown, true},
			{time.Second, true, false, StateDown, true}, // not restarted
			{2*time.Second - 1, true, false, StateDown, true},
			{2 * time.Second, true, true, StateUp, false},
		}},
		{"a flap within the fork delay publishes nothing", StateDown, []step{
			{0, true, false, StateDown, true},
			{time.Second, false, false, StateDown, false},
			{3 * time.Second, false, false, StateDown, false},
		}},
		{"down after the terminate delay", StateUp, []step{
			{0, false, false, StateUp, true},
			{5 * time.Second, false, true, StateDown, false},
		}},
		{"a restart within the terminate delay publishes nothing", StateUp, []step{
			{0, false, false, StateUp, true},
			{4 * time.Second, true, false, StateUp, false},
			{6 * time.Second, true, false, StateUp, false},
			// A new loss starts a new delay.
			{7 * time.Second, false, false, StateUp, true},
			{12*time.Second - 1, false, false, StateUp, true},
			{12 * time.Second, false, true, StateDown, false},
		}},
		{"late: fires on the first update past the deadline", StateDown, []step{
			{0, true, false, StateDown, true},
			{time.Hour, true, true, StateUp, false},
		}},
	} {
		d := debouncer{state: tc.start}
		for i, s := range tc.steps {
			changed := d.update(at(s.at), s.want, fork, term)
			if changed != s.changed || d.state != s.state || d.pending != s.pending {
				t.Errorf("%s: step %d (%v, want %v): changed %v state %v pending %v; want %v %v %v",
					tc.name, i, s.at, s.want, changed, d.state, d.pending, s.changed, s.state, s.pending)
			}
		}
	}
	// Without delays a change is immediate; before start nothing moves.
	d := debouncer{state: StateDown}
	if !d.update(t0, true, 0, 0) || d.state != StateUp {
		t.Error("no delay: not immediate")
	}
	d = debouncer{}
	if d.update(t0, true, 0, 0) || d.state != StateUnknown {
		t.Error("changed before start")
	}
}

// TestTableCountsOnce checks that a process is counted once per spec
// however many events name it: keepalived counts a tracked process that
// execs a matching program twice (check_process adds a reference).
func TestTableCountsOnce(t *testing.T) {
	tab := newTable([]*spec{compile(Spec{Process: "sshd"}), compile(Spec{Process: "sshd", Quorum: 2})})
	sshd := &procInfo{comm: "sshd", state: 'S'}
	for range 3 { // fork, then exec of sshd again (sshd -R), then a rename
		tab.set(100, tab.matches(sshd))
	}
	if tab.count[0] != 1 || tab.count[1] != 1 {
		t.Fatalf("counts %v, want [1 1]", tab.count)
	}
	if tab.set(100, tab.matches(sshd)) {
		t.Error("the same reading changed the counts")
	}
	tab.set(100, tab.matches(&procInfo{comm: "bash", state: 'S'})) // exec of something else
	if tab.count[0] != 0 || len(tab.procs) != 0 {
		t.Fatalf("after exec of another program: counts %v, procs %v", tab.count, tab.procs)
	}
	tab.set(101, tab.matches(sshd))
	tab.set(101, nil) // exit
	tab.set(101, nil) // a second exit event changes nothing
	if tab.count[0] != 0 {
		t.Fatalf("after exit: %v", tab.count)
	}
}

func TestTableResetAndStart(t *testing.T) {
	tab := newTable([]*spec{compile(Spec{Process: "a", Quorum: 2}), compile(Spec{Process: "b", QuorumMax: -1})})
	tab.set(5, []int{0})
	tab.reset(map[int32]procInfo{
		1: {comm: "a", state: 'S'},
		2: {comm: "a", state: 'S'},
		3: {comm: "a", state: 'Z'},
		4: {comm: "c", state: 'S'},
	})
	if tab.count[0] != 2 || tab.count[1] != 0 || len(tab.procs) != 2 {
		t.Fatalf("after reset: counts %v procs %v", tab.count, tab.procs)
	}
	trs := tab.start()
	if len(trs) != 2 || trs[0].state != StateUp || trs[0].count != 2 || trs[1].state != StateUp {
		t.Fatalf("start: %+v", trs)
	}
	if _, ok := tab.next(); ok {
		t.Error("a deadline after start")
	}
}
