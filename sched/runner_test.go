package sched

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const s1 = time.Second

// runLog records when each job's runs start, as offsets from t0.
type runLog struct {
	t0     time.Time
	mu     sync.Mutex
	starts map[string][]time.Duration
}

func newRunLog() *runLog {
	return &runLog{t0: time.Now(), starts: map[string][]time.Duration{}}
}

// job returns a Run func that records its start under name, then takes
// d, or less if its context ends first.
func (l *runLog) job(name string, d time.Duration) func(context.Context) {
	return func(ctx context.Context) {
		l.mark(name)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

func (l *runLog) mark(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.starts[name] = append(l.starts[name], time.Since(l.t0))
}

// want fails t unless name's runs started at exactly secs seconds.
func (l *runLog) want(t *testing.T, name string, secs ...float64) {
	t.Helper()
	want := make([]time.Duration, len(secs))
	for i, x := range secs {
		want[i] = time.Duration(x * float64(time.Second))
	}
	if got := l.get(name); !slices.Equal(got, want) {
		t.Errorf("%s: starts = %v, want %v", name, got, want)
	}
}

func (l *runLog) get(name string) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.starts[name])
}

// start runs s in a new goroutine; the returned func cancels it and waits
// for Run to return.
func start(t *testing.T, s *Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// sleepUntil advances the bubble's clock to t0+d and lets it settle.
func sleepUntil(t0 time.Time, d time.Duration) {
	time.Sleep(time.Until(t0.Add(d)))
	synctest.Wait()
}

func mustAdd(t *testing.T, s *Runner, j Job) *Handle {
	t.Helper()
	h, err := s.Add(j)
	if err != nil {
		t.Fatalf("Add(%q): %v", j.Name, err)
	}
	return h
}

func secs(ss ...float64) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, x := range ss {
		out[i] = time.Duration(x * float64(time.Second))
	}
	return out
}

func TestFirstRunAtOffsetThenExactPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newRunLog()
		s := New(Config{})
		h := mustAdd(t, s, Job{Name: "a", Interval: 10 * s1, Offset: 3 * s1, Run: l.job("a", 2*s1)})
		stop := start(t, s)
		sleepUntil(l.t0, 45*s1)
		stop()

		l.want(t, "a", 3, 13, 23, 33, 43)
		js := h.Stats()
		if js.Runs != 5 || js.Skipped != 0 || js.MaxLateness != 0 || js.LastDuration != 2*s1 {
			t.Errorf("job stats = %+v", js)
		}
		if !js.LastStart.Equal(l.t0.Add(43 * s1)) {
			t.Errorf("LastStart = %v, want t0+43s", js.LastStart.Sub(l.t0))
		}
		if st := s.Stats(); st.Runs != 5 || st.Jobs != 1 || st.InFlight != 0 {
			t.Errorf("stats = %+v", st)
		}
	})
}

func TestJitterWithinBoundsNoDrift(t *testing.T) {
	const (
		interval = 10 * s1
		jitter   = 3 * s1
		runs     = 100
	)
	once := func(t *testing.T) []time.Duration {
		var got []time.Duration
		synctest.Test(t, func(t *testing.T) {
			l := newRunLog()
			s := New(Config{Rand: rand.New(rand.NewPCG(1, 2))})
			h := mustAdd(t, s, Job{Name: "j", Interval: interval, Jitter: jitter, Run: l.job("j", 0)})
			stop := start(t, s)
			sleepUntil(l.t0, runs*interval-1)
			stop()
			got = l.get("j")
			if js := h.Stats(); js.MaxLateness != 0 {
				t.Errorf("MaxLateness = %v, want 0 (lateness is measured from the jittered due time)", js.MaxLateness)
			}
		})
		return got
	}
	got := once(t)
	if len(got) != runs {
		t.Fatalf("%d runs, want %d", len(got), runs)
	}
	distinct := map[time.Duration]bool{}
	for k, at := range got {
		base := time.Duration(k) * interval
		if at < base || at >= base+jitter {
			t.Errorf("run %d at %v, want in [%v, %v)", k, at, base, base+jitter)
		}
		distinct[at-base] = true
	}
	if len(distinct) < runs/2 {
		t.Errorf("only %d distinct jitter values in %d runs", len(distinct), runs)
	}
	if again := once(t); !slices.Equal(got, again) {
		t.Errorf("same seed gave different schedules")
	}
}

func TestStaggerSpreadsJobsOverInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 10
		interval := 10 * s1
		l := newRunLog()
		s := New(Config{})
		for i := range n {
			name := fmt.Sprint(i)
			mustAdd(t, s, Job{Name: name, Interval: interval, Spread: true, Run: l.job(name, 0)})
		}
		stop := start(t, s)
		sleepUntil(l.t0, 2*interval-1)
		stop()

		tenths := map[time.Duration]string{}
		for i := range n {
			name := fmt.Sprint(i)
			got := l.get(name)
			if len(got) != 2 {
				t.Fatalf("job %s: starts %v, want 2", name, got)
			}
			first := got[0]
			if first < 0 || first >= interval {
				t.Errorf("job %s: first run at %v, want in [0, %v)", name, first, interval)
			}
			if got[1] != first+interval {
				t.Errorf("job %s: second run at %v, want %v", name, got[1], first+interval)
			}
			tenth := first / (interval / n)
			if other, dup := tenths[tenth]; dup {
				t.Errorf("jobs %s and %s both first run in tenth %d", other, name, tenth)
			}
			tenths[tenth] = name
		}
	})
}

func TestConcurrencyLimitFIFOAndLateness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newRunLog()
		s := New(Config{MaxInFlight: 2})
		var cur, peak atomic.Int32
		var hs []*Handle
		for i := range 5 {
			name := fmt.Sprint(i)
			hs = append(hs, mustAdd(t, s, Job{
				Name:     name,
				Interval: 100 * s1,
				Offset:   time.Duration(i) * s1,
				Run: func(context.Context) {
					n := cur.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					l.mark(name)
					time.Sleep(10 * s1)
					cur.Add(-1)
				},
			}))
		}
		stop := start(t, s)

		sleepUntil(l.t0, 5*s1)
		if st := s.Stats(); st.InFlight != 2 || st.Queued != 3 || st.Delayed != 3 {
			t.Errorf("at 5s: stats = %+v, want 2 in flight, 3 queued, 3 delayed", st)
		}
		sleepUntil(l.t0, 150*s1)
		stop()

		// Slots free at 10s (job 0) and 11s (job 1), then 20s (job 2).
		starts := map[string][]time.Duration{
			"0": secs(0, 100), "1": secs(1, 101), "2": secs(10, 110), "3": secs(11, 111), "4": secs(20, 120),
		}
		wantLate := []time.Duration{0, 0, 8 * s1, 8 * s1, 16 * s1}
		for i, h := range hs {
			name := fmt.Sprint(i)
			if got := l.get(name); !slices.Equal(got, starts[name]) {
				t.Errorf("job %s: starts %v, want %v", name, got, starts[name])
			}
			if js := h.Stats(); js.LastLateness != wantLate[i] || js.MaxLateness != wantLate[i] {
				t.Errorf("job %s: lateness last %v max %v, want %v", name, js.LastLateness, js.MaxLateness, wantLate[i])
			}
		}
		if p := peak.Load(); p != 2 {
			t.Errorf("peak concurrency %d, want 2", p)
		}
		// Each lateness twice (both rounds): 0 (jobs 0, 1), 8 s (2, 3),
		// 16 s (4), in the buckets ≤ 1 ms, (5 s, 10 s] and above 10 s.
		want := Histogram{Sum: 2 * (8 + 8 + 16) * s1}
		want.Counts[0], want.Counts[12], want.Counts[13] = 4, 4, 2
		if got := s.Stats().Lateness; got != want {
			t.Errorf("lateness %+v, want %+v", got, want)
		}
		if st := s.Stats(); st.Delayed != 6 || st.Runs != 10 || st.InFlight != 0 || st.Queued != 0 {
			t.Errorf("stats = %+v", st)
		}
	})
}

