package check

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/internal/counter"
	"github.com/vigil-ha/vigil/internal/feed"
	"github.com/vigil-ha/vigil/internal/hist"
	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/internal/sleep"
	"github.com/vigil-ha/vigil/sched"
)

// Status is what a Monitor knows about its target.
type Status struct {
	// Healthy is the target's health after rise and fall.
	Healthy bool
	// Weight is the last weight a WeightedChecker reported with a passed
	// attempt; it is meaningful only when WeightSet is true.
	Weight    int
	WeightSet bool
	// Err is the last attempt's error; nil when it passed or before the
	// first attempt.
	Err error
	// Duration is how long the last attempt took.
	Duration time.Duration
	// Time is when the last attempt ended; zero before the first.
	Time time.Time
}

// changed reports whether a subscriber hears of st after old: a change of
// health or weight.
func (st Status) changed(old Status) bool {
	return st.Healthy != old.Healthy || st.Weight != old.Weight || st.WeightSet != old.WeightSet
}

// Stats are a monitor's counters.
type Stats struct {
	Checks      uint64 // attempts made, retries included
	Failures    uint64 // attempts that failed
	Transitions uint64 // changes of health
	// FailuresByClass counts the failed attempts by Classify's class; a
	// class that never happened is absent (nil when none).
	FailuresByClass map[FailureClass]uint64
	// Durations is the histogram of the attempts' durations, failed ones
	// included.
	Durations sched.Histogram
}

// counters are the live Stats.
type counters struct {
	Checks, Failures, Transitions atomic.Uint64
	classes                       [NumFailureClasses]atomic.Uint64
	durations                     hist.Hist
}

// stats is the snapshot of c.
func (c *counters) stats() Stats {
	s := counter.Snapshot[Stats](c)
	for i := range c.classes {
		if n := c.classes[i].Load(); n > 0 {
			if s.FailuresByClass == nil {
				s.FailuresByClass = map[FailureClass]uint64{}
			}
			s.FailuresByClass[FailureClass(i)] = n
		}
	}
	s.Durations = c.durations.Snapshot()
	return s
}

// MonitorConfig holds a Monitor's optional settings.
type MonitorConfig struct {
	// Name names the monitor in logs; empty means the checker's String, if
	// it has one.
	Name string
	// Logger receives health changes (and, with Policy.LogFailures, failed
	// attempts) at level Info; nil discards them.
	Logger *slog.Logger
	// Rand draws the warmup delay; nil means a randomly seeded source.
	Rand *rand.Rand
}

// A Monitor runs one checker under a Policy and publishes its target's
// health to subscribers. Create it with NewMonitor and run it with Run.
// Its methods are safe for concurrent use.
type Monitor struct {
	c        Checker
	name     string
	log      *slog.Logger
	rnd      *rand.Rand      // draws the warmup; nil: the global source
	publish  func(st Status) // where changes go: feed, or a Group's stream
	ran      atomic.Bool
	counters counters
	feed     feed.Feed[Status]

	mu        sync.Mutex
	p         Policy
	tracker   Tracker
	status    Status
	job       *sched.Handle // runs the rounds; nil until Run (or a Group) adds it
	lastStart time.Time     // when the last round started; zero before the first
}

// NewMonitor returns a Monitor that runs c under p. It returns a
// *FieldError (wrapping ErrInvalid) if c is nil or, for a checker with a
// Validate method (all of this package's), misconfigured.
func NewMonitor(c Checker, p Policy, cfg MonitorConfig) (*Monitor, error) {
	if c == nil {
		return nil, &FieldError{Object: "monitor", Field: "Checker", Reason: "nil"}
	}
	if err := validate(c); err != nil {
		return nil, err
	}
	m := newMonitor(c, p.withDefaults(), cfg)
	m.publish = m.feed.Publish
	return m, nil
}

// newMonitor returns a Monitor of a valid checker and a policy with its
// defaults; the caller sets publish.
func newMonitor(c Checker, p Policy, cfg MonitorConfig) *Monitor {
	m := &Monitor{c: c, p: p, name: cfg.Name, log: logx.OrDiscard(cfg.Logger), rnd: cfg.Rand, tracker: NewTracker(p)}
	if m.name == "" {
		m.name = checkerName(c)
	}
	m.status.Healthy = m.tracker.Healthy()
	return m
}

func checkerName(c Checker) string {
	if s, ok := c.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", c)
}

// Policy returns the monitor's policy, defaults filled in.
func (m *Monitor) Policy() Policy {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.p
}

// SetPolicy makes the monitor follow p from now on, before, during or
// after Run, without resetting its health: the target stays healthy or
// unhealthy, and the passed or failed rounds counted so far towards Rise
// or Fall count towards the new Rise or Fall. Retries, Rise and Fall apply
// from the next attempt; Timeout and RetryDelay from the next round. A new
// Interval counts from the start of the last round: the next round is
// due at the first of last+Interval, last+2*Interval, ... that is not in
// the past (before the first round, the first round keeps its time).
// Alpha and Warmup matter only at the start.
func (m *Monitor) SetPolicy(p Policy) {
	p = p.withDefaults()
	m.mu.Lock()
	defer m.mu.Unlock()
	_ = m.setPolicyLocked(p) // fails only once the job has stopped: nothing to change then
}

