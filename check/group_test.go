package check

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// keyed is a fake checker with a Key, recording its attempts.
type keyed struct {
	key string
	clk *clock
	err error
}

func (k *keyed) Key() string { return k.key }

func (k *keyed) Check(ctx context.Context) error { k.clk.tick(); return k.err }

// runGroup starts g in the bubble and returns a function that stops it.
func runGroup(t *testing.T, g *Group) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error)
	go func() { ran <- g.Run(ctx) }()
	return func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// periodic fails t unless times are first, first+iv, first+2iv, ... with
// first in [0, iv).
func periodic(t *testing.T, what string, times []time.Duration, iv time.Duration) {
	t.Helper()
	if len(times) == 0 || times[0] < 0 || times[0] >= iv {
		t.Fatalf("%s: attempts at %v, want the first in [0, %v)", what, times, iv)
	}
	for i, at := range times {
		if at != times[0]+time.Duration(i)*iv {
			t.Fatalf("%s: attempts at %v, not every %v", what, times, iv)
		}
	}
}

// changeLog records the changes a Group subscription carries, at their
// virtual times since it was made, until the Group's Run returns.
type changeLog struct {
	done    chan struct{}
	changes []change
}

type change struct {
	at time.Duration
	Change
}

func recordChanges(sub *Subscription[Change]) *changeLog {
	l := &changeLog{done: make(chan struct{})}
	start := time.Now()
	go func() {
		defer close(l.done)
		for c := range sub.C() {
			l.changes = append(l.changes, change{time.Since(start), c})
		}
	}()
	return l
}

// get waits for the subscription's end and returns the changes.
func (l *changeLog) get() []change {
	<-l.done
	return l.changes
}

// describe returns "a:D@18s b:U@20s" for changes, naming handles by names,
// in time order; changes at one instant (of distinct checks, which come in
// any order) in name order.
func describe(changes []change, names map[*Handle]string) string {
	changes = slices.Clone(changes)
	slices.SortStableFunc(changes, func(x, y change) int {
		return cmp.Or(cmp.Compare(x.at, y.at), cmp.Compare(names[x.Handle], names[y.Handle]))
	})
	var s []string
	for _, c := range changes {
		s = append(s, fmt.Sprintf("%s:%s@%v", names[c.Handle], map[bool]string{true: "U", false: "D"}[c.Status.Healthy], c.at))
	}
	return strings.Join(s, " ")
}

func mustAdd(t *testing.T, g *Group, c Checker, p Policy) *Handle {
	t.Helper()
	h, err := g.Add(c, p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestGroupDedup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGroup(GroupConfig{})
		changes := recordChanges(g.Subscribe(16))
		clk := newClock()
		p := Policy{Interval: time.Second, Alpha: true}
		// The same check configured in two places, as two values.
		a := mustAdd(t, g, &keyed{key: "k", clk: clk}, p)
		b := mustAdd(t, g, &keyed{key: "k", clk: clk}, Policy{Interval: time.Second, Alpha: true, Rise: 1, Timeout: DefaultTimeout})
		// Another policy is another check.
		otherClk := newClock()
		c := mustAdd(t, g, &keyed{key: "k", clk: otherClk}, Policy{Interval: 2 * time.Second})
		if st := g.Stats(); st.Checks != 2 || st.Handles != 3 {
			t.Fatalf("stats %+v, want 2 checks, 3 handles", st)
		}
		for _, h := range []*Handle{a, b} {
			if h.Status().Healthy {
				t.Fatal("alpha: initial status healthy")
			}
		}
		stop := runGroup(t, g)
		time.Sleep(10*time.Second - time.Nanosecond)
		synctest.Wait()
		times := clk.get()
		if len(times) != 10 {
			t.Fatalf("shared check ran %d times in 10 intervals, want 10 (once per interval)", len(times))
		}
		periodic(t, "shared check", times, time.Second)
		periodic(t, "other check", otherClk.get(), 2*time.Second)
		if !reflect.DeepEqual(a.Stats(), b.Stats()) || a.Stats().Checks != 10 {
			t.Errorf("stats %+v and %+v, want the same 10 checks", a.Stats(), b.Stats())
		}

		// The shared check goes on until its last handle is removed.
		a.Remove()
		a.Remove()
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(clk.get()); n != 11 {
			t.Fatalf("after removing one handle: %d attempts, want 11", n)
		}
		b.Remove()
		if st := g.Stats(); st.Checks != 1 || st.Handles != 1 || st.Sched.Jobs != 1 {
			t.Fatalf("stats %+v, want 1 check left", st)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := len(clk.get()); n != 11 {
			t.Fatalf("after removing both: %d attempts, want still 11", n)
		}
		c.Remove()
		stop()
		// One change for each handle of the shared check, at its first round.
		up := times[0].String()
		if got, want := describe(changes.get(), map[*Handle]string{a: "a", b: "b", c: "c"}), "a:U@"+up+" b:U@"+up; got != want {
			t.Errorf("changes %q, want %q", got, want)
		}
	})
}