func TestOverrunIsSkippedNotStacked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newRunLog()
		s := New(Config{})
		h := mustAdd(t, s, Job{Name: "slow", Interval: 10 * s1, Run: l.job("slow", 25*s1)})
		stop := start(t, s)
		sleepUntil(l.t0, 65*s1)
		stop()

		// Ticks at 10, 20, 40, 50 come while a run is in flight.
		l.want(t, "slow", 0, 30, 60)
		if js := h.Stats(); js.Runs != 3 || js.Skipped != 4 || js.MaxLateness != 0 {
			t.Errorf("job stats = %+v, want 3 runs, 4 skipped, no lateness", js)
		}
		if st := s.Stats(); st.Skipped != 4 {
			t.Errorf("stats = %+v, want 4 skipped", st)
		}
	})
}

func TestRemoveCancelsRunAndStopsFurtherRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newRunLog()
		s := New(Config{})
		var (
			mu     sync.Mutex
			ended  time.Duration
			err    error
			cause  error
			blocks int
		)
		busy := mustAdd(t, s, Job{Name: "busy", Interval: 10 * s1, Run: func(ctx context.Context) {
			l.mark("busy")
			<-ctx.Done()
			mu.Lock()
			defer mu.Unlock()
			ended, err, cause = time.Since(l.t0), ctx.Err(), context.Cause(ctx)
			blocks++
		}})
		idle := mustAdd(t, s, Job{Name: "idle", Interval: 10 * s1, Offset: 2 * s1, Run: l.job("idle", 0)})
		early := mustAdd(t, s, Job{Name: "early", Interval: 10 * s1, Run: l.job("early", 0)})
		early.Remove() // before Run: never runs

		stop := start(t, s)
		sleepUntil(l.t0, 5*s1)
		busy.Remove()
		idle.Remove()
		busy.Remove() // idempotent
		synctest.Wait()
		mu.Lock()
		if blocks != 1 || ended != 5*s1 || !errors.Is(err, context.Canceled) || !errors.Is(cause, ErrRemoved) {
			t.Errorf("busy run: %d returned at %v, err %v, cause %v; want 1 at 5s, Canceled, ErrRemoved", blocks, ended, err, cause)
		}
		mu.Unlock()
		if st := s.Stats(); st.Jobs != 0 || st.InFlight != 0 {
			t.Errorf("stats after Remove = %+v", st)
		}
		sleepUntil(l.t0, 100*s1)
		stop()

		l.want(t, "busy", 0)
		l.want(t, "idle", 2)
		if got := l.get("early"); len(got) != 0 {
			t.Errorf("early starts = %v, want none", got)
		}
		if js := busy.Stats(); js.LastDuration != 5*s1 {
			t.Errorf("busy LastDuration = %v, want 5s", js.LastDuration)
		}
	})
}

func TestTrigger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newRunLog()
		s := New(Config{})
		h := mustAdd(t, s, Job{Name: "t", Interval: 10 * s1, Offset: 5 * s1, Run: l.job("t", s1)})
		pre := mustAdd(t, s, Job{Name: "pre", Interval: 10 * s1, Offset: 5 * s1, Run: l.job("pre", 0)})
		pre.Trigger() // before Run: runs when Run starts
		stop := start(t, s)

		sleepUntil(l.t0, 2*s1)
		h.Trigger()
		h.Trigger() // coalesced
		sleepUntil(l.t0, 5500*time.Millisecond)
		h.Trigger() // periodic run in flight: ignored
		sleepUntil(l.t0, 8*s1)
		h.Trigger()
		sleepUntil(l.t0, 16*s1)
		stop()

		l.want(t, "t", 2, 5, 8, 15)
		l.want(t, "pre", 0, 5, 15)
		if js := h.Stats(); js.Runs != 4 || js.Skipped != 0 || js.MaxLateness != 0 {
			t.Errorf("job stats = %+v", js)
		}
	})
}

