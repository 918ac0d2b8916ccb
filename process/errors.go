package process

import "errors"

// Sentinel errors, returned wrapped with what failed and where. Test with
// errors.Is.
var (
	// ErrInvalid is wrapped by every *FieldError: a Config or Spec breaks
	// a rule, and retrying will not help.
	ErrInvalid = errors.New("process: invalid")
	// ErrRan is returned by a second call to Tracker.Run, whether the
	// first is still running or has returned.
	ErrRan = errors.New("process: already ran")
	// ErrPermission means the kernel refused the process connector, or
	// did not answer a caller without CAP_NET_ADMIN: kernels before Linux
	// 6.6 let only a caller with CAP_NET_ADMIN in the initial user
	// namespace listen, and a later one (6.18) was seen not to answer a
	// caller without it while no other listener existed.
	ErrPermission = errors.New("process: no permission for the process connector (needs CAP_NET_ADMIN before Linux 6.6)")
	// ErrUnsupported means the process connector cannot be used here: the
	// kernel lacks CONFIG_CONNECTOR or CONFIG_PROC_EVENTS, the caller is
	// not in the initial network namespace, or it is not in the initial
	// user and PID namespaces (the kernel then ignores the request to
	// listen and never answers), or the OS is not Linux.
	ErrUnsupported = errors.New("process: process connector unavailable")
)

// A FieldError says which field of which object is invalid. It wraps
// ErrInvalid.
type FieldError struct {
	// Object is what holds the field: "spec nginx" (a Spec, by its Name),
	// "spec #2" (a Spec without a Name, by its index) or "config".
	Object string
	// Field is the Go name of the field: "Process", "QuorumMax".
	Field  string
	Reason string
}

// Error formats e as "process: spec nginx: Quorum: 3 is above QuorumMax 2".
func (e *FieldError) Error() string {
	return "process: " + e.Object + ": " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }
