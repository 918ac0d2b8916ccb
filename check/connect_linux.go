package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// connectOnly is TCP.Check for a check that only connects (no TLS, Send
// or Expect), on the socket itself rather than through net.Dialer: a
// non-blocking socket(2), bind(2) with Bind, connect(2), then close(2).
// When the kernel has completed the handshake by the time connect
// returns (a local target), a second connect(2) says so and the check
// costs no poller registration, no goroutine switch and none of
// net.Dialer's getsockopt, getpeername, getsockname and setsockopt;
// otherwise it waits for the socket in the runtime's poller (an
// *os.File), bounded by ctx, as net.Dialer does. Its errors are
// net.Dialer's: a *net.OpError "dial tcp ADDR: connect: ..." with the
// same causes (syscall errnos, "i/o timeout" and "operation was
// canceled" that match context.DeadlineExceeded and context.Canceled).
// It reports handled false, having done nothing, for what it leaves to
// net.Dialer: an Interface, a zone or an IPv4-mapped address, a Bind of
// the other family, or ctx already done.
func connectOnly(ctx context.Context, c *TCP) (handled bool, err error) {
	addr := c.Addr.Addr()
	if c.Interface != "" || addr.Zone() != "" || addr.Is4In6() || ctx.Err() != nil {
		return false, nil
	}
	if c.Bind.IsValid() && (c.Bind.Is4() != addr.Is4() || c.Bind.Zone() != "" || c.Bind.Is4In6()) {
		return false, nil
	}
	if err := c.Validate(); err != nil {
		return true, err
	}
	if err := connectTCP(ctx, c.Addr, c.Bind); err != nil {
		var src net.Addr
		if c.Bind.IsValid() {
			src = net.TCPAddrFromAddrPort(netip.AddrPortFrom(c.Bind, 0))
		}
		err = &net.OpError{Op: "dial", Net: "tcp", Source: src, Addr: net.TCPAddrFromAddrPort(c.Addr), Err: err}
		return true, fmt.Errorf("check: %s: connect: %w", c, ctxErr(ctx, err))
	}
	return true, nil
}

// connectTCP connects to addr from bind (if valid) and closes the
// connection; its errors are those net.Dialer wraps in a *net.OpError.
func connectTCP(ctx context.Context, addr netip.AddrPort, bind netip.Addr) error {
	family, sa := sockaddr(addr)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	if bind.IsValid() {
		_, lsa := sockaddr(netip.AddrPortFrom(bind, 0))
		if err := unix.Bind(fd, lsa); err != nil {
			unix.Close(fd)
			return os.NewSyscallError("bind", err)
		}
	}
	err = unix.Connect(fd, sa)
	if err == unix.EINPROGRESS {
		// Linux answers a second connect with 0 once the handshake is
		// done, EALREADY while it is not, the error once it failed.
		err = unix.Connect(fd, sa)
	}
	switch err {
	case nil, unix.EISCONN:
		unix.Close(fd)
		if err := ctx.Err(); err != nil {
			return mapCtxErr(err)
		}
		return nil
	case unix.EALREADY, unix.EINPROGRESS, unix.EINTR:
		return awaitConnect(ctx, fd, sa)
	}
	unix.Close(fd)
	return os.NewSyscallError("connect", err)
}

// awaitConnect waits, in the runtime's poller, until the connect in
// progress on fd ends or ctx is done, and closes fd.
func awaitConnect(ctx context.Context, fd int, sa unix.Sockaddr) (ret error) {
	f := os.NewFile(uintptr(fd), "tcp") // non-blocking: in the poller
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = f.SetWriteDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() && ret == nil { // the deadline was cut as the connect ended
			ret = mapCtxErr(ctx.Err())
		}
	}()
	var cerr error
	werr := rc.Write(func(uintptr) bool {
		cerr = unix.Connect(fd, sa)
		switch cerr {
		case unix.EALREADY, unix.EINPROGRESS, unix.EINTR:
			return false
		}
		return true
	})
	if werr != nil {
		if err := ctx.Err(); err != nil {
			return mapCtxErr(err)
		}
		return werr
	}
	switch cerr {
	case nil, unix.EISCONN:
		return nil
	}
	return os.NewSyscallError("connect", cerr)
}

// sockaddr returns addr's address family and socket address.
func sockaddr(addr netip.AddrPort) (int, unix.Sockaddr) {
	if addr.Addr().Is4() {
		return unix.AF_INET, &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	}
	return unix.AF_INET6, &unix.SockaddrInet6{Port: int(addr.Port()), Addr: addr.Addr().As16()}
}

// mapCtxErr maps ctx's error as net.Dialer does: "i/o timeout" for
// context.DeadlineExceeded, "operation was canceled" for
// context.Canceled, each matching its context error with errors.Is.
func mapCtxErr(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errDialTimeout{}
	case errors.Is(err, context.Canceled):
		return errDialCanceled{}
	}
	return err
}

// errDialTimeout is net's error for a dial past its deadline.
type errDialTimeout struct{}

func (errDialTimeout) Error() string        { return "i/o timeout" }
func (errDialTimeout) Timeout() bool        { return true }
func (errDialTimeout) Temporary() bool      { return true }
func (errDialTimeout) Is(target error) bool { return target == context.DeadlineExceeded }

// errDialCanceled is net's error for a dial whose context was cancelled.
type errDialCanceled struct{}

func (errDialCanceled) Error() string        { return "operation was canceled" }
func (errDialCanceled) Is(target error) bool { return target == context.Canceled }
