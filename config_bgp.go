package vigil

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// BGP is what a configuration file says of announcing the VIPs over BGP
// (vigil's extension: keepalived has no BGP, its users run ExaBGP or FRR
// beside it). The Supervisor ignores it, as it ignores Daemon: package
// bgp announces, and bgp.FromConfig turns a BGP into its Config. Its
// types are package bgp's (bgp.Peer is BGPPeer, bgp.VIP is BGPVIP, ...):
// one definition, so the two cannot drift apart, and package vigil stays
// free of GoBGP.
//
// Config.Validate checks it (BGP.Validate's rules, and that the names a
// VIP's gate uses are the Config's instances, trackers and virtual
// servers).
type BGP struct {
	// ASN is the local autonomous system number (required, 1..4294967295;
	// 4-byte ASNs are sent as RFC 6793 says).
	ASN uint32
	// RouterID is the BGP identifier, an IPv4 address (required).
	RouterID netip.Addr
	// ListenPort, when positive, makes the Speaker also accept sessions on
	// that TCP port (179 is BGP's). Zero (the default) and negative: it
	// does not listen and opens its sessions itself, so no port is bound
	// and a router on the same host keeps 179. A session offered while Run
	// is still adding its peers is refused (the router tries again).
	ListenPort int
	// Peers are the routers the VIPs are announced to (at least one).
	Peers []BGPPeer
	// VIPs are the routes announced, each while its gate is open.
	VIPs []BGPVIP
	// GracefulRestart, when Enabled, advertises the graceful restart
	// capability (RFC 4724) for the peers' families: when the Speaker
	// stops without Drain (a crash, a restart of the daemon) a helper
	// router keeps its routes for RestartTime, marked stale, until the
	// restarted Speaker sends them again.
	GracefulRestart BGPGracefulRestart
	// Drain is what Speaker.Drain does before withdrawing.
	Drain BGPDrain
}

// BGPPeer is one BGP neighbour (bgp.Peer).
type BGPPeer struct {
	// Address is the peer's address (required); its family decides the
	// session's address family: IPv4 unicast on an IPv4 session, IPv6
	// unicast on an IPv6 one. A VIP goes to the peers of its family.
	Address netip.Addr
	// ASN is the peer's autonomous system (required): equal to
	// BGP.ASN makes an iBGP session, another an eBGP one.
	ASN uint32
	// Port is the peer's TCP port; zero means 179.
	Port uint16
	// Password, when not empty, signs the session's TCP segments with
	// TCP MD5 (RFC 2385); at most 80 bytes, the kernel's limit.
	Password string
	// HoldTime is the hold time offered in OPEN (the session uses the
	// smaller of the two sides'); zero means 90 s. Whole seconds, at
	// least 3 s.
	HoldTime time.Duration
	// KeepaliveInterval is the interval between KEEPALIVEs; zero means a
	// third of HoldTime. Whole seconds, less than HoldTime.
	KeepaliveInterval time.Duration
	// ConnectRetry is how long the Speaker waits before connecting again
	// after a failed attempt; zero means 5 s. Whole seconds.
	ConnectRetry time.Duration
	// Multihop, when positive, is the TTL of an eBGP session's packets
	// for a peer that is not directly connected (eBGP multihop); zero
	// means directly connected (TTL 1 on eBGP), negative is invalid.
	Multihop int
	// LocalAddress is the session's source address; the zero value lets
	// the kernel choose. It must be of Address's family.
	LocalAddress netip.Addr
	// Passive makes the Speaker wait for the peer to connect instead of
	// connecting (it needs ListenPort).
	Passive bool
}

// BGPGracefulRestart is the graceful restart capability (RFC 4724) as
// GoBGP supports it as a restarting speaker (bgp.GracefulRestart).
type BGPGracefulRestart struct {
	Enabled bool
	// RestartTime is how long the peers keep the routes after the
	// session ends without a NOTIFICATION; zero means 120 s. Whole
	// seconds, at most 4095 s.
	RestartTime time.Duration
}

// BGPDrain is how Speaker.Drain moves traffic off this box before its
// routes are withdrawn (bgp.Drain): the announced VIPs are sent again
// with the GRACEFUL_SHUTDOWN community (65535:0, RFC 8326), which a
// router honouring RFC 8326 turns into a LOCAL_PREF of 0, and with MED;
// Time later they are withdrawn.
type BGPDrain struct {
	// Time is how long the draining announcement stands before the
	// withdrawal; zero means 5 s, negative withdraws at once (no
	// draining announcement).
	Time time.Duration
	// MED, when not zero, replaces the VIPs' MED while draining: a
	// higher MED is worse, so routers that compare MEDs prefer the other
	// boxes. Zero keeps each VIP's own MED.
	MED uint32
}

// BGPVIP is one announced route and its gate (bgp.VIP). The gate is open
// while every condition it names holds (all of them): Instance in
// MASTER, each of Trackers up, each of VirtualServers with quorum. A VIP
// naming none is announced while the Supervisor runs. A name the
// Supervisor does not have keeps the gate closed (Config.Validate
// reports it).
//
// Anycast: every box announces the VIP while its trackers or virtual
// servers are healthy, and the routers spread traffic over all healthy
// boxes with ECMP. Follow VRRP: the VIP names an Instance, and only the
// box where it is MASTER announces it (an L3 fabric without a shared
// segment).
type BGPVIP struct {
	// Prefix is the route: a VIP as a /32 or /128, or a configured
	// prefix (required; its host bits must be zero).
	Prefix netip.Prefix
	// NextHop is the route's next hop; the zero value sends the
	// session's local address (next-hop-self). It must be of Prefix's
	// family.
	NextHop netip.Addr

	// Instance, when not empty, names a VRRP instance: the VIP is
	// announced only while it is MASTER.
	Instance string
	// Trackers name trackers of the Supervisor that must be up.
	Trackers []string
	// VirtualServers name virtual servers that must have quorum, as
	// VirtualServerState.Name spells them ("tcp 192.0.2.10:80",
	// "fwmark 7").
	VirtualServers []string

	// Communities (RFC 1997) and LargeCommunities (RFC 8092) are
	// attached to the route.
	Communities      []BGPCommunity
	LargeCommunities []BGPLargeCommunity
	// MED is the MULTI_EXIT_DISC sent; zero sends none (which routers
	// take as 0).
	MED uint32
	// LocalPref is the LOCAL_PREF sent to iBGP peers; zero means 100.
	// eBGP peers never receive one.
	LocalPref uint32
}

// BGPCommunity is a BGP community (RFC 1997; bgp.Community): the high 16
// bits are an AS, the low 16 bits a value, written "AS:VALUE".
type BGPCommunity uint32

// String formats c as "AS:VALUE".
func (c BGPCommunity) String() string {
	return fmt.Sprintf("%d:%d", uint32(c)>>16, uint32(c)&0xffff)
}

// ParseBGPCommunity parses "AS:VALUE", each part 0..65535.
func ParseBGPCommunity(s string) (BGPCommunity, error) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return 0, fmt.Errorf("bgp: community %q: want AS:VALUE", s)
	}
	hi, err1 := strconv.ParseUint(a, 10, 16)
	lo, err2 := strconv.ParseUint(b, 10, 16)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bgp: community %q: want AS:VALUE, each 0..65535", s)
	}
	return BGPCommunity(hi<<16 | lo), nil
}

// BGPLargeCommunity is a large community (RFC 8092; bgp.LargeCommunity):
// a global administrator (an ASN) and two local values, written
// "ASN:V1:V2".
type BGPLargeCommunity struct {
	ASN, Local1, Local2 uint32
}

// String formats c as "ASN:V1:V2".
func (c BGPLargeCommunity) String() string {
	return fmt.Sprintf("%d:%d:%d", c.ASN, c.Local1, c.Local2)
}

// ParseBGPLargeCommunity parses "ASN:V1:V2", each part 0..4294967295.
func ParseBGPLargeCommunity(s string) (BGPLargeCommunity, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return BGPLargeCommunity{}, fmt.Errorf("bgp: large community %q: want ASN:V1:V2", s)
	}
	var v [3]uint32
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return BGPLargeCommunity{}, fmt.Errorf("bgp: large community %q: want ASN:V1:V2, each 0..4294967295", s)
		}
		v[i] = uint32(n)
	}
	return BGPLargeCommunity{v[0], v[1], v[2]}, nil
}
