package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// connectOnly is TCP.Check for a check that only connects (no TLS, Send
// or Expect), on the socket itself rather than through net.Dialer
// (dialSock), then close(2). Its errors are net.Dialer's: a
// *net.OpError "dial tcp ADDR: connect: ..." with the same causes
// (syscall errnos, "i/o timeout" and "operation was canceled" that
// match context.DeadlineExceeded and context.Canceled). It reports
// handled false, having done nothing, for what it leaves to net.Dialer
// (ownSocket).
func connectOnly(ctx context.Context, c *TCP) (handled bool, err error) {
	if !ownSocket(ctx, c.Addr, c.Bind, c.Interface) {
		return false, nil
	}
	if err := c.Validate(); err != nil {
		return true, err
	}
	s, err := dialSock(ctx, c.Addr, c.Bind)
	if err != nil {
		return true, fmt.Errorf("check: %s: connect: %w", c, ctxErr(ctx, dialError(c.Addr, c.Bind, err)))
	}
	s.close()
	return true, nil
}

// ownSocket reports whether a check of addr from bind through iface can
// run on a socket of its own (dialSock) rather than through net.Dialer:
// not with an Interface, a zone or an IPv4-mapped address, a Bind of
// the other family, or ctx already done.
func ownSocket(ctx context.Context, addr netip.AddrPort, bind netip.Addr, iface string) bool {
	a := addr.Addr()
	if iface != "" || a.Zone() != "" || a.Is4In6() || ctx.Err() != nil {
		return false
	}
	return !bind.IsValid() || (bind.Is4() == a.Is4() && bind.Zone() == "" && !bind.Is4In6())
}

// dialError is net.Dialer's error for a connect to addr from bind that
// failed with err (dialSock's).
func dialError(addr netip.AddrPort, bind netip.Addr, err error) error {
	var src net.Addr
	if bind.IsValid() {
		src = net.TCPAddrFromAddrPort(netip.AddrPortFrom(bind, 0))
	}
	return &net.OpError{Op: "dial", Net: "tcp", Source: src, Addr: net.TCPAddrFromAddrPort(addr), Err: err}
}

// kernelWait is how long a sock waits for its peer in the kernel
// (ppoll(2)) before it waits in the runtime's poller: about what a
// server on the same machine takes to answer. A goroutine parked in
// the poller and woken by it costs a registration (two epoll_ctl) and
// a trip through the scheduler; a thread asleep in ppoll only the
// kernel's wake-up. It also bounds how long a cancelled check, whose
// thread sleeps there, takes to notice.
const kernelWait = time.Millisecond

// sock is a connected non-blocking TCP socket of a check that runs on
// its own socket (connectOnly, HTTP/1.0): a bare descriptor while its
// peer answers within kernelWait, in the runtime's poller (an
// *os.File, with ctx's deadline and cancellation) from its first
// longer wait on. Its methods are not safe for concurrent use.
type sock struct {
	fd   int
	f    *os.File        // the socket in the runtime's poller; nil before
	rc   syscall.RawConn // f's
	stop func() bool     // ends f's watch of ctx
}

// dialSock connects to addr from bind (if valid) as net.Dialer would,
// on a non-blocking socket(2), bind(2) with bind, and connect(2). When
// the kernel has completed the handshake by the time connect returns
// (a local target), a second connect(2) says so and the socket costs no
// poller registration, no goroutine switch and none of net.Dialer's
// getsockopt, getpeername, getsockname and setsockopt; otherwise it
// waits in the runtime's poller, bounded by ctx, as net.Dialer does.
// Its errors are those net.Dialer wraps in a *net.OpError (dialError).
func dialSock(ctx context.Context, addr netip.AddrPort, bind netip.Addr) (sock, error) {
	family, sa := sockaddr(addr)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return sock{}, os.NewSyscallError("socket", err)
	}
	s := sock{fd: fd}
	if bind.IsValid() {
		_, lsa := sockaddr(netip.AddrPortFrom(bind, 0))
		if err := unix.Bind(fd, lsa); err != nil {
			unix.Close(fd)
			return sock{}, os.NewSyscallError("bind", err)
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
	case unix.EALREADY, unix.EINPROGRESS, unix.EINTR:
		s.toPoller(ctx)
		err = s.awaitConnect(ctx, sa)
	default:
		err = os.NewSyscallError("connect", err)
	}
	if err == nil && ctx.Err() != nil { // ctx ended as the connect did: net.Dialer's verdict
		err = mapCtxErr(ctx.Err())
	}
	if err != nil {
		s.close()
		return sock{}, err
	}
	return s, nil
}

