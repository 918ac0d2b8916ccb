package process

import (
	"slices"
	"time"
)

// table is the Tracker's view: which processes match which spec, the
// counts, and each spec's debounced state. It does no I/O and keeps no
// clock: callers pass the time, so it is tested with plain values.
//
// A process is kept as a set of spec indexes by PID, and set replaces the
// whole set from what was read of the process, so applying the same
// reading twice changes nothing: a process is counted once however many
// events name it (keepalived's check_process adds a second reference
// when a counted process execs a program that matches again).
type table struct {
	specs []*spec
	procs map[int32][]int // PID → indexes of the specs it matches, sorted
	count []int
	deb   []debouncer
}

func newTable(specs []*spec) *table {
	return &table{specs: specs, procs: map[int32][]int{}, count: make([]int, len(specs)), deb: make([]debouncer, len(specs))}
}

// matches returns the indexes of the specs info matches; nil for a
// process that is gone (info == nil).
func (t *table) matches(info *procInfo) []int {
	if info == nil {
		return nil
	}
	var m []int
	for i, s := range t.specs {
		if s.match(*info) {
			m = append(m, i)
		}
	}
	return m
}

// set records that process pid now matches the specs of m (none: it is
// gone or matches nothing), and returns whether any count changed.
func (t *table) set(pid int32, m []int) bool {
	old := t.procs[pid]
	if slices.Equal(old, m) {
		return false
	}
	for _, i := range old {
		t.count[i]--
	}
	for _, i := range m {
		t.count[i]++
	}
	if len(m) == 0 {
		delete(t.procs, pid)
	} else {
		t.procs[pid] = m
	}
	return true
}

// reset replaces every process with those of a scan.
func (t *table) reset(scan map[int32]procInfo) {
	clear(t.procs)
	clear(t.count)
	for pid, info := range scan {
		t.set(pid, t.matches(&info))
	}
}

// A transition is a state change to publish.
type transition struct {
	spec  int
	state State
	count int
}

// start sets every spec's state from its count at once, without delays
// (keepalived sets have_quorum after its first scan the same way), and
// returns the transitions.
func (t *table) start() []transition {
	out := make([]transition, 0, len(t.specs))
	for i, s := range t.specs {
		t.deb[i] = debouncer{state: stateOf(s.up(t.count[i]))}
		out = append(out, transition{spec: i, state: t.deb[i].state, count: t.count[i]})
	}
	return out
}

// update runs every spec's debouncer at now against its count, appending
// the transitions to out.
func (t *table) update(now time.Time, out []transition) []transition {
	for i, s := range t.specs {
		if t.deb[i].update(now, s.up(t.count[i]), s.forkDelay, s.termDelay) {
			out = append(out, transition{spec: i, state: t.deb[i].state, count: t.count[i]})
		}
	}
	return out
}

// next returns the earliest pending deadline, if any.
func (t *table) next() (time.Time, bool) {
	var at time.Time
	ok := false
	for _, d := range t.deb {
		if d.pending && (!ok || d.at.Before(at)) {
			at, ok = d.at, true
		}
	}
	return at, ok
}

func stateOf(up bool) State {
	if up {
		return StateUp
	}
	return StateDown
}

// debouncer holds one spec's published state and the delay running
// towards the other state. The delay is chosen by direction: ForkDelay
// before going up, TerminateDelay before going down. A delay is not
// restarted by further changes of the count in the same direction, and
// is cancelled, with nothing published, if the count returns within the
// quorum state already published (keepalived's fork and terminate
// timers, cancelled by the opposite change).
type debouncer struct {
	state   State
	pending bool
	at      time.Time // when the pending change happens
}

// update applies the current quorum (want: the count is within it) at
// now, and reports whether the state changed.
func (d *debouncer) update(now time.Time, want bool, forkDelay, termDelay time.Duration) bool {
	target := stateOf(want)
	if d.state == StateUnknown {
		return false // before start
	}
	if target == d.state {
		d.pending = false
		return false
	}
	if !d.pending {
		delay := termDelay
		if want {
			delay = forkDelay
		}
		d.pending, d.at = true, now.Add(delay)
	}
	if now.Before(d.at) {
		return false
	}
	d.state, d.pending = target, false
	return true
}
