package check

import (
	"context"
	"net"
	"os"
	"syscall"

	"golang.org/x/net/icmp"
	"golang.org/x/sys/unix"
)

// bindDevice returns a net.Dialer or net.ListenConfig Control that binds
// the socket to interface iface (SO_BINDTODEVICE), as keepalived's bind_if
// does before it binds and connects; nil for no interface.
func bindDevice(iface string) func(network, address string, c syscall.RawConn) error {
	if iface == "" {
		return nil
	}
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), iface) }); err != nil {
			return err
		}
		if serr != nil {
			return os.NewSyscallError("setsockopt SO_BINDTODEVICE "+iface, serr)
		}
		return nil
	}
}

// listenICMP opens the ICMP socket of network ("udp4", "udp6": a datagram
// ping socket; "ip4:icmp", "ip6:ipv6-icmp": raw) bound to address and, if
// set, to interface iface.
func listenICMP(network, address, iface string) (net.PacketConn, error) {
	if iface == "" {
		return icmp.ListenPacket(network, address)
	}
	var family, proto int
	switch network {
	case "udp4":
		family, proto = unix.AF_INET, unix.IPPROTO_ICMP
	case "udp6":
		family, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	default:
		lc := net.ListenConfig{Control: bindDevice(iface)}
		return lc.ListenPacket(context.Background(), network, address)
	}
	// What icmp.ListenPacket does, with the interface bound first.
	s, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.BindToDevice(s, iface); err != nil {
		unix.Close(s)
		return nil, os.NewSyscallError("setsockopt SO_BINDTODEVICE "+iface, err)
	}
	var sa unix.Sockaddr = &unix.SockaddrInet4{}
	if family == unix.AF_INET6 {
		sa = &unix.SockaddrInet6{}
	}
	if ip := net.ParseIP(address); ip != nil {
		if family == unix.AF_INET {
			copy(sa.(*unix.SockaddrInet4).Addr[:], ip.To4())
		} else {
			copy(sa.(*unix.SockaddrInet6).Addr[:], ip.To16())
		}
	}
	if err := unix.Bind(s, sa); err != nil {
		unix.Close(s)
		return nil, os.NewSyscallError("bind", err)
	}
	f := os.NewFile(uintptr(s), "icmp")
	defer f.Close()
	return net.FilePacketConn(f)
}
