package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeRun is a run log of a Runner whose scripts are simulated on
// synctest's clock: a Call's Args are an id and a duration.
type fakeRun struct {
	mu    sync.Mutex
	start time.Time
	log   []string // "key id start-end"
}

// install makes r run Calls as fakes and returns the log.
func fake(r *Runner) *fakeRun {
	f := &fakeRun{start: time.Now()}
	r.exec = func(ctx context.Context, c Call) (Result, error) {
		d, err := time.ParseDuration(c.Args[1])
		if err != nil {
			return Result{}, err
		}
		begin := time.Since(f.start)
		res := Result{Argv: append(slices.Clone(c.Script.Args), c.Args...)}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			res.Canceled, res.ExitCode, res.Signal = true, -1, 15
		}
		res.Duration = time.Since(f.start) - begin
		f.mu.Lock()
		f.log = append(f.log, fmt.Sprintf("%s %s-%s", c.Args[0], begin, time.Since(f.start)))
		f.mu.Unlock()
		return res, nil
	}
	return f
}

func (f *fakeRun) get() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

var fakeScript = &Script{Args: []string{"/fake"}}

// call is a fake Call named id lasting d.
func call(id string, d time.Duration) Call {
	return Call{Script: fakeScript, Args: []string{id, d.String()}}
}

// start runs r in the background; the returned func waits for Run's
// return and reports the time it returned and its error.
func start(ctx context.Context, r *Runner) func() (time.Duration, error) {
	t0 := time.Now()
	done := make(chan error, 1)
	var at time.Duration
	go func() {
		err := r.Run(ctx)
		at = time.Since(t0)
		done <- err
	}()
	return func() (time.Duration, error) { err := <-done; return at, err }
}

func mustNotify(t *testing.T, r *Runner, key string, calls ...Call) {
	t.Helper()
	if err := r.Notify(key, calls...); err != nil {
		t.Fatal(err)
	}
}

func TestRunnerOrderPerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRunner(Config{})
		f := fake(r)
		wait := start(t.Context(), r)
		mustNotify(t, r, "A", call("a1", 10*time.Second), call("a1b", 5*time.Second))
		mustNotify(t, r, "B", call("b1", 10*time.Second))
		mustNotify(t, r, "A", call("a2", 10*time.Second))
		mustNotify(t, r, "A", call("a3", time.Second))
		mustNotify(t, r, "B", call("b2", time.Second))
		r.Close()
		at, err := wait()
		if err != nil || at != 26*time.Second {
			t.Errorf("Run returned %v at %v, want nil at 26s", err, at)
		}
		want := []string{"b1 0s-10s", "b2 10s-11s", "a1 0s-10s", "a1b 10s-15s", "a2 15s-25s", "a3 25s-26s"}
		got := f.get()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("runs %q, want %q", got, want)
		}
		s := r.Stats()
		if s.Notifications != 5 || s.Runs != 6 || s.Failed != 0 || s.Dropped != 0 || s.Waiting != 0 || s.Running != 0 {
			t.Errorf("stats %+v", s)
		}
	})
}

// TestRunnerBurst: a burst on one key runs in order, one at a time.
func TestRunnerBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRunner(Config{QueueLen: -1})
		f := fake(r)
		sub := r.Subscribe(1000)
		wait := start(t.Context(), r)
		var want []string
		for i := range 200 {
			d := time.Duration(1+i%3) * time.Second
			mustNotify(t, r, "A", call(fmt.Sprint(i), d))
		}
		t0 := time.Duration(0)
		for i := range 200 {
			d := time.Duration(1+i%3) * time.Second
			want = append(want, fmt.Sprintf("%d %s-%s", i, t0, t0+d))
			t0 += d
		}
		r.Close()
		if at, err := wait(); err != nil || at != t0 {
			t.Errorf("Run: %v at %v, want %v", err, at, t0)
		}
		if got := f.get(); !slices.Equal(got, want) {
			t.Errorf("runs %q...", got[:5])
		}
		i := 0
		for ev := range sub.C() {
			if ev.Key != "A" || ev.Result.Argv[1] != fmt.Sprint(i) || ev.Err != nil {
				t.Errorf("event %d: %+v", i, ev)
			}
			i++
		}
		if i != 200 {
			t.Errorf("%d events", i)
		}
	})
}

