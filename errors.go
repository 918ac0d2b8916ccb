package vigil

import (
	"errors"
	"fmt"

	"github.com/vigil-ha/vigil/host"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrRan is returned by a second call of Run: a Host or a Supervisor
	// runs once.
	ErrRan = host.ErrRan
	// ErrInvalid is wrapped by every *FieldError: a configuration breaks
	// a rule, and retrying will not help.
	ErrInvalid = errors.New("vigil: invalid configuration")
	// ErrStopped is returned by Supervisor.Reload once Run has returned
	// (or before it started: a Supervisor reloads only while it runs).
	ErrStopped = errors.New("vigil: supervisor not running")
)

// A FieldError says which field of which object of a Config is invalid.
// It wraps ErrInvalid.
type FieldError struct {
	// Object is what holds the field: "instance VI_1", "tracker chk",
	// "sync group G1", "virtual server tcp 192.0.2.10:80".
	Object string
	// Field is the Go path of the field from the object:
	// "Track[0].Tracker", "RealServers[2].Checks[0]".
	Field  string
	Reason string
}

// Error formats e as "vigil: instance VI_1: Track[0].Tracker: no tracker
// named chk".
func (e *FieldError) Error() string {
	return "vigil: " + e.Object + ": " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(object, field, format string, args ...any) *FieldError {
	return &FieldError{Object: object, Field: field, Reason: fmt.Sprintf(format, args...)}
}
