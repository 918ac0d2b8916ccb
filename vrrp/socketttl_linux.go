//go:build linux

package vrrp

import (
	"encoding/binary"
	"net"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// connOptions checks cfg's Group and TTL for a Conn on a socket of the
// family v6, naming obj in the *FieldErrors.
func connOptions(obj string, cfg *ConnConfig, v6 bool) error {
	if g := cfg.Group.Unmap(); g.IsValid() && (!g.IsMulticast() || is6(g) != v6) {
		return invalid(obj, "Group", "%v is not a multicast address of the %s family", g, family(v6))
	}
	switch {
	case cfg.TTL < 0 || cfg.TTL > 255:
		return invalid(obj, "TTL", "%d, want 1..255 (0: %d)", cfg.TTL, TTL)
	case cfg.TTL != 0 && len(cfg.Peers) == 0:
		return invalid(obj, "TTL", "a TTL other than %d needs unicast peers", TTL)
	}
	return nil
}

// writeTTL4 sends b to the IPv4 address to from c's source address on
// interface idx with c's TTL: the IP_TTL control message overrides the
// socket's TTL for this message only (the socket is shared).
func (c *SocketConn) writeTTL4(b []byte, to *net.IPAddr, idx int) error {
	oob := (&ipv4.ControlMessage{Src: c.src.AsSlice(), IfIndex: idx}).Marshal()
	oob = append(oob, ttlCmsg(c.ttl)...)
	_, _, err := c.s.raw.(*net.IPConn).WriteMsgIP(b, oob, to)
	return err
}

// ttlCmsg is an IP_TTL control message carrying ttl.
func ttlCmsg(ttl int) []byte {
	b := make([]byte, unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_TTL
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[unix.CmsgLen(0):], uint32(ttl))
	return b
}
