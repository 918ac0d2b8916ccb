//go:build !linux

package check

import (
	"errors"
	"net"
	"syscall"

	"golang.org/x/net/icmp"
)

// errNoBindDevice is the error of a check with an Interface off Linux.
var errNoBindDevice = errors.New("check: binding to an interface is supported on Linux only")

// bindDevice returns a Control that fails: SO_BINDTODEVICE is Linux's.
func bindDevice(iface string) func(network, address string, c syscall.RawConn) error {
	if iface == "" {
		return nil
	}
	return func(string, string, syscall.RawConn) error { return errNoBindDevice }
}

// listenICMP opens the ICMP socket of network bound to address; an
// interface is not supported.
func listenICMP(network, address, iface string) (net.PacketConn, error) {
	if iface != "" {
		return nil, errNoBindDevice
	}
	return icmp.ListenPacket(network, address)
}
