// Package bgp announces a Supervisor's VIPs to routers over BGP, through
// an embedded GoBGP server (github.com/osrg/gobgp/v4, driven through its
// Go API; its gRPC API server is never started).
//
// A Speaker follows a vigil.Supervisor's events and announces each VIP
// (an IPv4 /32, an IPv6 /128, or any prefix) while its gate is open, and
// withdraws it when the gate closes:
//
//   - anycast: every box announces the VIP while its trackers pass and
//     its virtual servers have quorum (VIP.Trackers, VIP.VirtualServers),
//     so the routers spread traffic over all healthy boxes with ECMP;
//   - follow VRRP: only the box where VIP.Instance is MASTER announces it,
//     for L3 fabrics without a shared segment;
//   - drain: on a graceful stop, Speaker.Drain announces the VIPs again
//     with the GRACEFUL_SHUTDOWN community (RFC 8326) and a worse MED,
//     waits Drain.Time so traffic leaves, then withdraws them; call it
//     before cancelling the Supervisor.
//
// Peers have their ASN, address, TCP MD5 password, hold and keepalive
// times, eBGP multihop and local address; each VIP its communities, large
// communities, MED and LOCAL_PREF. IPv4 VIPs go to IPv4 peers and IPv6
// VIPs to IPv6 peers (IPv4 and IPv6 unicast). Graceful restart (RFC 4724)
// is GoBGP's: when enabled, a Speaker stopped without Drain leaves no
// NOTIFICATION, and helper routers keep its routes for the restart time.
//
// Importing package vigil does not pull in GoBGP: only this package does.
//
// One Speaker per process: GoBGP keeps its route-selection options in
// package variables that each of its servers writes when it starts.
//
// Typical use, next to the Supervisor's Run:
//
//	sp, err := bgp.New(sup, bgp.Config{
//		ASN: 64513, RouterID: netip.MustParseAddr("192.0.2.1"),
//		Peers: []bgp.Peer{{Address: netip.MustParseAddr("192.0.2.254"), ASN: 64512}},
//		VIPs: []bgp.VIP{{Prefix: netip.MustParsePrefix("203.0.113.10/32"), Trackers: []string{"chk_web"}}},
//	})
//	...
//	go sp.Run(ctx)
//	go sup.Run(ctx)
//	<-stop
//	sp.Drain(drainCtx) // traffic leaves, routes withdrawn
//	cancel()           // then the Supervisor and the Speaker stop
package bgp
