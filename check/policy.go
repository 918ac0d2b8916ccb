package check

import (
	"fmt"
	"time"
)

// Policy says how a Monitor runs a checker, with keepalived's names and,
// for zero fields, keepalived's defaults.
//
// A round is one attempt plus, while the target is healthy, up to Retries
// more after RetryDelay each; it fails when its last attempt fails. Rounds
// start every Interval. A healthy target becomes unhealthy after Fall failed
// rounds in a row, an unhealthy one healthy after Rise passed rounds in a
// row. A target starts healthy, or unhealthy with Alpha.
type Policy struct {
	// Interval is the time between the starts of two rounds (delay_loop);
	// zero means 60s. A round that overruns makes the ticks it covers be
	// skipped, not stacked.
	Interval time.Duration
	// Timeout bounds each attempt (connect_timeout); zero means 5s.
	Timeout time.Duration
	// Retries is how many more attempts a round makes after a failed one
	// (retry); only a healthy target is retried.
	Retries int
	// RetryDelay is the wait before a retry (delay_before_retry); zero means 1s.
	RetryDelay time.Duration
	// Rise is how many passed rounds in a row make an unhealthy target
	// healthy; zero means 1.
	Rise int
	// Fall is how many failed rounds in a row make a healthy target
	// unhealthy; zero means 1.
	Fall int
	// Alpha makes the target start unhealthy (alpha), so that it needs Rise
	// passed rounds before it is used.
	Alpha bool
	// Warmup delays the first round by a random time in [0, Warmup)
	// (warmup). In a Group, a zero Warmup spreads first rounds over Interval.
	Warmup time.Duration
}

// Policy defaults, as keepalived's.
const (
	DefaultInterval   = 60 * time.Second
	DefaultTimeout    = 5 * time.Second
	DefaultRetryDelay = time.Second
)

// withDefaults returns p with zero fields set to their defaults, or an error
// naming the first field out of range.
func (p Policy) withDefaults() (Policy, error) {
	switch {
	case p.Interval < 0:
		return p, fmt.Errorf("check: policy: negative interval %v: %w", p.Interval, ErrConfig)
	case p.Timeout < 0:
		return p, fmt.Errorf("check: policy: negative timeout %v: %w", p.Timeout, ErrConfig)
	case p.Retries < 0:
		return p, fmt.Errorf("check: policy: negative retries %d: %w", p.Retries, ErrConfig)
	case p.RetryDelay < 0:
		return p, fmt.Errorf("check: policy: negative retry delay %v: %w", p.RetryDelay, ErrConfig)
	case p.Rise < 0 || p.Fall < 0:
		return p, fmt.Errorf("check: policy: negative rise %d or fall %d: %w", p.Rise, p.Fall, ErrConfig)
	case p.Warmup < 0:
		return p, fmt.Errorf("check: policy: negative warmup %v: %w", p.Warmup, ErrConfig)
	}
	if p.Interval == 0 {
		p.Interval = DefaultInterval
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultTimeout
	}
	if p.RetryDelay == 0 {
		p.RetryDelay = DefaultRetryDelay
	}
	p.Rise, p.Fall = max(p.Rise, 1), max(p.Fall, 1)
	return p, nil
}

// Outcome is what a Tracker makes of one attempt.
type Outcome int

// Outcomes of Tracker.Observe.
const (
	// Retry means the attempt failed and the round goes on with another
	// attempt after Policy.RetryDelay.
	Retry Outcome = iota + 1
	// Steady means the round ended and the health did not change.
	Steady
	// Up means the round ended and the target became healthy.
	Up
	// Down means the round ended and the target became unhealthy.
	Down
)

// String returns the outcome's name.
func (o Outcome) String() string {
	switch o {
	case Retry:
		return "retry"
	case Steady:
		return "steady"
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

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
// Zero Rise and Fall mean 1.
func NewTracker(p Policy) Tracker {
	return Tracker{retries: max(p.Retries, 0), rise: max(p.Rise, 1), fall: max(p.Fall, 1), healthy: !p.Alpha}
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