func TestGroupIdentity(t *testing.T) {
	g := NewGroup(GroupConfig{})
	f := CheckerFunc(func(context.Context) error { return nil })
	ptr := &struct{ CheckerFunc }{f}
	for _, c := range []Checker{f, f, ptr, ptr, &keyed{key: ""}, &keyed{key: ""}} {
		if _, err := g.Add(c, Policy{}); err != nil {
			t.Fatal(err)
		}
	}
	// Functions are never shared; the same pointer is; an empty key falls
	// back to the pointer.
	if st := g.Stats(); st.Checks != 5 || st.Handles != 6 {
		t.Fatalf("stats %+v, want 5 checks, 6 handles", st)
	}
	var fe *FieldError
	if _, err := g.Add(nil, Policy{}); !errors.Is(err, ErrInvalid) || !errors.As(err, &fe) || fe.Object != "group" || fe.Field != "Checker" {
		t.Errorf("nil checker: %v", err)
	}
	if _, err := g.Add(&UDP{}, Policy{}); !errors.As(err, &fe) || fe.Field != "Addr" {
		t.Errorf("invalid checker: %v", err)
	}
	if _, err := g.Add(f, Policy{Retries: -1, Interval: -1, Timeout: -1}); err != nil {
		t.Errorf("negative policy fields: %v, want them to mean off", err)
	}
}

// TestGroupHung: a target that hangs until its timeout delays no other
// check, even with little concurrency.
func TestGroupHung(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGroup(GroupConfig{MaxInFlight: 2})
		hungClk := newClock()
		hung := CheckerFunc(func(ctx context.Context) error { hungClk.tick(); <-ctx.Done(); return ctx.Err() })
		hs := mustAdd(t, g, hung, Policy{Interval: time.Second, Timeout: 5 * time.Second})
		clks := make([]*clock, 50)
		for i := range clks {
			clks[i] = newClock()
			if _, err := g.Add(&keyed{key: fmt.Sprint(i), clk: clks[i]}, Policy{Interval: time.Second}); err != nil {
				t.Fatal(err)
			}
		}
		stop := runGroup(t, g)
		time.Sleep(20*time.Second - time.Nanosecond)
		synctest.Wait()
		for i, c := range clks {
			times := c.get()
			if len(times) != 20 {
				t.Fatalf("check %d ran %d times in 20 intervals, want 20", i, len(times))
			}
			periodic(t, fmt.Sprint("check ", i), times, time.Second)
		}
		// The hung check itself runs every 5s+: its overrunning ticks are skipped.
		ht := hungClk.get()
		if len(ht) != 4 {
			t.Errorf("hung check attempted at %v, want 4 attempts", ht)
		}
		if st := hs.Status(); st.Healthy || !errors.Is(st.Err, context.DeadlineExceeded) {
			t.Errorf("hung check status %+v", st)
		}
		if st := g.Stats().Sched; st.Skipped == 0 {
			t.Errorf("scheduler stats %+v: no skipped ticks", st)
		}
		stop()
	})
}

// TestGroupRemoveHung: removing a check cancels its attempt at once.
func TestGroupRemoveHung(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGroup(GroupConfig{})
		var ended atomic.Int64
		start := time.Now()
		hung := CheckerFunc(func(ctx context.Context) error {
			<-ctx.Done()
			ended.Store(int64(time.Since(start)))
			return ctx.Err()
		})
		s, err := g.Add(hung, Policy{Interval: time.Minute, Timeout: time.Hour, Warmup: time.Nanosecond})
		if err != nil {
			t.Fatal(err)
		}
		stop := runGroup(t, g)
		time.Sleep(3 * time.Second)
		s.Remove()
		synctest.Wait()
		if got := time.Duration(ended.Load()); got != 3*time.Second {
			t.Errorf("attempt ended at %v, want 3s", got)
		}
		if st := s.Stats(); st.Checks != 0 {
			t.Errorf("stats %+v: the cancelled attempt was counted", st)
		}
		stop()
		if _, err := g.Add(hung, Policy{}); !errors.Is(err, ErrStopped) {
			t.Errorf("Add after Run ended: %v, want ErrStopped", err)
		}
		if err := s.SetPolicy(Policy{}); !errors.Is(err, ErrRemoved) {
			t.Errorf("SetPolicy after Remove: %v, want ErrRemoved", err)
		}
	})
}

