// Package vigil is an embeddable Go library for high availability and load
// balancing: everything keepalived does, as packages a Go service imports
// and runs in its own process, plus a drop-in daemon for keepalived.conf.
//
// The packages, one noun each (a sibling xxxtest package holds fakes):
//
//	vrrp            VRRP v2/v3 codec, pure state machine, Router
//	vrrp/vrrptest   in-memory L2 segment (Hub) and recording fakes
//	check           health checkers (TCP, HTTP(S), ICMP, UDP, DNS, SMTP,
//	                exec, file), Monitor (rise/fall/retry) and Group
//	sched           periodic job scheduler: timer heap, jitter, staggering,
//	                concurrency limit
//	netlink         VIPs, routes, rules, link watcher, GARP/NA, VMAC
//	ipvs            IPVS model, Syncer (desired-state reconciler), keepalived's
//	                real-server semantics (Pool, Balancer), kernel backend
//	ipvs/ipvstest   in-memory IPVS table with fault injection
//	vigiltest       in-memory Platform (vrrptest + ipvstest) for the wiring
//	process         keepalived's vrrp_track_process on the proc connector
//	notify          keepalived's notify scripts and FIFO lines, in order
//	watchdog        heartbeats, stall detection, sd_notify (planned)
//	config          keepalived.conf parser (planned)
//
// The parts meet only here, in the root package. A Host runs VRRP
// instances on a Platform: what a host provides (per instance a Conn, an
// address manager and an announcer; interface and address events; an
// IPVS backend). On Linux, NewHost opens the real platform in a network
// namespace: one raw socket per interface and family, VIPs through
// netlink, gratuitous ARP / NA, optional VMAC, and a watcher whose
// interface-down events put instances into FAULT and whose address events
// let a master put back a VIP someone removed. NewHostOn runs the same
// wiring on any Platform; vigiltest's in-memory one needs no root and runs
// under testing/synctest:
//
//	h, err := vigil.NewHost(vigil.HostConfig{Instances: []vigil.InstanceConfig{{
//		Interface: "eth0",
//		VRRP: vrrp.Config{Name: "VI_1", VRID: 51, Version: vrrp.V3, Priority: 150,
//			Interval: 100 * time.Millisecond,
//			VIPs:     []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24")}},
//	}}})
//	if err != nil { ... }
//	err = h.Run(ctx) // cancel ctx to leave gracefully (priority 0, VIPs removed)
//
// and in memory:
//
//	p, _ := vigiltest.New(vigiltest.Config{Hub: vrrptest.NewHub(1),
//		Addr4: netip.MustParseAddr("192.0.2.1")})
//	h, err := vigil.NewHostOn(p, cfg)
//
// The packages also work alone; a router on an in-memory segment:
//
//	hub := vrrptest.NewHub(1)
//	conn, _ := hub.Join(netip.MustParseAddr("192.0.2.1"))
//	r, err := vrrp.NewRouter(conn, vrrptest.NewAddrs(), &vrrptest.Announcer{}, vrrp.Config{
//		Name: "VI_1", VRID: 51, Version: vrrp.V3, Priority: 150,
//		Interval: 100 * time.Millisecond,
//		VIPs:     []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24")},
//	})
//	if err != nil { ... }
//	go r.Run(ctx) // cancel ctx to leave gracefully (priority 0)
//
// See examples/quickstart for a three-router failover demonstration.
package vigil
