package netlink

import "net"

// VMACAddr returns the VRRP virtual MAC of vrid: 00:00:5e:00:01:{vrid}
// for IPv4, 00:00:5e:00:02:{vrid} for IPv6 (RFC 5798 §7.3).
func VMACAddr(vrid uint8, ipv6 bool) net.HardwareAddr {
	mac := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, vrid}
	if ipv6 {
		mac[4] = 0x02
	}
	return mac
}