func TestGroupWarmup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGroup(GroupConfig{})
		clks := make([]*clock, 100)
		for i := range clks {
			clks[i] = newClock()
			if _, err := g.Add(&keyed{key: fmt.Sprint(i), clk: clks[i]}, Policy{Interval: time.Hour, Warmup: 3 * time.Second}); err != nil {
				t.Fatal(err)
			}
		}
		stop := runGroup(t, g)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		var late bool
		for _, c := range clks {
			if times := c.get(); len(times) != 1 || times[0] >= 3*time.Second {
				t.Fatalf("attempts at %v, want one in [0, 3s)", times)
			} else if times[0] >= 1500*time.Millisecond {
				late = true
			}
		}
		if !late {
			t.Error("100 warmups all in the first half: not random over [0, 3s)")
		}
		stop()
	})
}

// TestGroup10k runs 10,000 checks for three intervals: every check runs
// exactly once per interval, and first rounds are spread evenly.
func TestGroup10k(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 10000
		g := NewGroup(GroupConfig{})
		var mu sync.Mutex
		counts := make([]int, n)
		first := make([]time.Duration, n)
		start := time.Now()
		for i := range n {
			c := CheckerFunc(func(context.Context) error {
				mu.Lock()
				defer mu.Unlock()
				if counts[i] == 0 {
					first[i] = time.Since(start)
				}
				counts[i]++
				if i%2 == 0 {
					return errDown
				}
				return nil
			})
			if _, err := g.Add(c, Policy{Interval: time.Second}); err != nil {
				t.Fatal(err)
			}
		}
		stop := runGroup(t, g)
		time.Sleep(3*time.Second - time.Nanosecond)
		synctest.Wait()
		stop()
		var buckets [10]int
		for i := range n {
			if counts[i] != 3 {
				t.Fatalf("check %d ran %d times, want 3", i, counts[i])
			}
			buckets[first[i]/(100*time.Millisecond)]++
		}
		for b, k := range buckets {
			if k < n/10*9/10 || k > n/10*11/10 {
				t.Errorf("first rounds per 100ms: %v; bucket %d is uneven", buckets, b)
			}
		}
		if st := g.Stats(); st.Sched.Runs != 3*n || st.Sched.Skipped != 0 {
			t.Errorf("scheduler stats %+v", st.Sched)
		}
	})
}

// TestGroupFanIn: one reader follows 10,000 checks through one
// subscription. Every check goes down at its own second, and the reader
// learns it at that exact virtual time; between rounds, no goroutine runs
// per check.
func TestGroupFanIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 10000
		g := NewGroup(GroupConfig{})
		sub := g.Subscribe(n)
		start := time.Now()
		index := make(map[*Handle]int, n)
		for i := range n {
			down := time.Duration(i%5+1) * time.Second
			c := CheckerFunc(func(context.Context) error {
				if time.Since(start) >= down {
					return errDown
				}
				return nil
			})
			// No warmup: every check's rounds are at 0s, 1s, 2s, ...
			index[mustAdd(t, g, c, Policy{Interval: time.Second, Warmup: -1})] = i
		}
		changes := recordChanges(sub)
		stop := runGroup(t, g)
		time.Sleep(5500 * time.Millisecond)
		synctest.Wait()
		// The reader and Run: the idle checks hold no goroutine.
		if got := ours(); got != 2 {
			t.Errorf("%d goroutines of packages check and sched with %d idle checks, want 3", got, n)
		}
		if st := g.Stats(); st.Sched.Runs != 6*n || st.Dropped != 0 {
			t.Errorf("stats %+v, want %d rounds and no drops", st, 6*n)
		}
		stop()
		seen := make([]int, n)
		for _, c := range changes.get() {
			i := index[c.Handle]
			seen[i]++
			if want := time.Duration(i%5+1) * time.Second; c.at != want || c.Status.Healthy || !errors.Is(c.Status.Err, errDown) {
				t.Fatalf("check %d: %+v at %v, want down at %v", i, c.Status, c.at, want)
			}
		}
		for i, k := range seen {
			if k != 1 {
				t.Fatalf("check %d: %d changes, want 1", i, k)
			}
		}
		if sub.Dropped() != 0 {
			t.Errorf("dropped %d", sub.Dropped())
		}
	})
}

// ours counts the goroutines that code of this module started
// (runtime.NumGoroutine would count other tests' goroutines too).
func ours() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	k := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "created by github.com/vigil-ha/vigil/") {
			k++
		}
	}
	return k
}

