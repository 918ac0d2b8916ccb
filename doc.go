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
//	acceptmode      no_accept: drops traffic to a master's VIPs in an
//	                nftables table of vigil's own (Linux)
//	ipvs            IPVS model, Syncer (desired-state reconciler), keepalived's
//	                real-server semantics (Pool, Balancer), kernel backend
//	ipvs/ipvstest   in-memory IPVS table with fault injection
//	vigiltest       in-memory Platform (vrrptest + ipvstest) for the wiring
//	process         keepalived's vrrp_track_process on the proc connector
//	notify          keepalived's notify scripts and FIFO lines, in order
//	metrics         Prometheus collector over a Supervisor (its own package:
//	                importing vigil does not pull in client_golang)
//	watchdog        heartbeats, stall detection, guarded restarts,
//	                sd_notify
//	host            VRRP instances wired to a Platform (Linux's: sockets,
//	                VIPs, GARP/NA, the link watcher): Host, for a program
//	                that runs VRRP alone, without the Supervisor's imports
//	config          keepalived.conf → vigil.Config: the language (includes,
//	                $params, @ids, ~SEQ, positions) and every keyword
//	bgp             VIPs announced over BGP (embedded GoBGP)
//
// The parts meet here, in the root package (package host wires VRRP
// alone, the Supervisor's VRRP side is built on it). A Supervisor runs a
// Config: keepalived's VRRP and checker processes as one Go value, built
// by a Go service (or by vigild from a keepalived.conf) and run in its
// own process:
//
//	p, err := vigil.OpenLinux(vigil.LinuxConfig{}) // or vigiltest.New(...)
//	s, err := vigil.New(p, cfg)
//	sub := s.Subscribe(64)    // transitions, trackers, real servers, quorum
//	go s.Run(ctx)             // cancel ctx to leave gracefully
//	ch, err := s.Reload(ctx, next)
//	st := s.State()           // JSON-ready snapshot
//
// What it does, and what it guarantees:
//
//   - Tracking follows keepalived's arithmetic (vrrp_track.c): a tracker of
//     weight 0 puts the instance in FAULT while it fails; another weight is
//     added to the priority while it passes (positive) or fails
//     (negative), reversed by Reverse; a track_file adds value × weight;
//     the effective priority is clamped to 1..254 and an address owner
//     (255) ignores weights. Sync group members drop or zero their
//     weighted trackers as keepalived does, unless the group has
//     TrackingWeight. A tracker used by ten instances runs once (one
//     check.Group for every check), and track_process follows the kernel's
//     process events, not a polled pidof.
//   - Sync groups move together by keepalived's rules (vrrp.SyncGroup).
//   - Notifications keep their order per instance, per group and per
//     server: each key's FIFO lines are written, and its scripts run, in
//     the order of the transitions, one script at a time (keepalived forks
//     them and lets them race: keepalived#1991, #782). A slow script delays
//     only its own key's later scripts, never a state machine; a key with
//     more than Global.NotifyQueue notifications waiting drops the oldest
//     waiting one and counts it. Scripts run without a shell, in their own
//     process group, without IFS, LD_PRELOAD and LD_LIBRARY_PATH, as their
//     User, for at most their Timeout; keepalived's script security checks
//     run at New and Reload, not at run time.
//   - Reload never flaps what did not change: instances are matched by
//     keepalived's identity and keep their state, trackers by name keep
//     theirs, virtual and real servers keep their health and quorum, and
//     only the difference is written to the kernel.
//
// Where vigil differs from keepalived, on purpose: a check tracker counts
// as passing until its first round (which runs at once) says otherwise,
// unless its Policy has Alpha (init_fail), where keepalived holds the
// instance in INIT until the script ran; a track_file that cannot be read
// is a FAULT (keepalived reads it as 0) and is read every
// TrackerFile.Interval rather than watched with inotify; notify scripts
// have a timeout (a minute by default); tracker intervals may be below a
// second (keepalived 2.2 takes whole seconds); a master whose priority
// drops advertises it at once (keepalived waits for its next advert).
//
// A Host is the smaller wiring the Supervisor grew from: VRRP
// instances on a Platform, what a host provides (per instance a Conn, an
// address manager and an announcer; interface and address events; an
// IPVS backend). It lives in package host, which a program running VRRP
// alone imports without linking the Supervisor and the checkers
// (net/http, DNS: ~1.3 MiB of resident memory at start); vigil.Host,
// vigil.Platform and the rest are the same types under this package's
// names. On Linux, host.New (vigil.NewHost) opens the real platform in a
// network namespace: one raw socket per interface and family, VIPs
// through netlink, gratuitous ARP / NA, optional VMAC, and a watcher
// whose interface-down events put instances into FAULT and whose address
// events let a master put back a VIP someone removed. host.NewOn runs
// the same wiring on any Platform; vigiltest's in-memory one needs no
// root and runs under testing/synctest:
//
//	h, err := host.New(host.Config{Instances: []host.InstanceConfig{{
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
//	h, err := host.NewOn(p, cfg)
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
