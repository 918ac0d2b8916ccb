//go:build linux

package benchkit

import (
	"fmt"

	"github.com/vigil-ha/vigil/vrrp"
	"golang.org/x/sys/unix"
)

// SockOpt is one option of a floor's socket: its name (for the error)
// and how to set it (Opt).
type SockOpt struct {
	name string
	set  func(fd int) error
}

// Opt is the socket option name, set by set.
func Opt(name string, set func(fd int) error) SockOpt { return SockOpt{name, set} }

// RawVRRPSocket opens a raw IPv4 socket of protocol 112 for the floors
// (bench/instances, bench/failover -mass -impl floor) on interface name
// and sets opts in order; it closes the socket on the first error.
func RawVRRPSocket(name string, opts []SockOpt) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, vrrp.Protocol)
	if err != nil {
		return -1, fmt.Errorf("%s: socket: %w", name, err)
	}
	for _, o := range opts {
		if err := o.set(fd); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("%s: %s: %w", name, o.name, err)
		}
	}
	return fd, nil
}
