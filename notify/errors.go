package notify

import (
	"errors"
	"strings"
)

// Sentinel errors that callers may test for with errors.Is.
var (
	// ErrInvalid is wrapped by every *FieldError: a Script, FIFOConfig or
	// argument is misconfigured, and retrying will not help.
	ErrInvalid = errors.New("notify: invalid")
	// ErrRan is returned by a second call to Runner.Run or FIFO.Run,
	// whether the first is still running or has returned.
	ErrRan = errors.New("notify: already ran")
	// ErrClosed is returned by Runner.Notify after Runner.Close or once
	// Run has returned, and by FIFO.Write after FIFO.Close.
	ErrClosed = errors.New("notify: closed")
	// ErrFull is returned by FIFO.Write when the pipe has no room for the
	// line: nobody has read the FIFO for a while. The line is dropped and
	// counted, as keepalived drops it on EAGAIN.
	ErrFull = errors.New("notify: fifo full, line dropped")
	// ErrTooLong is returned by FIFO.Write for a line longer than
	// PipeBuf bytes, which the kernel could not write atomically; it is
	// not written.
	ErrTooLong = errors.New("notify: line longer than PIPE_BUF")

	// ErrNotFound: Check could not find or access the script, or a
	// directory on its path (keepalived: "Cannot find script ... in path",
	// "Script ... cannot be accessed"). The script must not run.
	ErrNotFound = errors.New("notify: script not found")
	// ErrNotExecutable: the script is not a regular file the user it runs
	// as may execute (keepalived: "is not executable for uid:gid ... -
	// disabling"). The script must not run.
	ErrNotExecutable = errors.New("notify: script not executable")
	// ErrUnsafe: the script runs as root (or is set-user-ID or
	// set-group-ID root) and a user other than root could change it: a
	// file or directory on its path is not owned by root, or is writable
	// by a group other than root's or by everyone (keepalived: "Unsafe
	// permissions found for script"). With Security.Enabled the script
	// must not run; without, keepalived runs it anyway, and Check reports
	// this as a warning.
	ErrUnsafe = errors.New("notify: unsafe permissions")
	// ErrNoDefaultUser: with Security.Enabled, a script has no user of its
	// own and the default user keepalived_script does not exist
	// (keepalived: "Unable to set default user keepalived_script for
	// script").
	ErrNoDefaultUser = errors.New("notify: no default script user")
)

// A FieldError says which field of which object is invalid. It wraps
// ErrInvalid.
type FieldError struct {
	// Object is what holds the field: "script /etc/keepalived/n.sh",
	// "fifo /run/keepalived.fifo".
	Object string
	// Field is the Go name of the field: "Args", "Path".
	Field  string
	Reason string
}

// Error formats e as "notify: script /x.sh: Args: empty".
func (e *FieldError) Error() string {
	return "notify: " + e.Object + ": " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// A CheckError is one problem Script.Check found: the script as
// configured, the file or directory at fault and why. It wraps one of
// ErrNotFound, ErrNotExecutable or ErrUnsafe.
type CheckError struct {
	// Script is the program as configured (Args[0]).
	Script string
	// Path is the file or directory at fault; it may be Script itself.
	Path string
	// Reason says what is wrong with Path, for a person.
	Reason string
	// Err is the sentinel: ErrNotFound, ErrNotExecutable or ErrUnsafe.
	Err error
}

// Error formats e as "notify: script /etc/k/n.sh: /etc/k: unsafe
// permissions: writable by group 1000 (mode drwxrwxr-x)", leaving out
// Path when it is Script.
func (e *CheckError) Error() string {
	var b strings.Builder
	b.WriteString("notify: script ")
	b.WriteString(e.Script)
	b.WriteString(": ")
	if e.Path != "" && e.Path != e.Script {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "notify: "))
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	return b.String()
}

// Unwrap returns e.Err.
func (e *CheckError) Unwrap() error { return e.Err }