// TestAddDuringRun: jobs added while Run runs start at their Offset, spread,
// or on the rhythm of their LastRun.
func TestAddDuringRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newRunLog()
		s := New(Config{})
		stop := start(t, s)
		sleepUntil(l.t0, 7*s1)
		mustAdd(t, s, Job{Name: "late", Interval: 5 * s1, Offset: s1, Run: l.job("late", 0)})
		mustAdd(t, s, Job{Name: "spread", Interval: 5 * s1, Spread: true, Run: l.job("spread", 0)})
		// A job continuing a rhythm from elsewhere: Offset and Spread ignored.
		mustAdd(t, s, Job{Name: "moved", Interval: 4 * s1, Offset: time.Hour, Spread: true, LastRun: l.t0.Add(2 * s1), Run: l.job("moved", 0)})
		once := mustAdd(t, s, Job{Name: "once", Interval: -1, LastRun: l.t0.Add(2 * s1), Run: l.job("once", 0)})
		sleepUntil(l.t0, 15*s1)
		once.Trigger() // its only run
		sleepUntil(l.t0, 20*s1)
		stop()

		l.want(t, "late", 8, 13, 18)
		l.want(t, "moved", 10, 14, 18) // 2s, 6s: before it was added
		l.want(t, "once", 15)
		got := l.get("spread")
		if len(got) == 0 || got[0] < 7*s1 || got[0] >= 12*s1 {
			t.Fatalf("spread starts = %v, want first in [7s, 12s)", got)
		}
		for k := 1; k < len(got); k++ {
			if got[k]-got[k-1] != 5*s1 {
				t.Errorf("spread starts = %v, want 5s apart", got)
			}
		}
	})
}

func TestRunWaitsForInFlightRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newRunLog()
		s := New(Config{MaxInFlight: 1, StopTimeout: -1})
		release := make(chan struct{})
		stubborn := mustAdd(t, s, Job{Name: "stubborn", Interval: 10 * s1, Run: func(context.Context) {
			<-release // ignores ctx
		}})
		queued := mustAdd(t, s, Job{Name: "queued", Interval: 10 * s1, Offset: s1, Run: l.job("queued", 0)})

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		sleepUntil(l.t0, 2*s1)
		if st := s.Stats(); st.InFlight != 1 || st.Queued != 1 {
			t.Errorf("stats = %+v, want 1 in flight, 1 queued", st)
		}
		cancel()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Run returned %v while a run was in flight", err)
		default:
		}
		if _, err := s.Add(Job{Name: "x", Interval: s1, Run: func(context.Context) {}}); !errors.Is(err, ErrStopped) {
			t.Errorf("Add while stopping: err = %v, want ErrStopped", err)
		}
		time.Sleep(time.Minute)
		close(release)
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
		if got := time.Since(l.t0); got != 62*s1 {
			t.Errorf("Run returned at %v, want 62s", got)
		}
		if js := stubborn.Stats(); js.Runs != 1 || js.LastDuration != 62*s1 {
			t.Errorf("stubborn stats = %+v", js)
		}
		if js := queued.Stats(); js.Runs != 0 {
			t.Errorf("queued run started after stop: %+v", js)
		}
		if st := s.Stats(); st.InFlight != 0 || st.Queued != 0 {
			t.Errorf("stats after Run = %+v", st)
		}
		if err := s.Run(context.Background()); !errors.Is(err, ErrRan) {
			t.Errorf("second Run = %v, want ErrRan", err)
		}
		if _, err := s.Add(Job{Name: "x", Interval: s1, Run: func(context.Context) {}}); !errors.Is(err, ErrStopped) {
			t.Errorf("Add after Run: err = %v, want ErrStopped", err)
		}
		stubborn.Remove() // after stop: harmless
		stubborn.Trigger()
	})
	goleak.VerifyNone(t)
}

func TestRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Config{})
		stop := start(t, s)
		synctest.Wait()
		if err := s.Run(context.Background()); !errors.Is(err, ErrRan) {
			t.Errorf("second Run = %v, want ErrRan", err)
		}
		stop()
	})
}

func TestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		s := New(Config{})
		var (
			mu    sync.Mutex
			ended []time.Duration
			errs  []error
		)
		mustAdd(t, s, Job{Name: "t", Interval: 10 * s1, Offset: s1, Timeout: 2 * s1, Run: func(ctx context.Context) {
			<-ctx.Done()
			mu.Lock()
			defer mu.Unlock()
			ended = append(ended, time.Since(t0))
			errs = append(errs, ctx.Err())
		}})
		stop := start(t, s)
		sleepUntil(t0, 15*s1)
		stop()
		mu.Lock()
		defer mu.Unlock()
		if want := secs(3, 13); !slices.Equal(ended, want) {
			t.Errorf("runs ended at %v, want %v", ended, want)
		}
		for _, err := range errs {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("ctx.Err() = %v, want DeadlineExceeded", err)
			}
		}
	})
}

// TestRunAbandonsHungRuns: once its context is done, Run waits
// DefaultStopTimeout for a run that ignores its cancellation, then
// returns, logging the job and counting the run; a run that honours its
// cancellation is waited for and not counted.
func TestRunAbandonsHungRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		s := New(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		release := make(chan struct{})
		defer close(release)
		mustAdd(t, s, Job{Name: "hung", Interval: 10 * s1, Run: func(context.Context) { <-release }})
		mustAdd(t, s, Job{Name: "polite", Interval: 10 * s1, Run: func(ctx context.Context) { <-ctx.Done() }})
		t0 := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		sleepUntil(t0, 12*s1)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
		if got := time.Since(t0); got != 12*s1+DefaultStopTimeout {
			t.Errorf("Run returned at %v, want %v", got, 12*s1+DefaultStopTimeout)
		}
		if st := s.Stats(); st.Abandoned != 1 || st.InFlight != 1 {
			t.Errorf("stats %+v, want 1 abandoned, still in flight", st)
		}
		if !strings.Contains(logs.String(), "abandoned") || !strings.Contains(logs.String(), "jobs=[hung]") {
			t.Errorf("log: %s", logs.String())
		}
	})
}

// syncBuffer is a bytes.Buffer safe for a slog handler and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestPanicIsRecoveredAndCounted: every panic is counted, the 1st and
// every 100th of a job are logged.
func TestPanicIsRecoveredAndCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		l := newRunLog()
		s := New(Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
		h := mustAdd(t, s, Job{Name: "boom", Interval: s1, Run: func(context.Context) {
			l.mark("boom")
			panic("kaboom")
		}})
		stop := start(t, s)
		sleepUntil(l.t0, 250*s1-1)
		stop()
		if got := l.get("boom"); len(got) != 250 || got[249] != 249*s1 {
			t.Errorf("%d starts, the last at %v; want 250, the last at 249s", len(got), got[len(got)-1])
		}
		if js := h.Stats(); js.Runs != 250 || js.Panics != 250 {
			t.Errorf("job stats = %+v", js)
		}
		if st := s.Stats(); st.Panics != 250 || st.InFlight != 0 {
			t.Errorf("stats = %+v", st)
		}
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		var logged []string
		for _, line := range lines {
			if strings.Contains(line, "job panicked") {
				if !strings.Contains(line, "job=boom") || !strings.Contains(line, "panic=kaboom") {
					t.Errorf("log line %q, want the job and panic value", line)
				}
				logged = append(logged, strings.Fields(line[strings.Index(line, "panics="):])[0])
			}
		}
		if got, want := strings.Join(logged, ","), "panics=1,panics=100,panics=200"; got != want {
			t.Errorf("logged %s, want %s", got, want)
		}
	})
}

func TestInvalidJobs(t *testing.T) {
	noop := func(context.Context) {}
	for _, tc := range []struct {
		name string
		job  Job
		want []string // each a *FieldError's text
	}{
		{"nil run", Job{Name: "a", Interval: s1}, []string{`sched: job "a": Run: nil, want a function`}},
		{"zero interval", Job{Name: "b", Run: noop}, []string{`sched: job "b": Interval: zero, want a period (negative: no periodic runs)`}},
		{"jitter = interval", Job{Name: "e", Interval: s1, Jitter: s1, Run: noop}, []string{`sched: job "e": Jitter: 1s, want below Interval 1s`}},
		{"everything at once", Job{Name: "z"}, []string{`job "z": Run:`, `job "z": Interval:`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Config{})
			h, err := s.Add(tc.job)
			if !errors.Is(err, ErrInvalid) || h != nil {
				t.Fatalf("Add = %v, %v; want nil, ErrInvalid", h, err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("error %q, want %d problems", err, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], "sched: ") || !strings.Contains(lines[i], w) {
					t.Errorf("problem %d: %q, want it to contain %q", i, lines[i], w)
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Object != fmt.Sprintf("job %q", tc.job.Name) {
				t.Errorf("error %v: no *FieldError naming the job", err)
			}
			if st := s.Stats(); st.Jobs != 0 {
				t.Errorf("Jobs = %d after a rejected Add", st.Jobs)
			}
		})
	}
	// Negative values mean off: valid, and the job runs without them.
	s := New(Config{})
	if _, err := s.Add(Job{Name: "off", Interval: -1, Jitter: -1, Offset: -1, Timeout: -1, Run: noop}); err != nil {
		t.Errorf("negative fields: %v, want them to mean off", err)
	}
}

func TestMaxInFlightDefaultAndUnbounded(t *testing.T) {
	for _, tc := range []struct {
		limit, want int
	}{{0, DefaultMaxInFlight}, {-1, 2000}, {7, 7}} {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := New(Config{MaxInFlight: tc.limit})
				for i := range 2000 {
					mustAdd(t, s, Job{Name: fmt.Sprint(i), Interval: time.Hour, Run: func(ctx context.Context) { <-ctx.Done() }})
				}
				stop := start(t, s)
				synctest.Wait()
				if st := s.Stats(); st.InFlight != tc.want || st.Queued != 2000-tc.want {
					t.Errorf("MaxInFlight %d: %d in flight, %d queued; want %d in flight", tc.limit, st.InFlight, st.Queued, tc.want)
				}
				stop()
			})
		})
	}
}

// TestSetInterval: the ticks restart from the last run's tick on the new
// period; a tick that falls exactly now runs now.
func TestSetInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newRunLog()
		s := New(Config{})
		h := mustAdd(t, s, Job{Name: "j", Interval: 10 * s1, Run: l.job("j", 0)})
		stop := start(t, s)
		sleepUntil(l.t0, 25*s1)
		// Last tick 20s: 24s is past, 28s is the next.
		if err := h.SetInterval(4 * s1); err != nil {
			t.Fatal(err)
		}
		sleepUntil(l.t0, 37*s1)
		// Last tick 36s: 66s.
		if err := h.SetInterval(30 * s1); err != nil {
			t.Fatal(err)
		}
		sleepUntil(l.t0, 75*s1)
		// Last tick 66s: 69s, 72s, 75s, now.
		if err := h.SetInterval(3 * s1); err != nil {
			t.Fatal(err)
		}
		sleepUntil(l.t0, 80*s1)
		if err := h.SetInterval(-1); err != nil { // no more periodic runs
			t.Fatal(err)
		}
		sleepUntil(l.t0, 90*s1)
		h.Trigger()
		sleepUntil(l.t0, 200*s1)
		stop()
		l.want(t, "j", 0, 10, 20, 28, 32, 36, 66, 75, 78, 90)
		if js := h.Stats(); js.Skipped != 0 || js.MaxLateness != 0 {
			t.Errorf("job stats = %+v: a change of interval is neither a skip nor lateness", js)
		}
	})
}

