package vrrp

import (
	"errors"
	"fmt"
	"net"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrInvalid is wrapped by every *FieldError: a configuration field
	// or argument breaks a rule, and retrying will not help.
	ErrInvalid = errors.New("vrrp: invalid configuration")
	// ErrRan is returned by a second call to Router.Run, whether the first
	// is still running or has returned.
	ErrRan = errors.New("vrrp: already ran")
	// ErrClosed is returned by Socket.Conn after the Socket's Close, and
	// by a SocketConn's reads and writes after its Close or its Socket's.
	// It wraps net.ErrClosed, which Conn implementations return.
	ErrClosed = fmt.Errorf("vrrp: closed: %w", net.ErrClosed)
)

// A FieldError says which field of which object is invalid. It wraps
// ErrInvalid.
type FieldError struct {
	// Object is what holds the field: "instance VI_1" (a Config),
	// "machine" (a MachineConfig), "socket eth0/IPv4".
	Object string
	// Field is the Go name of the field or argument: "Priority", "conn".
	Field  string
	Reason string
}

// Error formats e as "vrrp: instance VI_1: Priority: 0 is reserved for a
// resigning master".
func (e *FieldError) Error() string {
	return "vrrp: " + e.Object + ": " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(object, field, format string, args ...any) *FieldError {
	return &FieldError{Object: object, Field: field, Reason: fmt.Sprintf(format, args...)}
}
