package vrrp

import (
	"context"
	"net/netip"
	"time"
)

// PacketInfo describes a received or sent VRRP message.
type PacketInfo struct {
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or IPv6 hop limit the message arrived with.
	TTL uint8
	// IfIndex is the interface it arrived on (0 if unknown).
	IfIndex int
	// Time is when the message arrived, if the Conn knows (the Linux
	// Socket reports the kernel's receive timestamp); the Router restarts
	// its timers from it (otherwise from when it reads the message).
	Time time.Time
}

// Conn carries VRRP messages (IP payloads, protocol 112) for one virtual
// router. Socket.Conn provides the raw-socket implementation (Linux);
// vrrptest.Hub provides an in-memory one.
type Conn interface {
	// ReadAdvert blocks until a message arrives, copies it into b and
	// returns its length and addressing. It returns ctx.Err() once ctx is
	// done, and net.ErrClosed when the Conn can never deliver again.
	ReadAdvert(ctx context.Context, b []byte) (int, PacketInfo, error)
	// WriteAdvert sends b to dst (a multicast group or a unicast peer)
	// with TTL/hop limit 255 from LocalAddr.
	WriteAdvert(ctx context.Context, b []byte, dst netip.Addr) error
	// LocalAddr is the source address of our adverts: the interface's
	// primary IPv4 address, its IPv6 link-local address, or the unicast
	// source. It is also our primary address for tie-breaking.
	LocalAddr() netip.Addr
}

// AddrManager adds and removes the virtual addresses on the router's
// interface. Both calls are idempotent. A Router makes each call on a
// goroutine of its own and waits for it, so that a call's deep stack
// (netlink) is not kept by the Router's goroutine; a panic in a call is
// raised again in the Router's.
type AddrManager interface {
	// AddVIPs adds vips. accept is false when the master must not accept
	// packets addressed to them (RFC 5798 Accept_Mode false).
	AddVIPs(ctx context.Context, vips []netip.Prefix, accept bool) error
	// RemoveVIPs removes vips.
	RemoveVIPs(ctx context.Context, vips []netip.Prefix) error
}

// Announcer tells the segment where the virtual addresses are: gratuitous
// ARP for IPv4, unsolicited neighbour advertisements for IPv6.
type Announcer interface {
	// Announce starts announcing addrs and returns promptly. Repeats and
	// periodic refreshes, if any, run until ctx is done; the Router cancels
	// ctx when it stops being Master.
	Announce(ctx context.Context, addrs []netip.Addr) error
}

// LowerPrioAnnouncer is implemented by an Announcer that announces with
// a timing of its own when a master hears a lower priority master
// (keepalived garp_lower_prio_delay / garp_lower_prio_repeat;
// netlink.Announcer). The Router calls AnnounceLowerPrio then, instead of
// Announce, on an Announcer that has it.
type LowerPrioAnnouncer interface {
	// AnnounceLowerPrio is Announce with the lower-priority timing.
	AnnounceLowerPrio(ctx context.Context, addrs []netip.Addr) error
}

// PeerSetter is implemented by a Conn that filters received messages by
// unicast peer itself (SocketConn, vrrptest.Conn). Router.Reconfigure
// gives it the new peers when they change; a Conn that does not filter
// needs nothing, as the Router checks every sender (DropPeer).
type PeerSetter interface {
	// SetPeers replaces the unicast peers messages are accepted from. A
	// multicast Conn cannot become unicast, nor the reverse.
	SetPeers(peers []netip.Addr) error
}
