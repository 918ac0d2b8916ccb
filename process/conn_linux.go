//go:build linux

package process

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ackTimeout bounds the wait for the kernel's answer to a listen request.
// The kernel answers while handling the request, so the answer is queued
// before the send returns; no answer at all means the kernel ignored the
// request (see ErrUnsupported).
const ackTimeout = 2 * time.Second

// kernelConn is the real process connector socket.
type kernelConn struct {
	f       *os.File
	rc      syscall.RawConn
	port    uint32
	buf     []byte
	pending [][]byte // datagrams read while waiting for the ack

	// results of the read callback
	n    int
	from unix.Sockaddr
	err  error
	recv func(fd uintptr) bool
}

// dialKernel opens a NETLINK_CONNECTOR socket in the calling thread's
// network namespace, joins the proc connector group, asks the kernel to
// send process events and waits for its answer.
func dialKernel(rcvbuf int) (conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, mapErr("open process connector socket", err)
	}
	if rcvbuf > 0 {
		// SO_RCVBUFFORCE passes net.core.rmem_max; it needs CAP_NET_ADMIN.
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return nil, mapErr("bind process connector socket", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("process: process connector socket: %w", err)
	}
	c := &kernelConn{buf: make([]byte, 4096)}
	if nl, ok := sa.(*unix.SockaddrNetlink); ok {
		c.port = nl.Pid
	}
	// A non-blocking descriptor makes NewFile register it with the
	// poller: reads wait in the poller, and Close wakes them.
	c.f = os.NewFile(uintptr(fd), "process-connector")
	if c.rc, err = c.f.SyscallConn(); err != nil {
		c.f.Close()
		return nil, fmt.Errorf("process: process connector socket: %w", err)
	}
	c.recv = func(fd uintptr) bool {
		c.n, c.from, c.err = unix.Recvfrom(int(fd), c.buf, 0)
		return c.err != unix.EAGAIN
	}
	if err := c.listen(); err != nil {
		c.f.Close()
		return nil, err
	}
	return c, nil
}

// mapErr wraps err from a step of dialing with the sentinel that says why.
func mapErr(step string, err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%w: %s: %w", ErrPermission, step, err)
	case errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EAFNOSUPPORT):
		return fmt.Errorf("%w: %s: kernel without CONFIG_CONNECTOR: %w", ErrUnsupported, step, err)
	case errors.Is(err, unix.ECONNREFUSED):
		// The connector's kernel socket exists only in the initial
		// network namespace.
		return fmt.Errorf("%w: %s: not in the initial network namespace: %w", ErrUnsupported, step, err)
	}
	return fmt.Errorf("process: %s: %w", step, err)
}

// listen sends the listen request and reads until the kernel's answer to
// it: an ack event whose ack field is the request's plus one. Acks to
// other listeners are broadcast to every listener too, so the request's
// ack is random; its seq cannot tell (kernels since 5.x overwrite an
// ack's seq with the per CPU event sequence number). Events read before
// the answer, and the answer, are kept for read.
func (c *kernelConn) listen() error {
	var r [8]byte
	_, _ = rand.Read(r[:])
	seq, ack := binary.NativeEndian.Uint32(r[:4]), binary.NativeEndian.Uint32(r[4:])
	msg := listenMsg(mcastListen, seq, ack, c.port)
	var serr error
	if err := c.rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return serr != unix.EAGAIN
	}); err != nil {
		return fmt.Errorf("process: listen request: %w", err)
	}
	if serr != nil {
		return mapErr("listen request", serr)
	}
	deadline := time.Now().Add(ackTimeout)
	if err := c.f.SetReadDeadline(deadline); err != nil {
		return fmt.Errorf("process: process connector socket: %w", err)
	}
	defer c.f.SetReadDeadline(time.Time{})
	for {
		// A busy host keeps the socket readable, and a readable socket
		// never reaches the read deadline: check it here too.
		if time.Now().After(deadline) {
			if !hasNetAdmin() {
				// Kernels since 6.6 let anyone listen, but one (6.18) was
				// seen not to answer a caller without CAP_NET_ADMIN while
				// no other listener existed.
				return fmt.Errorf("%w: the kernel did not answer the listen request in %v, and the caller lacks CAP_NET_ADMIN", ErrPermission, ackTimeout)
			}
			return fmt.Errorf("%w: the kernel did not answer the listen request in %v: not in the initial user and PID namespaces, or kernel without CONFIG_PROC_EVENTS", ErrUnsupported, ackTimeout)
		}
		// From the socket, not c.pending: what is kept there was read
		// already (reading it back would spin on the same message).
		b, err := c.readSocket()
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			continue
		case errors.Is(err, errLost):
			// Events before the answer were dropped: the loop's first
			// scan has not happened yet, so none of them mattered.
			c.pending = nil
			continue
		case err != nil:
			return fmt.Errorf("process: waiting for the listen answer: %w", err)
		}
		// Keep the answer too: it takes a sequence number, and the loop
		// looks for gaps.
		c.pending = append(c.pending, append([]byte(nil), b...))
		evs, _ := parse(b)
		for _, ev := range evs {
			if ev.kind != evAck || ev.ack != ack+1 {
				continue
			}
			if ev.errno != 0 {
				return mapErr("listen request", syscall.Errno(ev.errno))
			}
			return nil
		}
	}
}

func (c *kernelConn) read() ([]byte, error) {
	if len(c.pending) > 0 {
		b := c.pending[0]
		c.pending = c.pending[1:]
		return b, nil
	}
	return c.readSocket()
}

// readSocket reads the next message from the socket.
func (c *kernelConn) readSocket() ([]byte, error) {
	for {
		if err := c.rc.Read(c.recv); err != nil {
			return nil, err
		}
		switch {
		case c.err == unix.EINTR:
			continue
		case c.err == unix.ENOBUFS:
			return nil, errLost
		case c.err != nil:
			return nil, fmt.Errorf("process: read process connector: %w", c.err)
		}
		// Only the kernel (port 0) sends process events; anyone may
		// send a unicast message to our port.
		if nl, ok := c.from.(*unix.SockaddrNetlink); !ok || nl.Pid != 0 {
			continue
		}
		return c.buf[:c.n], nil
	}
}

func (c *kernelConn) close() error {
	// Tell the kernel to stop before closing: kernels before 6.6 count
	// listeners only by these requests, not by open sockets.
	_ = c.rc.Write(func(fd uintptr) bool {
		_ = unix.Sendto(int(fd), listenMsg(mcastIgnore, 0, 0, c.port), unix.MSG_DONTWAIT, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return true
	})
	return c.f.Close()
}

// hasNetAdmin reports whether the calling thread has CAP_NET_ADMIN in its
// effective set.
func hasNetAdmin() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return true // cannot tell: do not blame permissions
	}
	return data[0].Effective&(1<<unix.CAP_NET_ADMIN) != 0
}
