package check

import (
	"context"
	"errors"
	"fmt"
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

func TestGroupDedup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGroup(GroupConfig{})
		clk := newClock()
		p := Policy{Interval: time.Second, Alpha: true}
		// The same check configured in two places, as two values.
		a, err := g.Add(&keyed{key: "k", clk: clk}, p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := g.Add(&keyed{key: "k", clk: clk}, Policy{Interval: time.Second, Alpha: true, Rise: 1, Timeout: DefaultTimeout})
		if err != nil {
			t.Fatal(err)
		}
		// Another policy is another check.
		otherClk := newClock()
		c, err := g.Add(&keyed{key: "k", clk: otherClk}, Policy{Interval: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if st := g.Stats(); st.Checks != 2 || st.Subscriptions != 3 {
			t.Fatalf("stats %+v, want 2 checks, 3 subscriptions", st)
		}
		for _, s := range []*Subscription{a, b} {
			if st := <-s.C(); st.Healthy {
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
		for _, s := range []*Subscription{a, b} {
			select {
			case st := <-s.C():
				if !st.Healthy || st.Time.Sub(clk.start) != times[0] {
					t.Errorf("subscriber got %+v, want healthy at %v", st, times[0])
				}
			default:
				t.Error("a subscriber got no status")
			}
		}
		if a.Stats() != b.Stats() || a.Stats().Checks != 10 {
			t.Errorf("stats %+v and %+v, want the same 10 checks", a.Stats(), b.Stats())
		}

		// The shared check goes on until its last subscription is removed.
		a.Remove()
		a.Remove()
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(clk.get()); n != 11 {
			t.Fatalf("after removing one subscription: %d attempts, want 11", n)
		}
		b.Remove()
		if st := g.Stats(); st.Checks != 1 || st.Subscriptions != 1 || st.Sched.Jobs != 1 {
			t.Fatalf("stats %+v, want 1 check left", st)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := len(clk.get()); n != 11 {
			t.Fatalf("after removing both: %d attempts, want still 11", n)
		}
		c.Remove()
		stop()
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
	if st := g.Stats(); st.Checks != 5 || st.Subscriptions != 6 {
		t.Fatalf("stats %+v, want 5 checks, 6 subscriptions", st)
	}
	if _, err := g.Add(nil, Policy{}); !errors.Is(err, ErrConfig) {
		t.Errorf("nil checker: %v", err)
	}
	if _, err := g.Add(f, Policy{Retries: -1}); !errors.Is(err, ErrConfig) {
		t.Errorf("bad policy: %v", err)
	}
}

// TestGroupHung: a target that hangs until its timeout delays no other
// check, even with little concurrency.
func TestGroupHung(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGroup(GroupConfig{MaxInFlight: 2})
		hungClk := newClock()
		hung := CheckerFunc(func(ctx context.Context) error { hungClk.tick(); <-ctx.Done(); return ctx.Err() })
		hs, err := g.Add(hung, Policy{Interval: time.Second, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
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
		if _, err := g.Add(hung, Policy{}); err == nil {
			t.Error("Add after Run ended: no error")
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