// TestRunnerDropsOldest: with QueueLen 2, a burst behind a running
// notification keeps the two newest.
func TestRunnerDropsOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRunner(Config{QueueLen: 2})
		f := fake(r)
		wait := start(t.Context(), r)
		mustNotify(t, r, "A", call("0", 10*time.Second))
		synctest.Wait() // 0 runs
		for i := 1; i <= 5; i++ {
			mustNotify(t, r, "A", call(fmt.Sprint(i), time.Second))
		}
		mustNotify(t, r, "B", call("b", time.Second))
		synctest.Wait()
		if s := r.Stats(); s.Dropped != 3 || s.Waiting != 2 || s.Running != 2 || s.Notifications != 7 {
			t.Errorf("stats while running: %+v", s)
		}
		r.Close()
		wait()
		want := []string{"0 0s-10s", "4 10s-11s", "5 11s-12s", "b 0s-1s"}
		got := f.get()
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("runs %q, want %q", got, want)
		}
	})
}

// TestRunnerDefaultQueueLen: zero means DefaultQueueLen.
func TestRunnerDefaultQueueLen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRunner(Config{})
		fake(r)
		wait := start(t.Context(), r)
		mustNotify(t, r, "A", call("0", time.Second))
		synctest.Wait()
		for i := range DefaultQueueLen + 3 {
			mustNotify(t, r, "A", call(fmt.Sprint(i+1), time.Second))
		}
		if s := r.Stats(); s.Dropped != 3 || s.Waiting != DefaultQueueLen {
			t.Errorf("stats %+v", s)
		}
		r.Close()
		wait()
	})
}

// TestRunnerNeverWaits: Notify returns at once, however busy the key.
func TestRunnerNeverWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRunner(Config{QueueLen: 1})
		fake(r)
		wait := start(t.Context(), r)
		mustNotify(t, r, "A", call("first", time.Hour))
		synctest.Wait() // it runs
		t0 := time.Now()
		for i := range 1000 {
			mustNotify(t, r, "A", call(fmt.Sprint(i), time.Hour))
		}
		if d := time.Since(t0); d != 0 {
			t.Errorf("Notify took %v", d)
		}
		r.Close()
		wait()
		if s := r.Stats(); s.Dropped != 999 || s.Runs != 2 {
			t.Errorf("stats %+v", s)
		}
	})
}

// TestRunnerCancel: the end of Run's context stops what runs and drops
// what waits.
func TestRunnerCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRunner(Config{})
		f := fake(r)
		sub := r.Subscribe(10)
		ctx, cancel := context.WithCancel(t.Context())
		wait := start(ctx, r)
		mustNotify(t, r, "A", call("a0", 10*time.Second), call("a0b", time.Second))
		mustNotify(t, r, "A", call("a1", time.Second))
		mustNotify(t, r, "A", call("a2", time.Second))
		mustNotify(t, r, "B", call("b0", time.Second))
		time.Sleep(5 * time.Second)
		cancel()
		if at, err := wait(); err != nil || at != 5*time.Second {
			t.Errorf("Run: %v at %v", err, at)
		}
		if got, want := f.get(), []string{"b0 0s-1s", "a0 0s-5s"}; !slices.Equal(got, want) {
			t.Errorf("runs %q, want %q", got, want)
		}
		s := r.Stats()
		if s.Canceled != 2 || s.Waiting != 0 || s.Running != 0 || s.Runs != 2 || s.Failed != 1 {
			t.Errorf("stats %+v", s)
		}
		var evs []Event
		for ev := range sub.C() {
			evs = append(evs, ev)
		}
		if len(evs) != 2 || !evs[1].Result.Canceled {
			t.Errorf("events %+v", evs)
		}
		if err := r.Notify("A", call("late", time.Second)); !errors.Is(err, ErrClosed) {
			t.Errorf("Notify after Run: %v", err)
		}
	})
}

