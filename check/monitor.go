package check

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
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

// Stats are a monitor's counters.
type Stats struct {
	Checks      uint64 // attempts made, retries included
	Failures    uint64 // attempts that failed
	Transitions uint64 // changes of health
}

// MonitorConfig holds a Monitor's optional settings.
type MonitorConfig struct {
	// Name names the monitor in logs; empty means the checker's String, if
	// it has one.
	Name string
	// Logger receives health changes at level Info; nil discards them.
	Logger *slog.Logger
	// Rand draws the warmup delay; nil means a randomly seeded source.
	Rand *rand.Rand
}

// ErrRunning is returned by a second call to Monitor.Run.
var ErrRunning = errors.New("check: monitor already running")

// A Monitor runs one checker under a Policy and publishes its target's
// health to subscribers. Create it with NewMonitor and run it with Run, or
// let a Group run it.
type Monitor struct {
	c      Checker
	p      Policy
	name   string
	log    *slog.Logger
	rnd    *rand.Rand
	runs   atomic.Bool
	checks atomic.Uint64
	fails  atomic.Uint64
	trans  atomic.Uint64

	mu      sync.Mutex
	tracker Tracker
	status  Status
	subs    []*Subscription // copy on write
}

// NewMonitor returns a Monitor that runs c under p. It fails if p has
// negative fields.
func NewMonitor(c Checker, p Policy, cfg MonitorConfig) (*Monitor, error) {
	if c == nil {
		return nil, fmt.Errorf("check: monitor %q: nil checker: %w", cfg.Name, ErrConfig)
	}
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Monitor{c: c, p: p, name: cfg.Name, log: cfg.Logger, rnd: cfg.Rand, tracker: NewTracker(p)}
	if m.name == "" {
		m.name = checkerName(c)
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.status.Healthy = m.tracker.Healthy()
	return m, nil
}

func checkerName(c Checker) string {
	if s, ok := c.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", c)
}

// Policy returns the monitor's policy, defaults filled in.
func (m *Monitor) Policy() Policy { return m.p }

// Status returns the latest status.
func (m *Monitor) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// Stats returns the monitor's counters.
func (m *Monitor) Stats() Stats {
	return Stats{Checks: m.checks.Load(), Failures: m.fails.Load(), Transitions: m.trans.Load()}
}

// Subscribe returns a subscription to the monitor's status changes.
func (m *Monitor) Subscribe() *Subscription { return m.subscribe(nil) }

func (m *Monitor) subscribe(onRemove func()) *Subscription {
	s := &Subscription{m: m, c: make(chan Status, 1)}
	s.remove = func() {
		m.mu.Lock()
		subs := make([]*Subscription, 0, len(m.subs))
		for _, x := range m.subs {
			if x != s {
				subs = append(subs, x)
			}
		}
		m.subs = subs
		m.mu.Unlock()
		if onRemove != nil {
			onRemove()
		}
	}
	m.mu.Lock()
	// The channel is new and empty: this send cannot block, and the current
	// status is in it before any later one can be published.
	s.c <- m.status
	m.subs = append(m.subs[:len(m.subs):len(m.subs)], s)
	m.mu.Unlock()
	return s
}

// Run runs the checker until ctx is done: a first round after the warmup,
// then one every Interval. It returns nil once ctx is done and the last
// attempt has returned, or ErrRunning if the monitor is already running.
func (m *Monitor) Run(ctx context.Context) error {
	if !m.runs.CompareAndSwap(false, true) {
		return fmt.Errorf("check: monitor %s: %w", m.name, ErrRunning)
	}
	defer m.runs.Store(false)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	sleep := func(d time.Duration) bool {
		timer.Reset(d)
		select {
		case <-timer.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if m.p.Warmup > 0 {
		var d time.Duration
		if m.rnd != nil {
			d = time.Duration(m.rnd.Int64N(int64(m.p.Warmup)))
		} else {
			d = time.Duration(rand.Int64N(int64(m.p.Warmup)))
		}
		if !sleep(d) {
			return nil
		}
	}
	for ctx.Err() == nil {
		start := time.Now()
		m.round(ctx)
		next, now := start.Add(m.p.Interval), time.Now()
		if next.Before(now) { // overran: skip the ticks it covered
			next = next.Add((now.Sub(next)/m.p.Interval + 1) * m.p.Interval)
		}
		if !sleep(next.Sub(now)) {
			return nil
		}
	}
	return nil
}

// round runs one round: an attempt, then retries while the tracker asks.
func (m *Monitor) round(ctx context.Context) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		actx, cancel := context.WithTimeout(ctx, m.p.Timeout)
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
		if timer == nil {
			timer = time.NewTimer(m.p.RetryDelay)
		} else {
			timer.Reset(m.p.RetryDelay)
		}
		select {
		case <-timer.C:
		case <-ctx.Done():
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
// health or the weight changed.
func (m *Monitor) record(w int, wok bool, err error, d time.Duration, at time.Time) Outcome {
	m.checks.Add(1)
	if err != nil {
		m.fails.Add(1)
	}
	m.mu.Lock()
	out := m.tracker.Observe(err == nil)
	old := m.status
	st := Status{Healthy: m.tracker.Healthy(), Weight: old.Weight, WeightSet: old.WeightSet, Err: err, Duration: d, Time: at}
	if wok && err == nil {
		st.Weight, st.WeightSet = w, true
	}
	m.status = st
	subs := m.subs
	m.mu.Unlock()

	if out == Up || out == Down {
		m.trans.Add(1)
		m.log.Info("check: health changed", "check", m.name, "healthy", st.Healthy, "error", err, "duration", d)
	} else if st.Weight == old.Weight && st.WeightSet == old.WeightSet {
		return out
	}
	for _, s := range subs {
		s.offer(st)
	}
	return out
}

// A Subscription receives a monitor's status changes: the current status
// when it is made, then each change of health or weight. Its channel holds
// only the latest status, so a slow reader misses intermediate ones and
// never delays the monitor. The channel is never closed.
type Subscription struct {
	m      *Monitor
	c      chan Status
	once   sync.Once
	remove func()
}

// C returns the channel of statuses.
func (s *Subscription) C() <-chan Status { return s.c }

// Status returns the monitor's latest status, changed or not.
func (s *Subscription) Status() Status { return s.m.Status() }

// Stats returns the monitor's counters.
func (s *Subscription) Stats() Stats { return s.m.Stats() }

// Remove ends the subscription; in a Group, removing the last subscription
// to a check stops it. Remove is idempotent.
func (s *Subscription) Remove() { s.once.Do(s.remove) }

// offer puts st in the channel, replacing a status not yet received.
// Statuses of one monitor are offered by one goroutine at a time.
func (s *Subscription) offer(st Status) {
	for range 2 {
		select {
		case s.c <- st:
			return
		default:
		}
		select {
		case <-s.c:
		default:
		}
	}
}
