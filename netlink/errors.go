package netlink

import (
	"errors"
	"net"
)

// Sentinel errors, returned wrapped with what and where.
var (
	// ErrClosed: the AddrManager or Announcer was closed.
	ErrClosed = errors.New("netlink: closed")
	// ErrLinkNotFound: a named interface does not exist.
	ErrLinkNotFound = errors.New("no such link")
	// ErrVMACConflict: a link with the VMAC's name exists but is not a
	// macvlan in mode private on the right parent with the right MAC.
	ErrVMACConflict = errors.New("link exists with other settings")
	// ErrRan: Run was called twice.
	ErrRan = errors.New("netlink: already ran")
)

// VMACAddr returns the VRRP virtual MAC of vrid: 00:00:5e:00:01:{vrid}
// for IPv4, 00:00:5e:00:02:{vrid} for IPv6 (RFC 5798 §7.3).
func VMACAddr(vrid uint8, ipv6 bool) net.HardwareAddr {
	mac := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, vrid}
	if ipv6 {
		mac[4] = 0x02
	}
	return mac
}
