//go:build !linux

package vigildcmd

import (
	"net"
	"os"
	"time"
)

// lockFile does nothing: vigild runs on Linux only.
func lockFile(*os.File) error { return nil }

var start = time.Now()

// monotonic is the time since start, in µs.
func monotonic() int64 { return time.Since(start).Microseconds() }

// peerUID reports this process's effective user: without SO_PEERCRED
// the socket's mode is the only guard.
func peerUID(*net.UnixConn) (int, error) { return os.Geteuid(), nil }
