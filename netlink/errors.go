package netlink

import "errors"

// Sentinel errors, returned wrapped with what and where. Test with
// errors.Is.
var (
	// ErrInvalid is wrapped by every *FieldError: a configuration breaks
	// a rule, and retrying will not help.
	ErrInvalid = errors.New("netlink: invalid")
	// ErrClosed is returned by the methods of an AddrManager or Announcer
	// after its Close.
	ErrClosed = errors.New("netlink: closed")
	// ErrRan is returned by a second call to Watcher.Run, whether the
	// first is still running or has returned.
	ErrRan = errors.New("netlink: already ran")
	// ErrNoInterface: a named interface does not exist in the namespace.
	ErrNoInterface = errors.New("netlink: no such interface")
	// ErrVMACConflict: an interface with the VMAC's name exists but is not
	// a macvlan in mode private on the right parent with the right MAC.
	ErrVMACConflict = errors.New("netlink: interface exists with other settings")
)

// A FieldError says which field of which object is invalid. It wraps
// ErrInvalid.
type FieldError struct {
	// Object is what holds the field: "address manager on eth0",
	// "address manager on eth0: route 198.51.100.0/24 via 2001:db8::1",
	// "announcer on eth0", "watcher", "vmac vrrp.51".
	Object string
	// Field is the Go name of the field: "Label", "Gw", "Timing.Repeat".
	Field  string
	Reason string
}

// Error formats e as "netlink: vmac vrrp.0: VRID: 0, want 1..255".
func (e *FieldError) Error() string {
	return "netlink: " + e.Object + ": " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }
