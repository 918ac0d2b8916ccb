package check

import (
	"context"
	"errors"
	"github.com/vigil-ha/vigil/sched"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// event is a status received by a subscriber, at a virtual time since start.
type event struct {
	at time.Duration
	st Status
}

// clock records the virtual times of a checker's attempts since start.
type clock struct {
	mu    sync.Mutex
	start time.Time
	times []time.Duration
}

func newClock() *clock { return &clock{start: time.Now()} }

func (c *clock) tick() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := time.Since(c.start)
	c.times = append(c.times, d)
	return d
}

func (c *clock) get() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.times...)
}

// runMonitor runs m for d of virtual time, recording what a subscriber
// receives; it returns the status before Run first.
func runMonitor(t *testing.T, m *Monitor, d time.Duration) (initial Status, events []event) {
	t.Helper()
	initial = m.Status()
	stop := startMonitor(t, m)
	time.Sleep(d)
	synctest.Wait() // everything due at d has happened
	return initial, stop()
}

// startMonitor runs m and records the statuses a subscriber receives, at
// their virtual times since the call. stop ends Run and returns them.
func startMonitor(t *testing.T, m *Monitor) (stop func() []event) {
	t.Helper()
	sub := m.Subscribe(64)
	start := time.Now()
	recorded := make(chan []event)
	go func() {
		var evs []event
		for st := range sub.C() { // closed when Run returns
			evs = append(evs, event{time.Since(start), st})
		}
		recorded <- evs
	}()
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error)
	go func() { ran <- m.Run(ctx) }()
	return func() []event {
		t.Helper()
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
		return <-recorded
	}
}

// transitions returns "D@2s U@3s" for the health changes in events.
func transitions(events []event) string {
	var s []string
	healthy := true
	for i, e := range events {
		if i == 0 || e.st.Healthy != healthy {
			if e.st.Healthy {
				s = append(s, "U@"+e.at.String())
			} else {
				s = append(s, "D@"+e.at.String())
			}
		}
		healthy = e.st.Healthy
	}
	return strings.Join(s, " ")
}

func durations(ds ...float64) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = time.Duration(d * float64(time.Second))
	}
	return out
}

func equalTimes(t *testing.T, what string, got, want []time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s at %v, want %v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s at %v, want %v", what, got, want)
		}
	}
}

func mustMonitor(t *testing.T, c Checker, p Policy) *Monitor {
	t.Helper()
	m, err := NewMonitor(c, p, MonitorConfig{Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var errDown = errors.New("down")

// sameCounts reports whether a and b have the same Checks, Failures and
// Transitions.
func sameCounts(a, b Stats) bool {
	return a.Checks == b.Checks && a.Failures == b.Failures && a.Transitions == b.Transitions
}

func TestMonitorFall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		m := mustMonitor(t, CheckerFunc(func(ctx context.Context) error { clk.tick(); return errDown }),
			Policy{Interval: time.Second, Fall: 3})
		initial, events := runMonitor(t, m, 5500*time.Millisecond)
		if !initial.Healthy || !initial.Time.IsZero() {
			t.Errorf("initial status %+v, want healthy and unchecked", initial)
		}
		if got := transitions(events); got != "D@2s" {
			t.Errorf("transitions %q, want D@2s (third failure)", got)
		}
		if len(events) != 1 || !errors.Is(events[0].st.Err, errDown) {
			t.Errorf("events %+v", events)
		}
		equalTimes(t, "attempts", clk.get(), durations(0, 1, 2, 3, 4, 5))
		if st := m.Stats(); !sameCounts(st, Stats{Checks: 6, Failures: 6, Transitions: 1}) {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestMonitorRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		c := CheckerFunc(func(ctx context.Context) error {
			if clk.tick() < 3*time.Second {
				return errDown
			}
			return nil
		})
		m := mustMonitor(t, c, Policy{Interval: time.Second, Timeout: 100 * time.Millisecond, Retries: 2, RetryDelay: 300 * time.Millisecond})
		_, events := runMonitor(t, m, 4500*time.Millisecond)
		if got := transitions(events); got != "D@600ms U@3s" {
			t.Errorf("transitions %q, want D@600ms U@3s", got)
		}
		// Retries while healthy only; rounds keep their 1s rhythm.
		equalTimes(t, "attempts", clk.get(), durations(0, 0.3, 0.6, 1, 2, 3, 4))
		if st := m.Stats(); !sameCounts(st, Stats{Checks: 7, Failures: 5, Transitions: 2}) {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestMonitorTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		hang := CheckerFunc(func(ctx context.Context) error { clk.tick(); <-ctx.Done(); return ctx.Err() })
		m := mustMonitor(t, hang, Policy{Interval: time.Second, Timeout: 200 * time.Millisecond, Retries: 1, RetryDelay: 300 * time.Millisecond})
		_, events := runMonitor(t, m, 1500*time.Millisecond)
		if got := transitions(events); got != "D@700ms" {
			t.Errorf("transitions %q, want D@700ms", got)
		}
		st := events[0].st
		if !errors.Is(st.Err, context.DeadlineExceeded) || st.Duration != 200*time.Millisecond {
			t.Errorf("status %+v, want DeadlineExceeded after 200ms", st)
		}
		equalTimes(t, "attempts", clk.get(), durations(0, 0.5, 1))
		// Three timeouts of 200 ms, in the (100 ms, 250 ms] bucket.
		want := sched.Histogram{Sum: 600 * time.Millisecond}
		want.Counts[7] = 3
		if st := m.Stats(); st.Durations != want || len(st.FailuresByClass) != 1 || st.FailuresByClass[ClassTimeout] != 3 {
			t.Errorf("durations %+v, failures by class %v; want %+v and 3 timeouts", st.Durations, st.FailuresByClass, want)
		}
	})
}

func TestMonitorAlpha(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := mustMonitor(t, CheckerFunc(func(context.Context) error { return nil }), Policy{Interval: time.Second, Alpha: true, Rise: 2})
		initial, events := runMonitor(t, m, 3500*time.Millisecond)
		if initial.Healthy {
			t.Error("alpha: starts healthy")
		}
		if got := transitions(events); got != "U@1s" {
			t.Errorf("transitions %q, want U@1s (second success)", got)
		}
	})
}

func TestMonitorRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		c := CheckerFunc(func(context.Context) error {
			if at := clk.tick(); at >= 2*time.Second && at < 5*time.Second {
				return errDown
			}
			return nil
		})
		m := mustMonitor(t, c, Policy{Interval: time.Second, Rise: 2, Fall: 2})
		_, events := runMonitor(t, m, 8500*time.Millisecond)
		if got := transitions(events); got != "D@3s U@6s" {
			t.Errorf("transitions %q, want D@3s U@6s", got)
		}
		if st := m.Stats(); !sameCounts(st, Stats{Checks: 9, Failures: 3, Transitions: 2}) {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestMonitorWarmup(t *testing.T) {
	for seed := range uint64(5) {
		synctest.Test(t, func(t *testing.T) {
			clk := newClock()
			c := CheckerFunc(func(context.Context) error { clk.tick(); return nil })
			const warmup = 10 * time.Second
			m, err := NewMonitor(c, Policy{Interval: time.Minute, Warmup: warmup}, MonitorConfig{Rand: rand.New(rand.NewPCG(seed, 1))})
			if err != nil {
				t.Fatal(err)
			}
			runMonitor(t, m, 70*time.Second)
			first := time.Duration(rand.New(rand.NewPCG(seed, 1)).Int64N(int64(warmup)))
			if first < 0 || first >= warmup {
				t.Fatalf("warmup %v out of [0, %v)", first, warmup)
			}
			equalTimes(t, "attempts", clk.get(), []time.Duration{first, first + time.Minute})
		})
	}
	// Without a Rand, the warmup is still within bounds.
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		m := mustMonitor(t, CheckerFunc(func(context.Context) error { clk.tick(); return nil }), Policy{Interval: time.Hour, Warmup: time.Second})
		runMonitor(t, m, time.Second)
		if got := clk.get(); len(got) != 1 || got[0] >= time.Second {
			t.Fatalf("attempts at %v, want one in [0, 1s)", got)
		}
	})
}

func TestMonitorOverrun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		hang := CheckerFunc(func(ctx context.Context) error { clk.tick(); <-ctx.Done(); return ctx.Err() })
		m := mustMonitor(t, hang, Policy{Interval: time.Second, Timeout: 2500 * time.Millisecond})
		runMonitor(t, m, 7*time.Second)
		// Rounds take 2.5s: the ticks at 1s and 2s are skipped, not stacked.
		equalTimes(t, "attempts", clk.get(), durations(0, 3, 6))
	})
}

// weights is a WeightedChecker that reports a sequence of weights.
type weights struct {
	mu   sync.Mutex
	seq  []int // -1: no weight
	errs []error
}

func (w *weights) Check(ctx context.Context) error {
	_, _, err := w.CheckWeight(ctx)
	return err
}

func (w *weights) CheckWeight(context.Context) (int, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, err := w.seq[0], w.errs[0]
	if len(w.seq) > 1 {
		w.seq, w.errs = w.seq[1:], w.errs[1:]
	}
	return max(v, 0), v >= 0, err
}

