//go:build linux

package vigildcmd

import (
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an open file description lock on all of f, as
// keepalived takes on its pid files (F_OFD_SETLK); held until f is
// closed.
func lockFile(f *os.File) error {
	fl := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &fl)
}

// monotonic reads CLOCK_MONOTONIC, for sd_notify's MONOTONIC_USEC.
func monotonic() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}

// peerUID is the user id of the process at the other end of the unix
// socket c.
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if cerr != nil {
		return -1, cerr
	}
	return int(cred.Uid), nil
}
