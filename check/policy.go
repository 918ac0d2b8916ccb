package check

import "time"

// Policy says how a Monitor runs a checker, with keepalived's names and,
// for zero fields, keepalived's defaults. A negative value turns a field
// off, as documented on each.
//
// A round is one attempt plus, while the target is healthy, up to Retries
// more after RetryDelay each; it fails when its last attempt fails. Rounds
// start every Interval. A healthy target becomes unhealthy after Fall failed
// rounds in a row, an unhealthy one healthy after Rise passed rounds in a
// row. A target starts healthy, or unhealthy with Alpha.
//
// A running check's policy can change (Monitor.SetPolicy,
// Handle.SetPolicy) without losing its health; see SetPolicy.
type Policy struct {
	// Interval is the time between the starts of two rounds (delay_loop);
	// zero means 60s, a negative value one round only. A round that
	// overruns makes the ticks it covers be skipped, not stacked.
	Interval time.Duration
	// Timeout bounds each attempt (connect_timeout); zero means 5s, a
	// negative value no bound.
	Timeout time.Duration
	// Retries is how many more attempts a round makes after a failed one
	// (retry); only a healthy target is retried. Zero or negative means
	// none.
	Retries int
	// RetryDelay is the wait before a retry (delay_before_retry); zero
	// means 1s, a negative value no wait.
	RetryDelay time.Duration
	// Rise is how many passed rounds in a row make an unhealthy target
	// healthy; zero or negative means 1.
	Rise int
	// Fall is how many failed rounds in a row make a healthy target
	// unhealthy; zero or negative means 1.
	Fall int
	// Alpha makes the target start unhealthy (alpha), so that it needs Rise
	// passed rounds before it is used.
	Alpha bool
	// LogFailures makes the monitor log, at level Info, each failed
	// attempt while the target is healthy, retries included
	// (log_all_failures); by default only changes of health are logged.
	LogFailures bool
	// Warmup delays the first round by a random time in [0, Warmup)
	// (warmup). Zero means none for a Monitor, and in a Group first rounds
	// spread over Interval; a negative value means none, in a Group too.
	Warmup time.Duration
}

// Policy defaults, as keepalived's.
const (
	DefaultInterval   = 60 * time.Second
	DefaultTimeout    = 5 * time.Second
	DefaultRetryDelay = time.Second
)

// withDefaults returns p with zero fields set to their defaults and every
// way of saying "off" made one (-1, or 0 for Retries and 1 for Rise and
// Fall), so that equal policies compare equal. It is idempotent.
func (p Policy) withDefaults() Policy {
	def := func(d *time.Duration, v time.Duration) {
		switch {
		case *d == 0:
			*d = v
		case *d < 0:
			*d = -1
		}
	}
	def(&p.Interval, DefaultInterval)
	def(&p.Timeout, DefaultTimeout)
	def(&p.RetryDelay, DefaultRetryDelay)
	p.Warmup = max(p.Warmup, -1)
	p.Retries = max(p.Retries, 0)
	p.Rise, p.Fall = max(p.Rise, 1), max(p.Fall, 1)
	return p
}

//go:generate go tool stringer -type=Outcome -linecomment

// Outcome is what a Tracker makes of one attempt.
type Outcome int

// Outcomes of Tracker.Observe.
const (
	// Retry means the attempt failed and the round goes on with another
	// attempt after Policy.RetryDelay.
	Retry Outcome = iota + 1 // retry
	// Steady means the round ended and the health did not change.
	Steady // steady
	// Up means the round ended and the target became healthy.
	Up // up
	// Down means the round ended and the target became unhealthy.
	Down // down
)

// A Tracker applies a Policy's retries, rise and fall to the attempts of
// one check. It is a plain value with no clock and no goroutines; the zero
// Tracker is not usable, make one with NewTracker.
type Tracker struct {
	retries, rise, fall int
	healthy             bool
	streak              int // rounds in a row against the current health
	retry               int // failed attempts so far in this round
}

// NewTracker returns a Tracker for p, healthy unless p.Alpha is set.
func NewTracker(p Policy) Tracker {
	t := Tracker{healthy: !p.Alpha}
	t.SetPolicy(p)
	return t
}

// SetPolicy makes t apply p's Retries, Rise and Fall from the next
// attempt on. The health and the counts so far are kept: a target 2
// failed rounds into a Fall of 3 goes down on the next failed round if the
// new Fall is 3, and on it too if the new Fall is 2 or 1. p.Alpha matters
// only to NewTracker.
func (t *Tracker) SetPolicy(p Policy) {
	t.retries, t.rise, t.fall = max(p.Retries, 0), max(p.Rise, 1), max(p.Fall, 1)
}

// Healthy reports the target's current health.
func (t *Tracker) Healthy() bool { return t.healthy }

// Observe records the result of one attempt, ok when it passed.
func (t *Tracker) Observe(ok bool) Outcome {
	if !ok && t.healthy && t.retry < t.retries {
		t.retry++
		return Retry
	}
	t.retry = 0
	if ok == t.healthy {
		t.streak = 0
		return Steady
	}
	t.streak++
	need := t.rise
	if t.healthy {
		need = t.fall
	}
	if t.streak < need {
		return Steady
	}
	t.healthy, t.streak = ok, 0
	if ok {
		return Up
	}
	return Down
}
