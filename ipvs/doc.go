// Package ipvs keeps the kernel's IPVS table (Linux Virtual Server) in a
// desired state: a typed model of virtual servers and real servers, a
// reconciler that computes and applies the smallest set of changes,
// keepalived's real-server semantics (inhibit on failure, sorry server,
// quorum with hysteresis), and a kernel backend speaking IPVS generic
// netlink.
//
// # Model
//
// A [Service] is a virtual server: a [ServiceKey] (protocol, address and
// port, or a firewall mark) with a [Scheduler] and persistence settings. A
// [Destination] is a real server of a service: a [DestinationKey] (address
// and port) with a [Forward] method, a weight and thresholds. A
// [VirtualServer] is a service with its destinations, one entry of a desired
// table. Enums have String methods and an invalid zero value (or, for
// [TunnelType], the kernel's default). [Service.Validate],
// [Destination.Validate], [VirtualServer.Validate] and [ValidateTable] apply
// the rules of ipvsadm and the kernel and return [*FieldError]s naming the
// object and the field, wrapping [ErrInvalid]. [Service.Normalize] and
// [Destination.Normalize] give the form the kernel reports (a zero
// persistence mask reads back as /32 or /128); backends report that form
// and the reconciler compares it.
//
// # Backends
//
// A [Backend] is an IPVS table. [Open] returns the kernel's ([Kernel], Linux
// only), in the network namespace [KernelConfig].Netns names by path: it
// needs CAP_NET_ADMIN and the ip_vs module (and the ip_vs_<sched> modules
// of the schedulers used) loaded; without IPVS it fails with [ErrNoIPVS].
// It supports every forwarding method per real server (masquerade, route,
// tunnel), tunnel types IPIP, GUE (with its port) and GRE with optional
// checksums, and real servers of the other address family than their
// service behind tunnels (IPv6 service to IPv4 real server and the
// reverse); it reads 64-bit counters (connections, packets, bytes, rates)
// per service and per destination. After Close a backend fails with
// [ErrClosed]. Package ipvstest has an in-memory table with fault
// injection and operation counts, for tests that need no kernel.
//
// # Sync, Apply and ownership
//
// A [Syncer] makes a backend hold a desired table. [Syncer.Sync] reads what
// the table holds, and creates, updates and deletes services and
// destinations, the fewest operations that make the two equal. A second
// Sync with the same table does nothing; a change of k weights is k
// updates. [Syncer.Apply] does the same without reading: it compares with
// the Syncer's record of what it last read and wrote, so a change of k
// weights is k writes and no read (a Sync reads one dump per desired
// service). Apply falls back to a full Sync when it has no record to trust
// (before the first Sync, after any failure, or for a service it does not
// know); what other programs change in the owned services is repaired by
// the next Sync, not by Apply, so a program using Apply runs Sync now and
// then. Ownership is explicit: the Syncer owns the keys of every desired
// table it was given (and those adopted from a previous run through
// [SyncConfig.Adopt]), and deletes only owned services that are no longer
// desired. Services of other programs are never touched, nor their
// destinations read; a desired service that already exists is taken over.
// Each failed operation is reported as a [*SyncError] (joined) and the rest
// still applied; the next Sync converges. [ReadStats] and
// [Syncer.ReadStats] read the kernel's counters of services and
// destinations.
//
// # Batching
//
// A Backend that is also a [Batcher] takes a list of [Change]s in one call;
// the Syncer gives it all the writes of a Sync or Apply, in order. The
// kernel backend sends them as up to a few hundred IPVS netlink requests
// per sendmsg and matches each error the kernel answers to its change,
// instead of one round trip per write; each change still succeeds or
// fails on its own. [ApplyEach] is the one-by-one path, for backends without Batcher.
//
// # Keepalived's semantics
//
// A [Pool] applies keepalived's rules to one virtual server whose real
// servers' health comes from outside (package check, through the caller):
// a failed real server is removed, or kept with weight 0 with
// InhibitOnFailure; its weight can follow a dynamic checker; servers start
// up, or down with Alpha; the quorum (the sum of the weights of the up
// servers) is gained at Quorum+Hysteresis and lost below Quorum-Hysteresis;
// while it is lost a sorry server, if configured, replaces the real servers.
// A Pool is a pure value that turns health into a desired [VirtualServer];
// [Pool.Reconfigure] replaces its configuration as keepalived's reload
// does, keeping the health, weights and quorum state of what stays.
//
// # Balancer
//
// A [Balancer] holds many pools, takes health and weight changes from any
// goroutine, and applies them from one goroutine (Run, which runs once:
// a second call returns [ErrRan]) with coalescing, retry, and a full Sync
// every BalancerConfig.ResyncInterval. [Balancer.SetPools] replaces the
// pools while it runs and writes only the difference (one update for one
// changed weight). Quorum changes and real servers going up and down are
// [Event]s, delivered to each [Subscription] ([Balancer.Subscribe]) after
// the Sync that applied them; a subscription is a bounded queue that drops
// its oldest event when full and counts it, so the Balancer never waits.
// Like keepalived, the Balancer removes its services when it stops unless
// told to keep them (BalancerConfig.KeepOnExit, keepalived's
// --dont-release-ipvs); with Omega (for all pools, or a pool's own) it
// reports the servers and quorums still up as down when it stops. A
// suspended pool (PoolConfig.Suspended, keepalived's ha_suspend) keeps its
// state while its service is out of the table. [Balancer.Stats] is a
// snapshot of its counters; [Balancer.ReadStats] reads the kernel's.
package ipvs