// TestRunnerBeforeRun: notifications given before Run wait for it; those
// left when a Run that never ran them returns are counted as canceled.
func TestRunnerBeforeRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRunner(Config{})
		f := fake(r)
		mustNotify(t, r, "A", call("a0", time.Second))
		mustNotify(t, r, "A", call("a1", time.Second))
		time.Sleep(time.Minute)
		if got := f.get(); len(got) != 0 {
			t.Fatalf("ran before Run: %q", got)
		}
		r.Close()
		if err := r.Notify("A", call("a2", time.Second)); !errors.Is(err, ErrClosed) {
			t.Errorf("Notify after Close: %v", err)
		}
		if err := r.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got, want := f.get(), []string{"a0 1m0s-1m1s", "a1 1m1s-1m2s"}; !slices.Equal(got, want) {
			t.Errorf("runs %q, want %q", got, want)
		}
		if err := r.Run(t.Context()); !errors.Is(err, ErrRan) {
			t.Errorf("second Run: %v", err)
		}

		r = NewRunner(Config{})
		fake(r)
		mustNotify(t, r, "A", call("a0", time.Second))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := r.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if s := r.Stats(); s.Canceled != 1 || s.Waiting != 0 {
			t.Errorf("stats %+v", s)
		}
	})
}

// TestRunnerSecondRunWhileRunning: ErrRan while the first Run runs.
func TestRunnerSecondRunWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRunner(Config{})
		wait := start(t.Context(), r)
		synctest.Wait()
		if err := r.Run(t.Context()); !errors.Is(err, ErrRan) {
			t.Errorf("second Run: %v", err)
		}
		r.Close()
		if at, err := wait(); err != nil || at != 0 {
			t.Errorf("idle Run after Close: %v at %v", err, at)
		}
		r.Close() // again: nothing
	})
}

func TestRunnerNotifyInvalid(t *testing.T) {
	r := NewRunner(Config{})
	if err := r.Notify("A", Call{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil Script: %v", err)
	}
	if err := r.Notify("A", Call{Script: &Script{}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty Script: %v", err)
	}
	if err := r.Notify("A"); err != nil {
		t.Errorf("no calls: %v", err)
	}
	if s := r.Stats(); s.Notifications != 0 || s.Waiting != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestRunnerStartError: a script that cannot start is reported and the
// key goes on.
func TestRunnerStartError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRunner(Config{})
		f := fake(r)
		sub := r.Subscribe(10)
		wait := start(t.Context(), r)
		mustNotify(t, r, "A", Call{Script: fakeScript, Args: []string{"bad", "not-a-duration"}}, call("after", time.Second))
		r.Close()
		wait()
		if got := f.get(); !slices.Equal(got, []string{"after 0s-1s"}) {
			t.Errorf("runs %q", got)
		}
		ev := <-sub.C()
		if ev.Err == nil || !slices.Equal(ev.Result.Argv, []string{"/fake", "bad", "not-a-duration"}) {
			t.Errorf("event %+v", ev)
		}
		if s := r.Stats(); s.StartErrors != 1 || s.Runs != 1 {
			t.Errorf("stats %+v", s)
		}
	})
}

func TestScriptDefaults(t *testing.T) {
	s := &Script{}
	if s.timeout() != DefaultTimeout || s.killDelay() != DefaultKillDelay {
		t.Errorf("zero: %v, %v", s.timeout(), s.killDelay())
	}
	s = &Script{Timeout: -1, KillDelay: -1}
	if s.timeout() >= 0 || s.killDelay() >= 0 {
		t.Errorf("negative: %v, %v", s.timeout(), s.killDelay())
	}
	s = &Script{Timeout: time.Second, KillDelay: 2 * time.Second}
	if s.timeout() != time.Second || s.killDelay() != 2*time.Second {
		t.Errorf("set: %v, %v", s.timeout(), s.killDelay())
	}
}
