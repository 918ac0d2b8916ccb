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
// published to subscribers (Subscribe) without ever blocking the router:
// each subscription is a queue that drops its oldest event when full and
// counts it, and its channel is closed when Run returns; SubscribeTo
// delivers into a channel the caller made, which many routers may share
// (one reader for all, no queue per router). A Router runs
// once (ErrRan). Configuration errors are *FieldErrors naming the
// instance and the field, wrapping ErrInvalid; Config.Validate reports
// them all at once. In every field, zero means the default and a negative
// value means off.
//
// # Changing a running router
//
// Everything a running router is told goes to its own goroutine and never
// blocks the caller:
//
//   - Track and Untrack: priority tracking with keepalived's rules. The
//     effective priority is the configured one plus the weights of the
//     tracked sources, clamped to 1..254; an address owner (255) ignores
//     weights. A master advertises a new priority at once, so a backup
//     that now outranks it preempts after its Master_Down_Interval.
//   - SetFault: a source whose failure means FAULT (keepalived's weight
//     0), owner or not; the router leaves FAULT when the last one clears.
//   - Reconfigure: a reload. Priority, interval, VIPs, unicast peers,
//     authentication, preemption and accept mode change without leaving
//     MASTER and without priority 0: a master removes the VIPs that go,
//     adds and announces only the new ones, and advertises the new
//     configuration at once. The identity (VRID, version, family,
//     multicast or unicast) cannot change: the caller replaces the router.
//   - AddrRemoved: someone else removed an address from the interface; a
//     master puts back the VIP it was (the router is the only writer of
//     its VIPs).
//
// # Sync groups
//
// A SyncGroup is keepalived's vrrp_sync_group as a pure value: members
// that move together. One member faulting takes every member to FAULT
// (masters send priority 0); the group becomes MASTER only when every
// member would be master, and leaves it for BACKUP when one master
// member meets a higher priority master; it leaves FAULT when the last
// member's own fault clears. Its runner (vigil's Supervisor) feeds it
// each member router's SyncStatus (SubscribeSync) and tells each router
// the group's state (SyncTo). A router in a group never becomes master
// on its own: when it would, it stays in BACKUP, reports WantMaster, and
// waits for the group. SyncGroupConfig's MemberTrackerWeight and
// GroupTrackerWeight say how keepalived applies the members' and the
// group's trackers (sync_group_tracking_weight).
//
// SetTimers, before Run, chooses the clock of Master_Down_Timer: Go
// timers (the default, which testing/synctest drives) or, on Linux, a
// timerfd with a final approach, which takes over within microseconds of
// the RFC's deadline (vigil's Host uses it); routers sharing a Clock
// skip the approach's polling while others of them take over.
//
// # Virtual addresses: the guarantee
//
// A router's virtual addresses are present only while it is MASTER,
// whoever put them there:
//
//   - At start, a router that does not start as master (every router but
//     an address owner, priority 255) removes its virtual addresses with
//     their routes and rules before it enters BACKUP or FAULT, whether a
//     run that crashed, an operator or another program added them. This
//     is keepalived's rule at start (vrrp_init_state removes them, forced).
//   - Entering BACKUP or FAULT from MASTER, it sends priority 0 (FAULT,
//     shutdown) or nothing (BACKUP) and removes them.
//   - On exit (Run's context done), a master sends priority 0 and removes
//     them; a backup leaves the interface as it is.
//   - Becoming master sends the advert, announces them (netlink.Announcer
//     sends its first gratuitous ARP / NA before Announce returns), then
//     adds them: the segment learns of the new master first, and the
//     kernel work of the add (0.1–0.35 ms) delays neither frame. RFC 5798
//     §6.4.1 asks for the advert, then the gratuitous ARP / NA, and says
//     nothing of the addresses. keepalived adds between the two (advert,
//     add, announce: vrrp_state_master_tx, vrrp_state_become_master; its
//     captures show the announcement 0.1–0.15 ms after the advert), and
//     FRR's vrrpd keeps the addresses on its macvlan and sends advert then
//     announcement once it is up (vrrp_change_state_master). What the
//     order costs: a frame for a VIP that reaches the new master between
//     its first announcement and the end of the add is dropped, as it
//     would have been at the master that fell silent; an
//     ARP request or neighbour solicitation for a VIP in that window goes
//     unanswered, and the asker's entry is filled by a later frame of the
//     burst, or by its own retry.
//   - While master, a reload (Reconfigure) removes the VIPs it drops and
//     adds the new ones, and a VIP someone else removed is put back when
//     the router is told (AddrRemoved; vigil's Host tells it from its
//     watcher).
//
// Removal goes through the AddrManager: vigil's Host removes a virtual
// address configured in several instances on one interface only when
// none of them is master, so one instance's BACKUP never takes another's
// address. Accept mode does not change which addresses are present.
//
// # Addresses that cannot be held
//
// The AddrManager may fail: a busy kernel (EBUSY, ENOBUFS), a missing
// capability (EPERM). Every failed call is counted (Stats.AddrErrors)
// and logged (the 1st and every 100th of a run of them). A master whose
// VIPs were not all added does not announce them (the announcement of a
// master becoming, started before the add, is stopped when the add
// fails: the frames already sent stay sent), and adds them all
// again after AddrRetryFirst, doubling the wait, AddrRetries times
// (Stats.AddrRetries); the add that succeeds announces them. If the
// last retry fails too, the master cannot hold its VIPs: it enters
// FAULT (priority 0 sent, so a backup takes over at once; counted in
// Stats.AddrFaults) and stays there for AddrFaultHold, then starts again
// as when a fault clears; the hold doubles with each such fault, up to
// AddrFaultHoldMax, until the VIPs are added. A removal that fails is
// retried the same way while the router is not master (and for VIPs a
// reload dropped), then given up with an error logged. The state machine
// sees only a fault raised and cleared, as for any tracked source.
//
// keepalived does less: a failed netlink add or delete is logged and the
// address marked as not set (vrrp_ipaddress.c, netlink_iplist), with no
// retry and no change of state, so a master may go on advertising
// addresses it does not hold.
//
// # Sends that must reach the wire
//
// A send that fails is tried once more at once: a socket returns an
// error kept from a past state (an ICMP error from a unicast peer, taken
// by the send rather than the reader) to the next call, and the failed
// call consumes it. If the interface a Socket is bound to was deleted and
// created again, the Socket binds itself to the new one (Rebind) before
// the second try; vigil's Host also rebinds when its watcher sees the
// interface added, so a backup hears its master again before it could
// time out. Retries and rebinds are counted in SocketStats.
//
// # Repeats: adverts that wake no router
//
// In the steady state a router's advert is a repeat: a master sends the
// same bytes every interval, a backup hears the same bytes from its
// master every interval and only restarts Master_Down_Timer. On a
// Socket neither wakes the Router's goroutine. A backup's SocketConn
// compares each message with the last advert its Router stepped and,
// for the same message from the same place before the deadline, counts
// it and restarts the Router's timer itself; a master's Socket sends the
// advert its Router sent last, when due, with its other masters' due
// at the same time, in one wake-up of one goroutine and one
// sendmmsg(2) (SocketStats.RepeatWrites counts the calls). The Router steps
// the latest repeat, or takes its advert back with the time the next is
// due, before it steps anything else, so the machine sees what it
// would have seen and the wire carries what it would have carried
// (SocketStats.RepeatsReceived and RepeatsSent count them). At 1,000
// instances this took a master from 23.5 to 16.9 µs of CPU per advert
// and a backup from 15.0 to 6.9, and the one sendmmsg(2) per wake-up to
// 13.7 and 5.6: 1.09x and 0.90x a floor of raw syscalls and nothing
// else, one per advert (bench/README.md, "Repeats: adverts that wake no
// router", "One system call per wake-up").
package vrrp

//go:generate go tool stringer -type=State,Reason,Timer,InputKind,ActionKind,DropReason,Version,AuthType -linecomment -output=enum_string.go