func TestMonitorWeight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &weights{seq: []int{5, 5, 7, -1, 7, 9}, errs: []error{nil, nil, nil, nil, nil, errDown}}
		m := mustMonitor(t, w, Policy{Interval: time.Second})
		_, events := runMonitor(t, m, 5500*time.Millisecond)
		// Weight changes are published without a change of health; a run
		// without a weight, or a failed one, keeps the last one.
		var got []string
		for _, e := range events {
			got = append(got, e.at.String()+":"+map[bool]string{true: "up", false: "down"}[e.st.Healthy])
			if !e.st.WeightSet {
				t.Errorf("event %+v without weight", e)
			}
		}
		if g := strings.Join(got, " "); g != "0s:up 2s:up 5s:down" {
			t.Errorf("events %s, want 0s:up 2s:up 5s:down", g)
		}
		if events[0].st.Weight != 5 || events[1].st.Weight != 7 {
			t.Errorf("weights %d, %d; want 5, 7", events[0].st.Weight, events[1].st.Weight)
		}
		if st := m.Status(); st.Healthy || st.Weight != 7 {
			t.Errorf("final status %+v, want down with weight 7", st)
		}
	})
}

// TestMonitorSlowSubscriber: a subscriber that never reads delays nothing
// and finds the latest status when it finally looks.
func TestMonitorSlowSubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		flap := CheckerFunc(func(context.Context) error {
			if clk.tick()/time.Second%2 == 1 {
				return errDown
			}
			return nil
		})
		m := mustMonitor(t, flap, Policy{Interval: time.Second})
		lazy := m.Subscribe(1)
		defer lazy.Close()
		runMonitor(t, m, 9500*time.Millisecond)
		equalTimes(t, "attempts", clk.get(), durations(0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
		if n := m.Stats().Transitions; n != 9 {
			t.Errorf("%d transitions, want 9", n)
		}
		got := <-lazy.C()
		if want := m.Status(); got.Healthy != want.Healthy || !got.Time.Equal(want.Time) || got.Healthy {
			t.Errorf("lazy subscriber got %+v, want the latest %+v", got, want)
		}
		if _, ok := <-lazy.C(); ok {
			t.Errorf("second status queued")
		}
		if n := lazy.Dropped(); n != 8 {
			t.Errorf("lazy subscriber dropped %d statuses, want 8 (9 changes, 1 kept)", n)
		}
	})
}

func TestMonitorPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := mustMonitor(t, CheckerFunc(func(context.Context) error { panic("boom") }), Policy{Interval: time.Second})
		_, events := runMonitor(t, m, 500*time.Millisecond)
		if len(events) != 1 || events[0].st.Healthy || !strings.Contains(events[0].st.Err.Error(), "panicked: boom") {
			t.Fatalf("events %+v, want one failure that says the checker panicked", events)
		}
	})
}

func TestMonitorStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := CheckerFunc(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		m := mustMonitor(t, hang, Policy{Interval: time.Second, Timeout: time.Hour})
		ctx, cancel := context.WithCancel(t.Context())
		ran := make(chan error)
		go func() { ran <- m.Run(ctx) }()
		synctest.Wait()
		if err := m.Run(ctx); !errors.Is(err, ErrRan) {
			t.Errorf("second Run: %v, want ErrRan", err)
		}
		time.Sleep(500 * time.Millisecond)
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
		// The attempt cut short by the stop is not counted against the target.
		if st := m.Stats(); st.Checks != 0 || !m.Status().Healthy {
			t.Errorf("stats %+v, status %+v", st, m.Status())
		}
		if err := m.Run(t.Context()); !errors.Is(err, ErrRan) {
			t.Errorf("Run after stop: %v, want ErrRan (a Monitor runs once)", err)
		}
		if _, ok := <-m.Subscribe(1).C(); ok {
			t.Error("Subscribe after Run: channel open")
		}
	})
}

func TestNewMonitorErrors(t *testing.T) {
	var fe *FieldError
	if _, err := NewMonitor(nil, Policy{}, MonitorConfig{}); !errors.Is(err, ErrInvalid) || !errors.As(err, &fe) || fe.Field != "Checker" {
		t.Errorf("nil checker: %v", err)
	}
	if _, err := NewMonitor(&TCP{}, Policy{}, MonitorConfig{}); !errors.As(err, &fe) || err.Error() != "check: tcp invalid AddrPort: Addr: no target address" {
		t.Errorf("invalid checker: %v", err)
	}
	m, err := NewMonitor(&TCP{Addr: netip.MustParseAddrPort("192.0.2.1:80")}, Policy{Fall: -1}, MonitorConfig{})
	if err != nil || m.name != "tcp 192.0.2.1:80" || m.Policy().Interval != DefaultInterval || m.Policy().Fall != 1 {
		t.Errorf("NewMonitor: %v, name %q, policy %+v", err, m.name, m.Policy())
	}
}

