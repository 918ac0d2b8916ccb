// Package vrrp implements the Virtual Router Redundancy Protocol: VRRPv2
// (RFC 3768) and VRRPv3 (RFC 5798, RFC 9568), IPv4 and IPv6, wire
// compatible with keepalived.
//
// It has three layers:
//
//   - Advertisement: the hand-written codec, strict on parse (typed errors,
//     checksums with the IPv4/IPv6 pseudo-header, v2 simple-password auth)
//     and allocation free on the hot path.
//   - Machine: the pure state machine of RFC 5798 §6.4 with keepalived's
//     additions (preempt_delay, nopreempt, the `state` hint, FAULT). It has
//     no goroutines, clock or sockets: Step takes an input and the time and
//     returns actions.
//   - Router: runs one virtual router (one VRID, one interface, one family)
//     over three small interfaces it declares: Conn (adverts in and out),
//     AddrManager (add/remove the virtual addresses) and Announcer
//     (gratuitous ARP / unsolicited NA). On Linux, Socket is the Conn (one
//     raw socket per interface and family, shared by its routers) and
//     package netlink implements the other two; package vrrptest provides
//     an in-memory segment for tests.
//
// A Router validates every received advert as keepalived does (TTL 255,
// version, VRID, checksum, authentication, v2 interval, own adverts,
// unicast peers) and counts each drop by reason in Stats. Transitions are
// published to subscribers without ever blocking the router.
package vrrp