// setPolicyLocked is SetPolicy with p's defaults filled in and m.mu held.
// It returns the job's error: sched.ErrStopped or sched.ErrRemoved.
func (m *Monitor) setPolicyLocked(p Policy) error {
	old := m.p
	m.p = p
	m.tracker.SetPolicy(p)
	if m.job != nil && p.Interval != old.Interval {
		return m.job.SetInterval(p.Interval)
	}
	return nil
}

// Status returns the latest status.
func (m *Monitor) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// Stats returns the monitor's counters.
func (m *Monitor) Stats() Stats { return m.counters.stats() }

// Subscribe returns a subscription to the monitor's changes of health or
// weight. Its channel carries each change after Subscribe, not the status
// at that time: read Status after Subscribe for that. It holds n changes
// (at least 1; see Subscription): Subscribe(1) always holds the latest.
// The channel is closed when Run returns; after that Subscribe returns a
// closed subscription.
func (m *Monitor) Subscribe(n int) *Subscription[Status] {
	return &Subscription[Status]{m.feed.Subscribe(n)}
}

// Run runs the checker until ctx is done: a first round after the warmup,
// then one every Interval. It returns nil once ctx is done and the last
// attempt has returned, and closes the channels of the subscriptions.
// A Monitor runs once: a second call to Run returns ErrRan, whether the
// first is still running or has returned.
func (m *Monitor) Run(ctx context.Context) error {
	if !m.ran.CompareAndSwap(false, true) {
		return ErrRan
	}
	defer m.feed.Close()
	r := sched.New(sched.Config{MaxInFlight: -1, Logger: m.log})
	m.mu.Lock()
	var warmup time.Duration
	if m.p.Warmup > 0 {
		if m.rnd != nil {
			warmup = time.Duration(m.rnd.Int64N(int64(m.p.Warmup)))
		} else {
			warmup = time.Duration(rand.Int64N(int64(m.p.Warmup)))
		}
	}
	job, err := r.Add(sched.Job{Name: m.name, Interval: m.p.Interval, Offset: warmup, Run: m.round})
	m.job = job
	m.mu.Unlock()
	if err != nil {
		return fmt.Errorf("check: monitor %s: %w", m.name, err)
	}
	return r.Run(ctx)
}

// round runs one round: an attempt, then retries while the tracker asks.
// It is the job that a Runner (the Monitor's own, or a Group's) runs.
func (m *Monitor) round(ctx context.Context) {
	m.mu.Lock()
	p := m.p
	m.lastStart = time.Now()
	m.mu.Unlock()
	for {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if p.Timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, p.Timeout)
		}
		start := time.Now()
		w, wok, err := m.attempt(actx)
		end := time.Now()
		cancel()
		if ctx.Err() != nil {
			return // stopping: the attempt was cut short by us, not the target
		}
		if m.record(w, wok, err, end.Sub(start), end) != Retry {
			return
		}
		if !sleep.For(ctx, p.RetryDelay) {
			return
		}
	}
}

// attempt runs the checker once, turning a panic into an error.
func (m *Monitor) attempt(ctx context.Context) (w int, wok bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			w, wok, err = 0, false, fmt.Errorf("check: %s: checker panicked: %v", m.name, v)
		}
	}()
	if wc, ok := m.c.(WeightedChecker); ok {
		return wc.CheckWeight(ctx)
	}
	return 0, false, m.c.Check(ctx)
}

// record applies one attempt's result and publishes the status if the
// health or the weight changed. Rounds of one monitor never overlap, so
// its statuses are published in order.
func (m *Monitor) record(w int, wok bool, err error, d time.Duration, at time.Time) Outcome {
	m.counters.Checks.Add(1)
	m.counters.durations.Observe(d)
	if err != nil {
		m.counters.Failures.Add(1)
		m.counters.classes[Classify(err)].Add(1)
	}
	m.mu.Lock()
	logFailure := err != nil && m.p.LogFailures && m.tracker.Healthy()
	out := m.tracker.Observe(err == nil)
	old := m.status
	st := Status{Healthy: m.tracker.Healthy(), Weight: old.Weight, WeightSet: old.WeightSet, Err: err, Duration: d, Time: at}
	if wok && err == nil {
		st.Weight, st.WeightSet = w, true
	}
	m.status = st
	m.mu.Unlock()

	if logFailure {
		m.log.Info("check: attempt failed", "check", m.name, "err", err, "duration", d, "outcome", out)
	}
	if out == Up || out == Down {
		m.counters.Transitions.Add(1)
		m.log.Info("check: health changed", "check", m.name, "healthy", st.Healthy, "err", err, "duration", d)
	}
	if st.changed(old) {
		m.publish(st)
	}
	return out
}
