//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
	"unsafe"

	"github.com/vigil-ha/vigil/check"
	"golang.org/x/sys/unix"
)

// The HTTP kind (-kind http): the listener answers each connection's
// request with httpResponse and closes it; the group checks with
// check.HTTP as keepalived's HTTP_GET would (HTTP/1.0, path /, status
// 200); the raw loop sends the same request with blocking syscalls.

// httpResponse is the listener's answer: a minimal valid HTTP/1.0 200
// with a small body.
const httpResponse = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"

// httpChecker is the group's checker of target t: keepalived's
// HTTP_GET { url { path / status_code 200 } } (HTTP/1.0, its default).
func httpChecker(t netip.AddrPort) check.Checker {
	return &check.HTTP{Addr: t, Path: "/", Status: []check.StatusRange{{Min: 200, Max: 200}}, Version: check.HTTP10}
}

// httpRequest is the request the raw loop sends to addr: the bytes
// check.HTTP sends with Version HTTP10.
func httpRequest(addr string) []byte {
	return []byte("GET / HTTP/1.0\r\nUser-Agent: vigil-check\r\nHost: " + addr + "\r\n\r\n")
}

// serveHTTP reads conn's request (up to the empty line ending its
// headers, 4 KiB at most, for 2 s at most) and writes httpResponse.
// Reading the request first lets the close be a FIN, not a reset.
func serveHTTP(conn net.Conn) {
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	n := 0
	for !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
		if n == len(buf) {
			return
		}
		m, err := conn.Read(buf[n:])
		n += m
		if err != nil && !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
			return
		}
	}
	_, _ = conn.Write([]byte(httpResponse))
}

// rawHTTP returns the raw loop's HTTP check of target i: socket(2),
// the send and receive timeouts (setsockopt(2): the blocking calls are
// bounded by timeout, as any checker's must be), connect(2), write(2)
// of reqs[i], read(2) until EOF, the status line must say 200,
// close(2). The calls are raw (unix.RawSyscall: no entersyscall): a Go
// thread blocked in a system call has its P taken by sysmon and handed
// to another thread, which cost the loop a quarter of its CPU on a
// second thread (bench/README.md, "checks"); a program in C pays
// nothing of the kind. The loop's thread is locked and alone, so
// keeping its P while it blocks for a moment delays no one.
func rawHTTP(sas []unix.SockaddrInet4, reqs [][]byte, timeout time.Duration) func(i int) error {
	buf := make([]byte, 4096)
	tv := unix.NsecToTimeval(int64(timeout))
	rsas := make([]unix.RawSockaddrInet4, len(sas))
	for i, sa := range sas {
		rsas[i] = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: sa.Addr}
		p := (*[2]byte)(unsafe.Pointer(&rsas[i].Port))
		p[0], p[1] = byte(sa.Port>>8), byte(sa.Port)
	}
	return func(i int) error {
		fd, err := sys(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		defer sys(unix.SYS_CLOSE, fd, 0, 0)
		for _, opt := range []uintptr{unix.SO_SNDTIMEO, unix.SO_RCVTIMEO} {
			if _, _, e := unix.RawSyscall6(unix.SYS_SETSOCKOPT, fd, unix.SOL_SOCKET, opt,
				uintptr(unsafe.Pointer(&tv)), unsafe.Sizeof(tv), 0); e != 0 {
				return fmt.Errorf("setsockopt: %w", e)
			}
		}
		if err := connect(fd, &rsas[i]); err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		req := reqs[i]
		if n, err := eintr(func() (uintptr, error) {
			return sys(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&req[0])), uintptr(len(req)))
		}); err != nil || int(n) != len(req) {
			return fmt.Errorf("write: %d of %d bytes: %v", n, len(req), err)
		}
		n := 0
		for {
			if n == len(buf) {
				return errors.New("response longer than 4 KiB")
			}
			m, err := eintr(func() (uintptr, error) {
				return sys(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[n])), uintptr(len(buf)-n))
			})
			if err != nil {
				return fmt.Errorf("read: %w", err)
			}
			if m == 0 {
				break
			}
			n += int(m)
		}
		code, err := httpStatus(buf[:n])
		if err == nil && code != 200 {
			err = fmt.Errorf("status %d", code)
		}
		return err
	}
}

// sys makes a raw system call.
func sys(trap, a1, a2, a3 uintptr) (uintptr, error) {
	r, _, e := unix.RawSyscall(trap, a1, a2, a3)
	if e != 0 {
		return r, e
	}
	return r, nil
}

// A socket with a timeout (SO_SNDTIMEO, SO_RCVTIMEO) is not restarted
// after a signal (signal(7)), and the Go runtime's preemption signals
// reach the locked thread too: the calls are retried on EINTR.

// eintr calls f until it does not fail with EINTR.
func eintr(f func() (uintptr, error)) (uintptr, error) {
	for {
		n, err := f()
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}

// connect connects fd to sa; after EINTR the connection goes on in the
// kernel, and connect(2) again waits for it, up to the send timeout
// (EALREADY: the handshake has not ended; EISCONN: it has); 3 times at
// most.
func connect(fd uintptr, sa *unix.RawSockaddrInet4) error {
	call := func() error {
		_, err := sys(unix.SYS_CONNECT, fd, uintptr(unsafe.Pointer(sa)), unsafe.Sizeof(*sa))
		return err
	}
	err := call()
	for try := 0; try < 3 && (errors.Is(err, unix.EINTR) || errors.Is(err, unix.EALREADY)); try++ {
		err = call()
	}
	if errors.Is(err, unix.EISCONN) {
		return nil
	}
	return err
}

// httpStatus returns the status code of resp, a whole HTTP/1.0 or 1.1
// response: a status line "HTTP/1.x NNN[ reason]" and headers ended by
// an empty line (the body is not looked at).
func httpStatus(resp []byte) (int, error) {
	line, _, ok := bytes.Cut(resp, []byte("\r\n"))
	if !ok {
		return 0, fmt.Errorf("no status line in %q", trunc(resp))
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || (line[7] != '0' && line[7] != '1') ||
		line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return 0, fmt.Errorf("bad status line %q", trunc(line))
	}
	code := 0
	for _, b := range line[9:12] {
		if b < '0' || b > '9' {
			return 0, fmt.Errorf("bad status line %q", trunc(line))
		}
		code = 10*code + int(b-'0')
	}
	if code < 100 {
		return 0, fmt.Errorf("bad status code in %q", trunc(line))
	}
	if !bytes.Contains(resp[len(line):], []byte("\r\n\r\n")) {
		return 0, errors.New("headers not ended by an empty line")
	}
	return code, nil
}

func trunc(b []byte) []byte { return b[:min(len(b), 64)] }
