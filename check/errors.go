package check

import "errors"

// Sentinel errors that callers may test for with errors.Is. Checkers wrap
// them with what failed and where.
var (
	// ErrUnexpected means the target answered, but not as expected:
	// a status code, body, banner, reply or exit status that does not match.
	ErrUnexpected = errors.New("check: unexpected response")
	// ErrNoReply means the target did not answer in time.
	ErrNoReply = errors.New("check: no reply")
	// ErrInvalid is wrapped by every *FieldError: a checker, policy or
	// argument is misconfigured, and retrying will not help.
	ErrInvalid = errors.New("check: invalid")
	// ErrRan is returned by a second call to Monitor.Run or Group.Run,
	// whether the first is still running or has returned.
	ErrRan = errors.New("check: already ran")
	// ErrStopped is returned by Group.Add and Handle.SetPolicy once the
	// Group's Run has returned.
	ErrStopped = errors.New("check: group stopped")
	// ErrRemoved is returned by Handle.SetPolicy after Handle.Remove.
	ErrRemoved = errors.New("check: removed from the group")
)

// A FieldError says which field of which object is invalid. It wraps
// ErrInvalid.
type FieldError struct {
	// Object is what holds the field: a checker ("tcp 192.0.2.1:80", as
	// its String method says), "monitor" or "group".
	Object string
	// Field is the Go name of the field or argument: "Addr", "Checker".
	Field  string
	Reason string
}

// Error formats e as "check: tcp invalid AddrPort: Addr: no target
// address".
func (e *FieldError) Error() string {
	return "check: " + e.Object + ": " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// required returns a *FieldError for field of c if its value v is empty.
func required(c interface{ String() string }, field, v string) error {
	if v == "" {
		return invalid(c, field, "empty")
	}
	return nil
}

// invalid returns a *FieldError for field of checker c.
func invalid(c interface{ String() string }, field, reason string) *FieldError {
	return &FieldError{Object: c.String(), Field: field, Reason: reason}
}