// at sleeps until start+d of virtual time and lets everything due settle.
func at(start time.Time, d time.Duration) {
	time.Sleep(time.Until(start.Add(d)))
	synctest.Wait()
}

// TestMonitorSetPolicy changes a running monitor's policy: the health and
// the rounds counted towards Fall and Rise carry over, and a new Interval
// counts from the last round.
func TestMonitorSetPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		c := CheckerFunc(func(context.Context) error {
			if clk.tick() < 28*time.Second {
				return errDown
			}
			return nil
		})
		m := mustMonitor(t, c, Policy{Interval: 10 * time.Second, Fall: 3, Rise: 3})
		stop := startMonitor(t, m)
		at(clk.start, 15*time.Second)
		// Two failed rounds (0s, 10s) of three: still healthy.
		if st := m.Status(); !st.Healthy {
			t.Fatalf("at 15s: %+v, want healthy after 2 of 3 failures", st)
		}
		m.SetPolicy(Policy{Interval: 4 * time.Second, Fall: 3, Rise: 3})
		// Last round 10s: 14s is past, 18s is next, and is the third failure.
		at(clk.start, 27*time.Second)
		if st := m.Status(); st.Healthy {
			t.Fatalf("at 27s: %+v, want down since 18s", st)
		}
		m.SetPolicy(Policy{Interval: 4 * time.Second, Fall: 3, Rise: 3, Alpha: true, Warmup: time.Hour})
		if st := m.Status(); st.Healthy || !st.Time.Equal(clk.start.Add(26*time.Second)) {
			t.Fatalf("after SetPolicy: %+v, want the status unchanged", st)
		}
		at(clk.start, 31*time.Second)
		// One passed round (30s) of three; two are enough from now on.
		m.SetPolicy(Policy{Interval: 4 * time.Second, Fall: 3, Rise: 2})
		at(clk.start, 35*time.Second)
		events := stop()
		if got, want := transitions(events), "D@18s U@34s"; got != want {
			t.Errorf("transitions %q, want %q", got, want)
		}
		equalTimes(t, "attempts", clk.get(), durations(0, 10, 18, 22, 26, 30, 34))
		if p := m.Policy(); p.Interval != 4*time.Second || p.Rise != 2 || p.Timeout != DefaultTimeout {
			t.Errorf("Policy() = %+v", p)
		}
		if st := m.Stats(); !sameCounts(st, Stats{Checks: 7, Failures: 5, Transitions: 2}) {
			t.Errorf("stats %+v", st)
		}
	})
}

// TestMonitorSetPolicyOneRound: a negative Interval stops the rounds; a
// positive one resumes them from the last.
func TestMonitorSetPolicyOneRound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		m := mustMonitor(t, CheckerFunc(func(context.Context) error { clk.tick(); return nil }), Policy{Interval: -1, Warmup: -1})
		stop := startMonitor(t, m)
		at(clk.start, 5*time.Second)
		m.SetPolicy(Policy{Interval: 3 * time.Second})
		at(clk.start, 10*time.Second)
		m.SetPolicy(Policy{Interval: -5})
		at(clk.start, 20*time.Second)
		stop()
		equalTimes(t, "attempts", clk.get(), durations(0, 6, 9))
	})
}

// TestMonitorLogFailures checks that LogFailures logs each failed attempt
// of a healthy target, retries included, and nothing else but the change
// of health; without it, only the change.
func TestMonitorLogFailures(t *testing.T) {
	for _, on := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			var mu sync.Mutex
			var logged []string
			log := slog.New(recordHandler(func(r slog.Record) {
				mu.Lock()
				defer mu.Unlock()
				if strings.HasPrefix(r.Message, "check: ") { // not the scheduler's
					logged = append(logged, r.Message)
				}
			}))
			fails := 0
			c := CheckerFunc(func(context.Context) error {
				fails++
				return errDown
			})
			m, err := NewMonitor(c, Policy{Interval: time.Second, Retries: 1, RetryDelay: time.Second, LogFailures: on}, MonitorConfig{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			runMonitor(t, m, 2500*time.Millisecond) // fails at 0, at 1s (the retry: down), then down
			mu.Lock()
			defer mu.Unlock()
			want := "check: health changed"
			if on {
				want = "check: attempt failed,check: attempt failed,check: health changed"
			}
			if got := strings.Join(logged, ","); fails < 3 || got != want {
				t.Errorf("LogFailures %t: %d attempts, logged %q, want %q", on, fails, got, want)
			}
		})
	}
}

// recordHandler is a slog.Handler that calls f with each record.
type recordHandler func(slog.Record)

func (h recordHandler) Enabled(context.Context, slog.Level) bool      { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error { h(r); return nil }
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h recordHandler) WithGroup(string) slog.Handler                 { return h }
