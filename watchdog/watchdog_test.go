package watchdog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// A loop that stops beating is reported stalled at the first check after
// its deadline (checks every quarter of the deadline), with the time since
// its last beat and the goroutines' stacks; it is reported recovered at
// the first check after it beats again.
func TestStallAndRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: -1, Stacks: 4 << 10})
		sub := w.Subscribe(8)
		start := time.Now()
		run(t, w)
		b := w.Register("vrrp VI_1", time.Second) // checks at 250ms, 500ms, ...
		beatUntil(b, 100*time.Millisecond, start.Add(2*time.Second))

		time.Sleep(3 * time.Second) // last beat at 2s: silent for exactly the deadline
		synctest.Wait()
		noEvent(t, sub)
		if s := w.Stats(); s.Stalls != 0 || s.Stalled != 0 || s.Loops != 1 {
			t.Fatalf("at 3s: stats %+v, want 1 loop, no stall", s)
		}

		e := next(t, sub)
		if e.Kind != EventStalled || e.Name != "vrrp VI_1" {
			t.Fatalf("got %v %q, want stalled vrrp VI_1", e.Kind, e.Name)
		}
		if at := e.Time.Sub(start); at != 3250*time.Millisecond || time.Since(start) != at {
			t.Fatalf("stall reported at %v (event time %v), want 3.25s: deadline 1s after the last beat at 2s, plus the check period",
				time.Since(start), at)
		}
		if e.Stalled != 1250*time.Millisecond {
			t.Fatalf("stalled %v, want 1.25s since the last beat", e.Stalled)
		}
		if !strings.Contains(e.Stack, "goroutine ") || len(e.Stack) > 4<<10 {
			t.Fatalf("stack of %d bytes, want goroutines within 4 KiB:\n%s", len(e.Stack), e.Stack)
		}
		synctest.Wait() // the signal follows the event
		select {
		case <-b.Stalled():
		default:
			t.Fatal("Beat.Stalled not signalled")
		}
		if s := w.Stats(); s.Stalls != 1 || s.Stalled != 1 {
			t.Fatalf("stats %+v, want 1 stall, 1 stalled now", s)
		}

		// Still stalled at the next checks: reported once.
		time.Sleep(850 * time.Millisecond) // 4.1s
		synctest.Wait()
		noEvent(t, sub)
		b.Beat()
		e = next(t, sub)
		if e.Kind != EventRecovered || time.Since(start) != 4250*time.Millisecond {
			t.Fatalf("got %v at %v, want recovered at 4.25s", e.Kind, time.Since(start))
		}
		if e.Stalled != 2100*time.Millisecond {
			t.Fatalf("recovered after %v, want 2.1s between the beats", e.Stalled)
		}
		if s := w.Stats(); s.Recoveries != 1 || s.Stalled != 0 {
			t.Fatalf("stats %+v, want 1 recovery, none stalled now", s)
		}
		b.Done()
	})
}

// A loop that beats exactly at its deadline is never stalled: a stall is
// a silence longer than the deadline.
func TestBeatAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: -1})
		sub := w.Subscribe(8)
		start := time.Now()
		run(t, w)
		b := w.Register("tick", time.Second)
		defer b.Done()
		beatUntil(b, time.Second, start.Add(10*time.Second))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		noEvent(t, sub)
	})
}

// Done unregisters: a loop that stops beating after Done is not reported,
// and a stalled loop's stall ends with it, without a recovery.
func TestDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: -1})
		sub := w.Subscribe(8)
		run(t, w)
		a := w.Register("a", time.Second)
		b := w.Register("b", time.Second)
		a.Done()
		a.Done() // again: nothing
		if n := w.Stats().Loops; n != 1 {
			t.Fatalf("%d loops, want 1", n)
		}
		e := next(t, sub)
		if e.Name != "b" || e.Kind != EventStalled {
			t.Fatalf("got %v %q, want only b stalled", e.Kind, e.Name)
		}
		b.Done()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		noEvent(t, sub)
		if s := w.Stats(); s.Loops != 0 || s.Stalled != 0 || s.Stalls != 1 || s.Recoveries != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// Many loops with different deadlines and stop times are each reported
// at the first check after their own deadline, where the check period is
// a quarter of the smallest deadline.
func TestManyLoops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: -1, Stacks: -1})
		const n = 200
		sub := w.Subscribe(n)
		start := time.Now()
		run(t, w)
		want := make(map[string]time.Duration)
		const period = 100 * time.Millisecond // the smallest deadline's quarter
		for i := range n {
			name := fmt.Sprintf("loop-%d", i)
			deadline := 400*time.Millisecond + time.Duration(i%7)*300*time.Millisecond
			stop := time.Duration(i) * 50 * time.Millisecond
			b := w.Register(name, deadline)
			defer b.Done()
			beatUntil(b, 50*time.Millisecond, start.Add(stop))
			// The first check (every 100ms) after stop+deadline, strictly.
			want[name] = (stop+deadline)/period*period + period
		}
		for range n {
			e := next(t, sub)
			if e.Kind != EventStalled {
				t.Fatalf("got %v %q", e.Kind, e.Name)
			}
			if at := time.Since(start); at != want[e.Name] {
				t.Errorf("%s stalled at %v, want %v", e.Name, at, want[e.Name])
			}
			if e.Stack != "" {
				t.Fatal("stack recorded with Stacks < 0")
			}
		}
		if s := w.Stats(); s.Stalls != n || s.Stalled != n {
			t.Fatalf("stats %+v", s)
		}
	})
}

// A loop registered before Run, with the default deadline, is checked
// from Run's start; a loop with a negative deadline is never stalled.
func TestDefaultsAndOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: -1, Deadline: 2 * time.Second})
		sub := w.Subscribe(8)
		start := time.Now()
		off := w.Register("off", -1)
		defer off.Done()
		def := w.Register("default", 0)
		defer def.Done()
		if def.Deadline() != 2*time.Second || def.Name() != "default" {
			t.Fatalf("deadline %v, name %q", def.Deadline(), def.Name())
		}
		run(t, w)
		e := next(t, sub)
		if e.Name != "default" || time.Since(start) != 2500*time.Millisecond {
			t.Fatalf("%q stalled at %v, want default at 2.5s", e.Name, time.Since(start))
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		noEvent(t, sub)
	})
}

func TestRunOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatchdog(t, Config{WatchdogInterval: -1})
		sub := w.Subscribe(1)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- w.Run(ctx) }()
		synctest.Wait()
		if err := w.Run(ctx); !errors.Is(err, ErrRan) {
			t.Fatalf("second Run while running: %v, want ErrRan", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, ok := <-sub.C(); ok {
			t.Fatal("subscription open after Run returned")
		}
		if err := w.Run(t.Context()); !errors.Is(err, ErrRan) {
			t.Fatalf("Run after Run: %v, want ErrRan", err)
		}
	})
}

func TestConfigInvalid(t *testing.T) {
	_, err := New(Config{WatchdogInterval: time.Millisecond})
	var fe *FieldError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &fe) || fe.Field != "WatchdogInterval" {
		t.Fatalf("got %v, want a FieldError for WatchdogInterval", err)
	}
	if want := "watchdog: config: WatchdogInterval: 1ms, want at least 2ms"; err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
}

// Beat is one atomic store: no allocation.
func TestBeatAllocs(t *testing.T) {
	w := newWatchdog(t, Config{WatchdogInterval: -1})
	b := w.Register("hot", time.Second)
	defer b.Done()
	if n := testing.AllocsPerRun(1000, b.Beat); n != 0 {
		t.Fatalf("Beat allocates %v times, want 0", n)
	}
}

func BenchmarkBeat(b *testing.B) {
	w, _ := New(Config{WatchdogInterval: -1})
	beat := w.Register("hot", time.Second)
	defer beat.Done()
	b.ReportAllocs()
	for b.Loop() {
		beat.Beat()
	}
}
