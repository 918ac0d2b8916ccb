//go:build linux

package benchkit

import (
	"fmt"
	"net"

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

// SendOpts are the options of vrrp.Listen's send side, for a floor's
// socket on interface ifi: bound to it, TTL and multicast TTL 255, DSCP
// CS6 (vrrpd's and keepalived's TOS byte), multicast loopback off,
// multicast interface set.
func SendOpts(ifi *net.Interface) []SockOpt {
	return []SockOpt{
		Opt("SO_BINDTODEVICE", func(fd int) error { return unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifi.Name) }),
		Opt("IP_TTL", func(fd int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, vrrp.TTL) }),
		Opt("IP_MULTICAST_TTL", func(fd int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, vrrp.TTL) }),
		Opt("IP_TOS", func(fd int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, DSCPCS6) }),
		Opt("IP_MULTICAST_LOOP", func(fd int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0) }),
		Opt("IP_MULTICAST_IF", func(fd int) error {
			return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifi.Index)})
		}),
	}
}

// DSCPCS6 is the TOS byte vrrpd's adverts carry (DSCP CS6, as
// keepalived's).
const DSCPCS6 = 0xc0
