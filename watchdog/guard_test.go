package watchdog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/internal/goroutines"
)

// A loop that panics is recovered and restarted after a backoff that
// doubles up to MaxBackoff; each panic is an EventFailed with the stack.
func TestGuardPanicBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: -1})
		sub := w.Subscribe(64)
		start := time.Now()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var starts []time.Duration
		p := Policy{Backoff: time.Second, MaxBackoff: 4 * time.Second, Failures: -1}
		err := w.Guard(ctx, "checker", p, func(ctx context.Context, b *Beat) error {
			starts = append(starts, time.Since(start))
			if len(starts) == 6 {
				cancel()
				<-ctx.Done()
				return ctx.Err()
			}
			panic("boom")
		})
		if err != nil {
			t.Fatalf("Guard returned %v after ctx was done, want nil", err)
		}
		want := []time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second, 11 * time.Second, 15 * time.Second}
		if !slices.Equal(starts, want) {
			t.Fatalf("runs started at %v, want %v (backoff 1s, 2s, 4s, 4s, 4s)", starts, want)
		}
		s := w.Stats()
		if s.Panics != 5 || s.Failures != 5 || s.Restarts != 5 || s.GaveUp != 0 || s.Loops != 0 {
			t.Fatalf("stats %+v", s)
		}
		e := next(t, sub)
		var pe *PanicError
		if e.Kind != EventFailed || !errors.As(e.Err, &pe) || pe.Value != "boom" || e.Backoff != time.Second || e.Failures != 1 {
			t.Fatalf("first event %+v", e)
		}
		if !strings.Contains(e.Stack, "TestGuardPanicBackoff") {
			t.Fatalf("stack does not show the panicking function:\n%s", e.Stack)
		}
		if e = next(t, sub); e.Kind != EventRestarted || e.Time.Sub(start) != time.Second {
			t.Fatalf("second event %v at %v, want restarted at 1s", e.Kind, e.Time.Sub(start))
		}
	})
}

// The Failures-th failure within Window makes Guard return ErrFailing,
// wrapping the last error.
func TestGuardBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: -1})
		sub := w.Subscribe(64)
		start := time.Now()
		boom := errors.New("boom")
		runs := 0
		err := w.Guard(t.Context(), "balancer", Policy{Backoff: time.Second, Failures: 3, Window: 10 * time.Second},
			func(context.Context, *Beat) error { runs++; return boom })
		if !errors.Is(err, ErrFailing) || !errors.Is(err, boom) {
			t.Fatalf("got %v, want ErrFailing wrapping boom", err)
		}
		if runs != 3 || time.Since(start) != 3*time.Second {
			t.Fatalf("%d runs, returned at %v; want 3 runs, at 3s (0, 1s, 3s)", runs, time.Since(start))
		}
		if s := w.Stats(); s.GaveUp != 1 || s.Failures != 3 || s.Restarts != 2 || s.Panics != 0 {
			t.Fatalf("stats %+v", s)
		}
		var last Event
		for len(sub.C()) > 0 {
			last = <-sub.C()
		}
		if last.Kind != EventGaveUp || last.Failures != 3 || !errors.Is(last.Err, boom) {
			t.Fatalf("last event %+v, want gave up", last)
		}
	})
}

// Failures older than Window are forgotten, for the budget and the
// backoff: a loop that fails once every 8s with a 10s window never uses
// up a budget of 3.
func TestGuardWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: -1})
		sub := w.Subscribe(64)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		runs := 0
		err := w.Guard(ctx, "slow", Policy{Backoff: time.Second, Failures: 3, Window: 10 * time.Second, Deadline: -1},
			func(ctx context.Context, _ *Beat) error {
				if runs++; runs == 6 {
					cancel()
					return nil
				}
				time.Sleep(6 * time.Second)
				return errors.New("slow failure")
			})
		if err != nil {
			t.Fatal(err)
		}
		// Failures at 6s, 13s (6 is 7s old: 2 in the window), 21s (13 is 8s
		// old, 6 is 15s old: 2), 29s, 37s.
		var backoffs []time.Duration
		for len(sub.C()) > 0 {
			if e := <-sub.C(); e.Kind == EventFailed {
				backoffs = append(backoffs, e.Backoff)
			}
		}
		if want := []time.Duration{time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second}; !slices.Equal(backoffs, want) {
			t.Fatalf("backoffs %v, want %v", backoffs, want)
		}
	})
}