// TestGroupSlowReader: a subscription that is not read keeps the latest n
// changes in order and counts the ones it dropped; another one, with room
// for them all, loses nothing. The handles still say every final state.
func TestGroupSlowReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGroup(GroupConfig{})
		slow, roomy := g.Subscribe(4), g.Subscribe(10)
		start := time.Now()
		var hs []*Handle
		for i := range 10 {
			down := time.Duration(i+1) * time.Second
			c := CheckerFunc(func(context.Context) error {
				if time.Since(start) >= down {
					return errDown
				}
				return nil
			})
			hs = append(hs, mustAdd(t, g, c, Policy{Interval: time.Second, Warmup: -1}))
		}
		stop := runGroup(t, g)
		time.Sleep(10500 * time.Millisecond)
		synctest.Wait()
		if slow.Dropped() != 6 || roomy.Dropped() != 0 || g.Stats().Dropped != 6 {
			t.Errorf("dropped: slow %d, roomy %d, group %d; want 6, 0, 6", slow.Dropped(), roomy.Dropped(), g.Stats().Dropped)
		}
		stop()
		var got []int
		for c := range slow.C() {
			got = append(got, slices.Index(hs, c.Handle))
		}
		if want := []int{6, 7, 8, 9}; !slices.Equal(got, want) {
			t.Errorf("slow reader got checks %v, want the latest %v", got, want)
		}
		n := 0
		for range roomy.C() {
			n++
		}
		if n != 10 {
			t.Errorf("roomy reader got %d changes, want 10", n)
		}
		for i, h := range hs {
			if h.Status().Healthy {
				t.Errorf("check %d: Status healthy, want down", i)
			}
		}
		if _, ok := <-g.Subscribe(1).C(); ok {
			t.Error("Subscribe after Run: channel open")
		}
	})
}

// TestGroupSetPolicy changes a running check's policy through its handle:
// in place when the handle is alone, splitting a shared check, joining an
// identical one. Health, rise/fall counts and rhythm carry over.
func TestGroupSetPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGroup(GroupConfig{})
		changes := recordChanges(g.Subscribe(16))
		clk := newClock()
		failing := func() Checker { return &keyed{key: "shared", clk: clk, err: errDown} }
		slow := Policy{Interval: 10 * time.Second, Fall: 3, Warmup: -1}
		fast := Policy{Interval: 4 * time.Second, Fall: 3, Warmup: -1}
		a := mustAdd(t, g, failing(), slow)
		b := mustAdd(t, g, failing(), slow)
		aloneClk := newClock()
		alone := mustAdd(t, g, &keyed{key: "alone", clk: aloneClk, err: errDown}, slow)
		stop := runGroup(t, g)

		// Rounds at 0s and 10s: two failures of three, still healthy.
		at(clk.start, 15*time.Second)
		if err := alone.SetPolicy(fast); err != nil { // in place
			t.Fatal(err)
		}
		if err := a.SetPolicy(fast); err != nil { // a leaves b
			t.Fatal(err)
		}
		if st := g.Stats(); st.Checks != 3 || st.Handles != 3 {
			t.Errorf("after the split: %+v, want 3 checks", st)
		}
		if !a.Status().Healthy || !alone.Status().Healthy || a.Policy() != fast.withDefaults() {
			t.Errorf("after SetPolicy: a %+v, alone %+v, policy %+v", a.Status(), alone.Status(), a.Policy())
		}
		// a and alone: last round 10s, next 18s, the third failure; b on
		// its own 10s rhythm: the third failure at 20s.
		at(clk.start, 27*time.Second)
		if err := b.SetPolicy(fast); err != nil { // b joins a: same key, same policy
			t.Fatal(err)
		}
		if st := g.Stats(); st.Checks != 2 || st.Handles != 3 {
			t.Errorf("after the join: %+v, want 2 checks", st)
		}
		at(clk.start, 31*time.Second)
		stop()

		names := map[*Handle]string{a: "a", b: "b", alone: "alone"}
		if got, want := describe(changes.get(), names), "a:D@18s alone:D@18s b:D@20s"; got != want {
			t.Errorf("changes %q, want %q", got, want)
		}
		// The shared check at 0s and 10s, then a's at 18s, b's at 20s,
		// a's at 22s and 26s; from 27s one check for both: 30s.
		equalTimes(t, "shared attempts", clk.get(), durations(0, 10, 18, 20, 22, 26, 30))
		equalTimes(t, "alone attempts", aloneClk.get(), durations(0, 10, 18, 22, 26, 30))
		if err := a.SetPolicy(slow); !errors.Is(err, ErrStopped) {
			t.Errorf("SetPolicy after Run: %v, want ErrStopped", err)
		}
	})
}

// TestGroupRunOnce: a Group runs once.
func TestGroupRunOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGroup(GroupConfig{})
		stop := runGroup(t, g)
		synctest.Wait()
		if err := g.Run(t.Context()); !errors.Is(err, ErrRan) {
			t.Errorf("second Run: %v, want ErrRan", err)
		}
		stop()
		if err := g.Run(t.Context()); !errors.Is(err, ErrRan) {
			t.Errorf("Run after Run: %v, want ErrRan", err)
		}
	})
}
