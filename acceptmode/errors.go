package acceptmode

import "errors"

// Sentinel errors, returned wrapped with what failed. Test with
// errors.Is.
var (
	// ErrInvalid is wrapped by every *FieldError: a Config or an argument
	// breaks a rule, and retrying will not help.
	ErrInvalid = errors.New("acceptmode: invalid")
	// ErrClosed is returned by the methods of a closed Filter.
	ErrClosed = errors.New("acceptmode: filter closed")
)

// A FieldError says which field of which object is invalid. It wraps
// ErrInvalid.
type FieldError struct {
	// Object is what holds the field: "config", "instance VI_1".
	Object string
	// Field is the Go name of the field or argument: "Table", "addrs".
	Field  string
	Reason string
}

// Error formats e as "acceptmode: config: Table: 300 bytes, at most 255".
func (e *FieldError) Error() string {
	return "acceptmode: " + e.Object + ": " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }
