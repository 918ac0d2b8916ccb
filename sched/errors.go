package sched

import "errors"

// Sentinel errors, returned wrapped with the job they concern. Test with
// errors.Is.
var (
	// ErrInvalid is wrapped by every *FieldError: a Job field is out of
	// range.
	ErrInvalid = errors.New("sched: invalid")
	// ErrRan is returned by a second call to Runner.Run, whether the first
	// is still running or has returned.
	ErrRan = errors.New("sched: already ran")
	// ErrStopped is returned by Add and Handle.SetInterval once Run has
	// stopped.
	ErrStopped = errors.New("sched: runner stopped")
	// ErrRemoved is the cause (see context.Cause) of a job's ctx when the
	// job was removed, and is returned by Handle.SetInterval after Remove.
	ErrRemoved = errors.New("sched: job removed")
)

// A FieldError says which field of which job is invalid. It wraps
// ErrInvalid.
type FieldError struct {
	Object string // the job: `job "web-1"`
	Field  string // the Go name of the field: "Interval"
	Reason string
}

// Error formats e as `sched: job "web-1": Interval: zero, want a period`.
func (e *FieldError) Error() string {
	return "sched: " + e.Object + ": " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }
