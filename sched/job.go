package sched

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Job describes a periodic task. Every duration follows one rule: zero
// means the default, a negative value means off.
type Job struct {
	// Name names the job in logs and errors.
	Name string
	// Interval is the period between run starts. It has no default: zero
	// is invalid. A negative Interval means no periodic runs: the job runs
	// once, at its first due time, and then only when triggered.
	Interval time.Duration
	// Jitter delays each run's start by a fresh random amount in
	// [0, Jitter); zero (the default) or negative means none. With a
	// positive Interval it must be below Interval.
	Jitter time.Duration
	// Offset delays the first run; zero (the default) or negative means
	// none.
	Offset time.Duration
	// Spread adds to Offset a delay in [0, Interval) taken from a
	// golden-ratio sequence, so that jobs added together start evenly
	// spread over their interval. It does nothing with a negative Interval.
	Spread bool
	// LastRun, when not zero, is when the job last ran elsewhere (a check
	// moving from one job to another keeps its rhythm): the job is
	// scheduled as after Handle.SetInterval, its first run due at the first
	// of LastRun+Interval, LastRun+2*Interval, ... that is not in the past,
	// and Offset and Spread are ignored. With a negative Interval it runs
	// only when triggered.
	LastRun time.Time
	// Timeout, when positive, is the deadline of each run's ctx; zero (the
	// default) or negative means none.
	Timeout time.Duration
	// Run is the work; it is required. Its ctx is cancelled when the Runner
	// stops or the job is removed.
	Run func(ctx context.Context)
}

// Validate reports every invalid field of j, each as a *FieldError
// wrapping ErrInvalid (joined with errors.Join), or nil.
func (j *Job) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Object: fmt.Sprintf("job %q", j.Name), Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if j.Run == nil {
		bad("Run", "nil, want a function")
	}
	if j.Interval == 0 {
		bad("Interval", "zero, want a period (negative: no periodic runs)")
	}
	if err := jitterBelow(j.Jitter, j.Interval); err != "" {
		bad("Jitter", "%s", err)
	}
	return errors.Join(errs...)
}

// jitterBelow says why jitter does not fit interval, or "".
func jitterBelow(jitter, interval time.Duration) string {
	if interval > 0 && jitter >= interval {
		return fmt.Sprintf("%v, want below Interval %v", jitter, interval)
	}
	return ""
}
