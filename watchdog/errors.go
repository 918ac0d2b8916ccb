package watchdog

import (
	"errors"
	"fmt"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrInvalid is wrapped by every *FieldError: a Config or Policy field
	// is out of range, or the systemd environment cannot be parsed.
	ErrInvalid = errors.New("watchdog: invalid")
	// ErrRan is returned by a second call to Watchdog.Run, whether the
	// first is still running or has returned.
	ErrRan = errors.New("watchdog: already ran")
	// ErrStalled is the cause (see context.Cause) of a guarded loop's ctx
	// when the watchdog found it stalled, and the Err of the EventFailed
	// that follows.
	ErrStalled = errors.New("watchdog: loop stalled")
	// ErrFailing is wrapped by the error Guard returns when its loop failed
	// Policy.Failures times within Policy.Window.
	ErrFailing = errors.New("watchdog: loop keeps failing")
)

// A FieldError says which field of which object is invalid. It wraps
// ErrInvalid.
type FieldError struct {
	Object string // "config", `policy of loop "vrrp VI_1"`
	Field  string // the Go name of the field, or the environment variable
	Reason string
}

// Error formats e as `watchdog: config: WatchdogInterval: 500µs, want at
// least 2ms`.
func (e *FieldError) Error() string {
	return "watchdog: " + e.Object + ": " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// A PanicError is the Err of an EventFailed for a guarded loop that
// panicked: the recovered value and the panicking goroutine's stack
// (bounded by Config.Stacks).
type PanicError struct {
	Value any
	Stack string
}

// Error formats e as "watchdog: panic: <value>".
func (e *PanicError) Error() string { return fmt.Sprintf("watchdog: panic: %v", e.Value) }

// Unwrap returns the recovered value if it is an error, so errors.Is sees
// through a panic(err).
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