// A guarded loop found stalled has its ctx canceled with cause
// ErrStalled, after its Beat's SetOnStall hook ran, and is restarted once
// it returns; the failure is ErrStalled.
func TestGuardStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: -1})
		sub := w.Subscribe(64)
		start := time.Now()
		run(t, w)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var starts []time.Duration
		var cause error
		var hooked []error // the run's ctx.Err() when SetOnStall's hook ran
		err := w.Guard(ctx, "router", Policy{Deadline: time.Second, Backoff: 500 * time.Millisecond},
			func(ctx context.Context, b *Beat) error {
				starts = append(starts, time.Since(start))
				if len(starts) == 2 {
					cancel()
					return nil
				}
				b.SetOnStall(func() { hooked = append(hooked, ctx.Err()) })
				<-ctx.Done() // stuck, but it obeys its ctx
				cause = context.Cause(ctx)
				return ctx.Err()
			})
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(cause, ErrStalled) {
			t.Fatalf("cause %v, want ErrStalled", cause)
		}
		if len(hooked) != 1 || hooked[0] != nil {
			t.Fatalf("SetOnStall's hook saw %v, want one call before the cancel (nil)", hooked)
		}
		// Stalled at 1.25s (deadline 1s + check 250ms), restarted 500ms later.
		if want := []time.Duration{0, 1750 * time.Millisecond}; !slices.Equal(starts, want) {
			t.Fatalf("runs started at %v, want %v", starts, want)
		}
		var kinds []EventKind
		for len(sub.C()) > 0 {
			e := <-sub.C()
			kinds = append(kinds, e.Kind)
			if e.Kind == EventFailed && !errors.Is(e.Err, ErrStalled) {
				t.Fatalf("failure %v, want ErrStalled", e.Err)
			}
		}
		if want := []EventKind{EventStalled, EventFailed, EventRestarted}; !slices.Equal(kinds, want) {
			t.Fatalf("events %v, want %v", kinds, want)
		}
		if s := w.Stats(); s.Stalls != 1 || s.Failures != 1 || s.Restarts != 1 || s.Stalled != 0 || s.Loops != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// A loop that returns nil has finished: Guard returns nil, no restart.
func TestGuardFinished(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: -1})
		runs := 0
		err := w.Guard(t.Context(), "once", Policy{}, func(context.Context, *Beat) error { runs++; return nil })
		if err != nil || runs != 1 {
			t.Fatalf("err %v after %d runs, want nil after 1", err, runs)
		}
	})
}

func TestPolicyInvalid(t *testing.T) {
	w := newWatchdog(t, Config{WatchdogInterval: -1})
	err := w.Guard(t.Context(), "x", Policy{MaxBackoff: time.Millisecond}, func(context.Context, *Beat) error {
		t.Fatal("ran")
		return nil
	})
	if want := `watchdog: policy of loop "x": MaxBackoff: 1ms, below Backoff 1s`; !errors.Is(err, ErrInvalid) || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestBackoff(t *testing.T) {
	p := Policy{Backoff: time.Second, MaxBackoff: -1}.withDefaults()
	if d := p.backoff(200); d != 1<<63-1 {
		t.Fatalf("unbounded backoff after 200 failures: %v, want the largest duration", d)
	}
	if d := (Policy{Backoff: -1}).withDefaults().backoff(5); d != 0 {
		t.Fatalf("backoff off: %v", d)
	}
	p = Policy{Immediate: 2, MaxBackoff: 3 * time.Second}.withDefaults()
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, p.backoff(n))
	}
	if want := []time.Duration{0, 0, time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}; !slices.Equal(got, want) {
		t.Fatalf("backoffs with Immediate 2: %v, want %v", got, want)
	}
	p = Policy{Immediate: -1}.withDefaults()
	if d := p.backoff(1); d != time.Second {
		t.Fatalf("Immediate -1: first backoff %v, want 1s", d)
	}
}

// A stalled run stuck in a call that ignores its ctx is abandoned
// Policy.Abandon after the cancel: Guard unregisters it (WATCHDOG=1 may
// go again), restarts the loop, and counts the goroutine left behind as
// stuck until it returns.
func TestGuardAbandon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: -1})
		sub := w.Subscribe(64)
		start := time.Now()
		run(t, w)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		release := make(chan struct{})
		var (
			mu     sync.Mutex // the abandoned run and the next overlap
			starts []time.Duration
		)
		done := make(chan error)
		go func() {
			done <- w.Guard(ctx, "router", Policy{Deadline: time.Second, Backoff: 500 * time.Millisecond, Abandon: 2 * time.Second},
				func(ctx context.Context, b *Beat) error {
					mu.Lock()
					starts = append(starts, time.Since(start))
					first := len(starts) == 1
					mu.Unlock()
					if first {
						<-release // a blocked syscall: ignores ctx
						return errors.New("woke up")
					}
					for {
						b.Beat()
						select {
						case <-ctx.Done():
							return nil
						case <-time.After(100 * time.Millisecond):
						}
					}
				})
		}()
		// Stalled at 1.25s, abandoned at 3.25s, restarted at 3.75s.
		time.Sleep(5 * time.Second)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if want := []time.Duration{0, 3750 * time.Millisecond}; !slices.Equal(starts, want) {
			t.Fatalf("runs started at %v, want %v", starts, want)
		}
		if s := w.Stats(); s.Abandoned != 1 || s.Stuck != 1 || s.Loops != 1 || s.Stalled != 0 || s.Restarts != 1 {
			t.Fatalf("stats %+v, want 1 abandoned and stuck, the new run registered and beating", s)
		}
		if !w.Healthy() {
			t.Fatal("not healthy once the stuck run was abandoned")
		}
		var kinds []EventKind
		for len(sub.C()) > 0 {
			e := <-sub.C()
			kinds = append(kinds, e.Kind)
			if e.Kind == EventAbandoned && (e.Time.Sub(start) != 3250*time.Millisecond || e.Stalled != 2*time.Second) {
				t.Fatalf("abandoned at %v after %v, want at 3.25s after 2s", e.Time.Sub(start), e.Stalled)
			}
		}
		if want := []EventKind{EventStalled, EventAbandoned, EventFailed, EventRestarted}; !slices.Equal(kinds, want) {
			t.Fatalf("events %v, want %v", kinds, want)
		}
		close(release) // the stuck goroutine returns: no longer stuck
		synctest.Wait()
		if s := w.Stats(); s.Stuck != 0 || s.Restarts != 1 {
			t.Fatalf("stats %+v, want none stuck and no further restart", s)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// Go runs a loop on one goroutine, fn's own, and hands Guard's result to
// done once it ends; an invalid policy is refused at once.
func TestGo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: -1})
		run(t, w)
		synctest.Wait()
		before := goroutines.InBubble()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		const n = 10
		results := make(chan error, n)
		for i := range n {
			err := w.Go(ctx, fmt.Sprint("loop", i), Policy{Deadline: time.Second}, func(ctx context.Context, b *Beat) error {
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					b.Beat()
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-tick.C:
					}
				}
			}, func(err error) { results <- err })
			if err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := goroutines.InBubble() - before; got != n {
			t.Fatalf("%d goroutines for %d guarded loops, want one each", got, n)
		}
		if s := w.Stats(); s.Loops != n || s.Stalls != 0 {
			t.Fatalf("stats %+v", s)
		}
		cancel()
		for range n {
			if err := <-results; err != nil {
				t.Fatalf("done(%v) after ctx was done, want nil", err)
			}
		}
		synctest.Wait()
		if left := goroutines.InBubble() - before; len(results) != 0 || left != 0 {
			t.Fatalf("%d more results, %d goroutines left, want none", len(results), left)
		}
		called := false
		err := w.Go(ctx, "bad", Policy{Backoff: time.Second, MaxBackoff: time.Millisecond},
			func(context.Context, *Beat) error { return nil }, func(error) { called = true })
		if !errors.Is(err, ErrInvalid) || called {
			t.Fatalf("Go with an invalid policy: %v, done called %v; want ErrInvalid, no call", err, called)
		}
	})
}