// toPoller puts s in the runtime's poller, its I/O bounded by ctx's
// deadline and cut when ctx is cancelled.
func (s *sock) toPoller(ctx context.Context) {
	f := os.NewFile(uintptr(s.fd), "tcp") // non-blocking: in the poller
	s.f = f
	s.rc, _ = f.SyscallConn() // fails only for a nil or closed file
	if d, ok := ctx.Deadline(); ok {
		_ = f.SetDeadline(d)
	}
	s.stop = context.AfterFunc(ctx, func() { _ = f.SetDeadline(time.Unix(1, 0)) })
}

// close closes s.
func (s *sock) close() {
	if s.f == nil {
		unix.Close(s.fd)
		return
	}
	s.stop()
	s.f.Close()
}

// awaitConnect waits, in the runtime's poller, until the connect in
// progress on s ends or ctx is done.
func (s *sock) awaitConnect(ctx context.Context, sa unix.Sockaddr) error {
	var cerr error
	werr := s.rc.Write(func(fd uintptr) bool {
		cerr = unix.Connect(int(fd), sa)
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

// write writes all of b, as net.Conn's Write: its errors are a write's
// errno (an *os.SyscallError) or os.ErrDeadlineExceeded when ctx ends
// first.
func (s *sock) write(ctx context.Context, b []byte) error {
	for len(b) > 0 {
		var n int
		var err error
		if s.f != nil {
			n, err = s.inPoller(b, s.rc.Write, unix.Write)
		} else if n, err = unix.Write(s.fd, b); err == unix.EAGAIN { // the send buffer is full: a long wait
			s.toPoller(ctx)
			continue
		}
		switch err {
		case nil:
			b = b[n:]
		case unix.EINTR:
		default:
			return syscallError("write", err)
		}
	}
	return nil
}

// read reads into p as net.Conn's Read (0, io.EOF at the end of the
// stream; otherwise an *os.SyscallError, or os.ErrDeadlineExceeded
// when ctx ends first). With wait it waits for data before the first
// read(2): when the caller knows that none can have come yet (its
// request has just left), that read would only say EAGAIN.
func (s *sock) read(ctx context.Context, p []byte, wait bool) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		var n int
		var err error
		switch {
		case s.f != nil:
			n, err = s.inPoller(p, s.rc.Read, unix.Read)
		case wait:
			err = unix.EAGAIN
		default:
			n, err = unix.Read(s.fd, p)
		}
		switch err {
		case nil:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			wait = false
			if err := s.awaitIn(ctx); err != nil {
				return 0, err
			}
			continue
		}
		return 0, syscallError("read", err)
	}
}

// inPoller calls op (unix.Read or unix.Write) on s and b through wait
// (s.rc's Read or Write), which waits in the poller while op says
// EAGAIN: op's result, or wait's error (os.ErrDeadlineExceeded).
func (s *sock) inPoller(b []byte, wait func(func(uintptr) bool) error, op func(int, []byte) (int, error)) (int, error) {
	var n int
	var err error
	if werr := wait(func(fd uintptr) bool {
		n, err = op(int(fd), b)
		return err != unix.EAGAIN
	}); werr != nil {
		return 0, werr
	}
	return n, err
}

// syscallError is err, from system call name, as net.Conn's: an errno
// in an *os.SyscallError, the poller's errors as they are.
func syscallError(name string, err error) error {
	if errno, ok := err.(syscall.Errno); ok {
		return os.NewSyscallError(name, errno)
	}
	return err
}

// awaitIn waits in the kernel until s has something to read (data, the
// end of the stream or an error), for kernelWait at most: then it puts
// s in the poller, where the next read waits. Past ctx's deadline, or
// with ctx cancelled, it returns os.ErrDeadlineExceeded, as the poller
// would.
func (s *sock) awaitIn(ctx context.Context) error {
	for {
		wait := kernelWait
		d, ok := ctx.Deadline()
		if ok {
			wait = min(wait, time.Until(d))
		}
		if wait <= 0 || ctx.Err() != nil {
			return os.ErrDeadlineExceeded
		}
		ts := unix.NsecToTimespec(int64(wait))
		fds := [1]unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
		n, err := unix.Ppoll(fds[:], &ts, nil)
		switch {
		case n > 0:
			return nil
		case err == unix.EINTR:
			continue
		case err != nil:
			return os.NewSyscallError("ppoll", err)
		case ok && !time.Now().Before(d), ctx.Err() != nil:
			return os.ErrDeadlineExceeded
		}
		s.toPoller(ctx)
		return nil
	}
}

// opError is net.Conn's error for operation op ("read", "write") on s,
// connected to raddr, that failed with err.
func (s *sock) opError(op string, raddr netip.AddrPort, err error) error {
	var src net.Addr
	if sa, gerr := unix.Getsockname(s.fd); gerr == nil {
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			src = &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		case *unix.SockaddrInet6:
			src = &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		}
	}
	return &net.OpError{Op: op, Net: "tcp", Source: src, Addr: net.TCPAddrFromAddrPort(raddr), Err: err}
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
