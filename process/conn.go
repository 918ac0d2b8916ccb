package process

import "errors"

// conn is a process connector socket whose listen request the kernel has
// acknowledged: every process event from then on is either read or
// reported lost (errLost). Tests fake it.
type conn interface {
	// read blocks for the next datagram from the kernel, valid until the
	// next read. It returns errLost when the kernel dropped events for a
	// full receive buffer, and an error wrapping net.ErrClosed once
	// close was called.
	read() ([]byte, error)
	// close stops the kernel's events (a best-effort ignore request) and
	// closes the socket; a read blocked meanwhile returns.
	close() error
}

// dialFunc opens a conn whose socket has a receive buffer of rcvbuf bytes
// (the kernel's default if rcvbuf <= 0).
type dialFunc func(rcvbuf int) (conn, error)

// errLost is conn.read's error when the kernel dropped events (ENOBUFS).
var errLost = errors.New("process events lost: receive buffer full")