// TestSetIntervalBeforeFirstRun: the first run keeps its due time, the new
// period counts from it.
func TestSetIntervalBeforeFirstRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newRunLog()
		s := New(Config{})
		h := mustAdd(t, s, Job{Name: "j", Interval: 10 * s1, Offset: 5 * s1, Run: l.job("j", 0)})
		if err := h.SetInterval(time.Hour); err != nil { // before Run
			t.Fatal(err)
		}
		stop := start(t, s)
		sleepUntil(l.t0, s1)
		if err := h.SetInterval(3 * s1); err != nil {
			t.Fatal(err)
		}
		sleepUntil(l.t0, 12*s1)
		stop()
		l.want(t, "j", 5, 8, 11)
	})
}

// TestRunOnce: a negative Interval runs once, then on Trigger; SetInterval
// makes it periodic from its last tick.
func TestRunOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newRunLog()
		s := New(Config{})
		h := mustAdd(t, s, Job{Name: "once", Interval: -1, Offset: 3 * s1, Spread: true, Run: l.job("once", 0)})
		stop := start(t, s)
		sleepUntil(l.t0, 10*s1)
		h.Trigger()
		sleepUntil(l.t0, 12*s1)
		if err := h.SetInterval(5 * s1); err != nil {
			t.Fatal(err)
		}
		sleepUntil(l.t0, 20*s1)
		stop()
		l.want(t, "once", 3, 10, 13, 18)
	})
}

func TestSetIntervalErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Config{})
		h := mustAdd(t, s, Job{Name: "j", Interval: 10 * s1, Jitter: 2 * s1, Run: func(context.Context) {}})
		var fe *FieldError
		if err := h.SetInterval(0); !errors.As(err, &fe) || fe.Field != "Interval" || !errors.Is(err, ErrInvalid) {
			t.Errorf("SetInterval(0) = %v, want a *FieldError for Interval", err)
		}
		if err := h.SetInterval(2 * s1); !errors.As(err, &fe) || fe.Field != "Jitter" {
			t.Errorf("SetInterval(jitter) = %v, want a *FieldError for Jitter", err)
		}
		stop := start(t, s)
		other := mustAdd(t, s, Job{Name: "k", Interval: s1, Run: func(context.Context) {}})
		other.Remove()
		if err := other.SetInterval(s1); !errors.Is(err, ErrRemoved) {
			t.Errorf("SetInterval after Remove = %v, want ErrRemoved", err)
		}
		stop()
		if err := h.SetInterval(3 * s1); !errors.Is(err, ErrStopped) {
			t.Errorf("SetInterval after Run = %v, want ErrStopped", err)
		}
	})
}

func Test10kJobs(t *testing.T) {
	for _, limit := range []int{-1, 100} {
		t.Run(fmt.Sprintf("MaxInFlight=%d", limit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const (
					n        = 10_000
					interval = s1
					buckets  = 10
				)
				t0 := time.Now()
				s := New(Config{MaxInFlight: limit})
				counts := make([]atomic.Int32, n)
				var cur, peak atomic.Int32
				firsts := make([]atomic.Int64, n)
				hs := make([]*Handle, n)
				for i := range n {
					hs[i] = mustAdd(t, s, Job{Name: fmt.Sprint("job-", i), Interval: interval, Spread: true, Run: func(context.Context) {
						c := cur.Add(1)
						for p := peak.Load(); c > p && !peak.CompareAndSwap(p, c); p = peak.Load() {
						}
						if counts[i].Add(1) == 1 {
							firsts[i].Store(int64(time.Since(t0)))
						}
						cur.Add(-1)
					}})
				}
				stop := start(t, s)
				sleepUntil(t0, 3*interval-1)
				if st := s.Stats(); st.Runs != 3*n || st.Skipped != 0 || st.Jobs != n {
					t.Errorf("stats = %+v, want %d runs", st, 3*n)
				}
				stop()

				if p := int(peak.Load()); limit > 0 && p > limit {
					t.Errorf("peak concurrency %d, limit %d", p, limit)
				}
				var perBucket [buckets]int
				for i := range n {
					if c := counts[i].Load(); c != 3 {
						t.Fatalf("job %d ran %d times, want 3", i, c)
					}
					first := time.Duration(firsts[i].Load())
					perBucket[first/(interval/buckets)]++
					if js := hs[i].Stats(); js.MaxLateness != 0 {
						t.Fatalf("job %d: MaxLateness %v, want 0", i, js.MaxLateness)
					}
				}
				for b, c := range perBucket {
					if c < n/buckets-10 || c > n/buckets+10 {
						t.Errorf("bucket %d holds %d first runs, want %d±10 (all: %v)", b, c, n/buckets, perBucket)
					}
				}
			})
		})
	}
}

func TestEndOfTimeDoesNotOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newRunLog()
		s := New(Config{})
		stop := start(t, s)
		sleepUntil(l.t0, time.Hour)
		mustAdd(t, s, Job{Name: "never", Interval: s1, Offset: math.MaxInt64, Run: l.job("never", 0)})
		mustAdd(t, s, Job{Name: "once", Interval: math.MaxInt64, Offset: s1, Run: l.job("once", 0)})
		sleepUntil(l.t0, 100_000*time.Hour)
		stop()
		if got := l.get("never"); len(got) != 0 {
			t.Errorf("never ran at %v", got)
		}
		if got, want := l.get("once"), []time.Duration{time.Hour + s1}; !slices.Equal(got, want) {
			t.Errorf("once ran at %v, want %v", got, want)
		}
	})
}

func TestTwoRunnersAreIndependent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newRunLog()
		a, b := New(Config{}), New(Config{})
		mustAdd(t, a, Job{Name: "a", Interval: 10 * s1, Spread: true, Run: l.job("a", 0)})
		mustAdd(t, b, Job{Name: "b", Interval: 10 * s1, Spread: true, Run: l.job("b", 0)})
		stopA, stopB := start(t, a), start(t, b)
		sleepUntil(l.t0, 10*s1-1)
		stopA()
		stopB()
		// Each runner staggers from its own counter.
		if ga, gb := l.get("a"), l.get("b"); len(ga) != 1 || !slices.Equal(ga, gb) {
			t.Errorf("a %v, b %v: want one identical first run each", ga, gb)
		}
	})
}

// BenchmarkRunner10k measures the scheduler's cost per run with 10,000
// jobs at a 1ms interval, far more than it can start: ns/op is wall time per
// run started, allocs/op the allocations per run.
func BenchmarkRunner10k(b *testing.B) {
	for _, limit := range []int{-1, 64} {
		b.Run(fmt.Sprintf("MaxInFlight=%d", limit), func(b *testing.B) {
			s := New(Config{MaxInFlight: limit, Rand: rand.New(rand.NewPCG(1, 2))})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var n atomic.Int64
			target := int64(b.N)
			run := func(context.Context) {
				if n.Add(1) == target {
					cancel()
				}
			}
			for i := range 10_000 {
				if _, err := s.Add(Job{Name: fmt.Sprint("job-", i), Interval: time.Millisecond, Spread: true, Run: run}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			if err := s.Run(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			st := s.Stats()
			b.ReportMetric(float64(st.Skipped)/float64(st.Runs), "skips/run")
		})
	}
}

func TestNextTick(t *testing.T) {
	for _, tc := range []struct{ last, iv, now, want time.Duration }{
		{20, 4, 25, 28},
		{20, 4, 24, 24}, // a tick now is due now
		{20, 4, 20, 24}, // the last tick itself is not the next
		{20, 10, 21, 30},
		{30, 4, 25, 34},            // a last run in the future
		{math.MinInt64, 10, 5, 12}, // MinInt64 ≡ 2 (mod 10): ticks at 2, 12
		{0, math.MaxInt64, 1, math.MaxInt64},
	} {
		if got := nextTick(tc.last, tc.iv, tc.now); got != tc.want {
			t.Errorf("nextTick(%d, %d, %d) = %d, want %d", tc.last, tc.iv, tc.now, got, tc.want)
		}
	}
}
