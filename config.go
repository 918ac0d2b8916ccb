package vigil

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/process"
)

// Config is everything a Supervisor runs: keepalived's configuration as
// Go values, without its syntax. Package config (and vigild) build one
// from a keepalived.conf; a Go service builds one directly.
//
// Names connect the parts: instances and sync groups use trackers by
// name, sync groups list instances by name, virtual servers use virtual
// server groups by name. Validate reports every problem at once.
//
// Checks (trackers' and real servers') connect from the network
// namespace of the process, not from the Platform's: a Supervisor on
// OpenLinux with a Netns holds its VIPs and sends its adverts there,
// while its checkers dial from where the process runs (start the process
// in the namespace, e.g. with `ip netns exec`, to check from there).
type Config struct {
	// Global holds the settings of keepalived's global_defs that the
	// Supervisor uses.
	Global Global
	// Trackers are the named health sources instances and sync groups
	// track (vrrp_script, track_file, vrrp_track_process, or any
	// check.Checker). A tracker used by several instances runs once.
	Trackers []Tracker
	// Instances are the VRRP instances (vrrp_instance).
	Instances []Instance
	// SyncGroups are groups of instances that change state together
	// (vrrp_sync_group). An instance belongs to one group at most.
	SyncGroups []SyncGroup
	// VirtualServers are the IPVS services and their real servers
	// (virtual_server). The Supervisor's Balancer is the only writer of
	// the IPVS table.
	VirtualServers []VirtualServer
	// VirtualServerGroups are named sets of services a virtual server
	// may stand for (virtual_server_group).
	VirtualServerGroups []VirtualServerGroup
	// Static are addresses, routes and rules held while the Supervisor
	// runs, whatever the VRRP states (static_ipaddress, static_routes,
	// static_rules).
	Static Static
	// InterfaceDelays hold back the effect of interfaces going down or
	// up on the instances that track them (interface_up_down_delays);
	// none means every change acts at once.
	InterfaceDelays []InterfaceDelay
	// BGP, when not nil, announces the VIPs to routers over BGP (vigil's
	// extension, see BGP). The Supervisor ignores it: package bgp's
	// Speaker, which follows the Supervisor, announces (vigild runs one
	// when its configuration has a bgp block).
	BGP *BGP
	// Watchdog says how the Supervisor watches and restarts its loops
	// and notifies systemd's watchdog; the zero value is the defaults.
	// Reload ignores it.
	Watchdog Watchdog
	// Logger receives all logs; nil discards them. Reload ignores it.
	Logger *slog.Logger
}

// Global is keepalived's global_defs, as far as the Supervisor needs it.
type Global struct {
	// RouterID names this node (router_id) in logs; empty means the host
	// name.
	RouterID string
	// GARP is the default announcement timing of instances whose GARP is
	// the zero value (vrrp_garp_master_delay, vrrp_garp_master_repeat,
	// vrrp_garp_interval, ...).
	GARP netlink.AnnounceTiming
	// ScriptSecurity are keepalived's enable_script_security and
	// use_symlink_paths: the checks made on every notify script when the
	// Supervisor is made and reloaded.
	ScriptSecurity notify.Security
	// ScriptUser runs the notify scripts whose User is nil (keepalived's
	// script_user; notify.DefaultUser finds keepalived's default); nil
	// means this process's user. Checker programs (check.Exec) name
	// their own user.
	ScriptUser *notify.User
	// NotifyFIFO receives every notify line (notify_fifo); VRRPNotifyFIFO
	// only the instances' and groups' (vrrp_notify_fifo), LVSNotifyFIFO
	// only the virtual and real servers' (lvs_notify_fifo). Nil means
	// none.
	NotifyFIFO, VRRPNotifyFIFO, LVSNotifyFIFO *notify.FIFOConfig
	// NotifyPriorityChanges turns Instance.NotifyPriorityChanges on for
	// every instance (vrrp_notify_priority_changes).
	NotifyPriorityChanges bool
	// NotifyQueue bounds the notifications waiting per instance, group or
	// server (notify.Config.QueueLen); zero means notify.DefaultQueueLen.
	NotifyQueue int
	// KeepIPVSOnExit leaves the virtual servers in the kernel when Run
	// returns (keepalived's --dont-release-ipvs); by default they are
	// removed, as keepalived does.
	KeepIPVSOnExit bool
	// CheckConcurrency bounds the checks (tracker and real-server
	// checks) running at once (check.GroupConfig.MaxInFlight): zero means
	// the default (1024), negative no bound.
	CheckConcurrency int
	// StartupDelay holds the instances in INIT for this long after Run
	// starts (vrrp_startup_delay, vrrp_delay_after_boot): they send and
	// read no adverts, then start as they would have at once. A reload
	// does not change a delay under way. 0 and negative mean no delay.
	StartupDelay time.Duration
	// StartupScript runs when Run starts, before anything else
	// (keepalived's startup_script), and ShutdownScript when Run has
	// stopped everything, just before it returns (shutdown_script). Run
	// waits for each to end, whatever its exit status, for at most its
	// Timeout (package config sets keepalived's startup_script_timeout
	// and shutdown_script_timeout, 10 s by default). They run as
	// ScriptUser when their User is nil and are checked as the notify
	// scripts are (an unsafe one is disabled and logged). Nil means none.
	// A reload replaces ShutdownScript; StartupScript has already run.
	StartupScript, ShutdownScript *notify.Script
	// RSInitNotifies reports each real server that is up when the
	// virtual servers start as coming up: its EventServerUp, FIFO line
	// and NotifyUp (rs_init_notifies). By default only changes notify.
	RSInitNotifies bool
	// SyncDaemon runs the kernel's IPVS connection-synchronisation
	// daemons by a VRRP instance's state (lvs_sync_daemon); nil means
	// none are started.
	SyncDaemon *SyncDaemon
	// LVSFlush empties the whole IPVS table, services of other programs
	// included, when Run starts, before the virtual servers are added
	// (lvs_flush); a reload does not flush. By default other services
	// stay.
	LVSFlush bool
	// LVSFlushOnStop empties the whole IPVS table when Run returns, if
	// there are virtual servers and KeepIPVSOnExit is off
	// (lvs_flush_on_stop); by default only the virtual servers vigil
	// configured are removed (lvs_flush_on_stop VS).
	LVSFlushOnStop bool
	// LVSTimeouts sets the namespace's IPVS connection timeouts
	// (lvs_timeouts) when Run starts and at each Reload; a zero field
	// keeps the value the kernel had before the first change. The
	// Supervisor reads those original timeouts once, before its first
	// change, and restores them when a reload sets none and when Run
	// returns. Zero means the timeouts are not touched.
	LVSTimeouts ipvs.Timeouts
	// FIFOStatesOnReload writes, after each successful Reload, the
	// state of every sync group and instance the reload kept to the
	// notify FIFOs (fifo_write_vrrp_states_on_reload), for their
	// readers to start again from; by default only changes are
	// written. (keepalived's code leaves out the instances that stay
	// MASTER; vigil writes them too.)
	FIFOStatesOnReload bool
	// Daemon is for the process around the Supervisor (vigild); the
	// Supervisor ignores it.
	Daemon Daemon
	// NFTables names the nftables table that enforces no_accept
	// (keepalived's nftables, nftables_priority, nftables_counters). It
	// is the Linux platform's (LinuxConfig.NFTables, which vigild sets
	// from it); the Supervisor and Reload ignore it.
	NFTables NFTables
}

// A Tracker is a named source of health that instances and sync groups
// track: exactly one of Check, File and Process is set.
type Tracker struct {
	// Name is how instances and groups refer to it; required, unique.
	Name string
	// Check is a checker run under a policy: keepalived's vrrp_script is
	// a *check.Exec with Policy{Interval: 1s, Timeout: 1s, Rise, Fall,
	// Alpha: init_fail}; any check.Checker (a Go function, an HTTP
	// check) is tracked the same way.
	Check *TrackerCheck
	// File is keepalived's track_file: a number read from a file.
	File *TrackerFile
	// Process is keepalived's vrrp_track_process: the number of running
	// processes that match, followed through the kernel's process events.
	// Its Name is ignored (the Tracker's is used).
	Process *process.Spec
	// Weight is the tracker's weight where a Track does not set one:
	// for a check or a process, 0 puts the instance in FAULT while the
	// tracker fails, a positive weight is added to the priority while it
	// passes, a negative one while it fails; for a file, the value read
	// times Weight is added (keepalived's track_file), and a weight of 0
	// makes any non-zero value a FAULT. Reverse inverts the sense
	// (keepalived's "weight W reverse"). keepalived's default weight of
	// a track_file is 1: set it here.
	Weight  int
	Reverse bool
}

// TrackerCheck is a checker and the policy it runs under.
type TrackerCheck struct {
	Checker check.Checker
	// Policy: keepalived's vrrp_script interval, timeout, rise, fall and
	// init_fail (Alpha). Its zero fields are check.Policy's defaults,
	// which are keepalived's real-server checker defaults (60 s), not
	// vrrp_script's (1 s): set Interval and Timeout.
	Policy check.Policy
}

// TrackerFile is keepalived's track_file: the integer in Path, read every
// Interval. A file that cannot be read or holds no integer counts as a
// failure (keepalived reads it as 0).
type TrackerFile struct {
	Path string
	// Interval is how often the file is read: zero means one second,
	// negative is invalid. (keepalived watches it with inotify.)
	Interval time.Duration
	// Init, when not nil, writes the file when Run starts (keepalived's
	// init_file); nil leaves it as it is.
	Init *FileInit
}

// Track uses a named tracker in an instance or a sync group.
type Track struct {
	// Tracker is the tracker's name.
	Tracker string
	// Weight and Reverse, when WeightSet, replace the tracker's own
	// (keepalived's "track_script { NAME weight W [reverse] }").
	Weight    int
	Reverse   bool
	WeightSet bool
}

// TrackInterface tracks an interface's state (track_interface).
type TrackInterface struct {
	Interface string
	// Weight is added to the priority while the interface is up (a
	// negative one while it is down, with Reverse the other way round);
	// 0 means the instance is in FAULT while it is down.
	Weight  int
	Reverse bool
}

// Instance is one VRRP instance (vrrp_instance): a router and what it
// tracks and notifies.
type Instance struct {
	InstanceConfig
	// Track are the named trackers the instance follows (track_script,
	// track_file, track_process).
	Track []Track
	// TrackInterfaces are the interfaces it follows (track_interface).
	// Its own interface is always tracked as a FAULT source, unless
	// DontTrackPrimary.
	TrackInterfaces  []TrackInterface
	DontTrackPrimary bool
	// TrackSrcIP puts the instance in FAULT while its source address
	// (the Conn's local address: UnicastSrc or the interface's primary
	// address) is removed from its interface, until it is added back
	// (keepalived's track_src_ip).
	TrackSrcIP bool
	// Notify are its notify scripts.
	Notify InstanceNotify
	// NotifyPriorityChanges writes a FIFO line when the effective
	// priority changes: INSTANCE "NAME" MASTER_PRIORITY 90 while master,
	// BACKUP_PRIORITY otherwise (keepalived's notify_priority_changes).
	// It is on when this, the instance's sync group's or
	// Global.NotifyPriorityChanges is set.
	NotifyPriorityChanges bool
}

// InstanceNotify are an instance's notify scripts; nil means none.
// Master, Backup, Fault and Stop run with their own arguments when the
// instance enters that state (notify_master, ...), then Any with the four
// arguments "INSTANCE" NAME STATE PRIORITY (notify). When a reload
// removes the instance, Deleted runs (with DELETED for Any) if set or
// SendDeleted, else Fault (FAULT), as keepalived's notify_deleted.
type InstanceNotify struct {
	Master, Backup, Fault, Stop, Deleted, Any *notify.Script
	// MasterRxLowerPri runs, with its own arguments, each time the
	// instance, master, receives an advert from a lower priority master
	// (keepalived's notify_master_rx_lower_pri); the VRRP FIFOs get
	// INSTANCE "NAME" MASTER_RX_LOWER_PRI PRIORITY then, script or not.
	MasterRxLowerPri *notify.Script
	// SendDeleted reports DELETED rather than FAULT on removal
	// (keepalived's notify_deleted without a script).
	SendDeleted bool
}

// SyncGroup is a vrrp_sync_group: instances that move together.
type SyncGroup struct {
	Name string
	// Members are instance names; at least one; an instance in one group
	// only.
	Members []string
	// Track and TrackInterfaces apply to every member, with the weight
	// rules of vrrp.SyncGroupConfig.GroupTrackerWeight.
	Track           []Track
	TrackInterfaces []TrackInterface
	// TrackingWeight is sync_group_tracking_weight: members keep their
	// own weighted trackers (vrrp.SyncGroupConfig.MemberTrackerWeight).
	TrackingWeight bool
	// Notify are the group's scripts; Any gets "GROUP" NAME STATE 0.
	Notify GroupNotify
	// NotifyPriorityChanges turns Instance.NotifyPriorityChanges on for
	// every member.
	NotifyPriorityChanges bool
}

// GroupNotify are a sync group's notify scripts; nil means none.
type GroupNotify struct {
	Master, Backup, Fault, Stop, Any *notify.Script
}

// VirtualServer is one IPVS virtual service, or one per entry of a
// virtual server group, with keepalived's real-server semantics
// (virtual_server).
type VirtualServer struct {
	// Service is the service and its scheduling. With Group set, its
	// ServiceKey is ignored: the group's entries are the keys.
	Service ipvs.Service
	// Group is a VirtualServerGroup's name (virtual_server group NAME).
	Group string
	// RealServers are the pool (real_server). A real server with checks
	// is up only while all of them pass; one without checks is always up.
	RealServers []RealServer
	// SorryServer serves while the pool has no quorum (sorry_server);
	// SorryInhibit keeps it in the table with weight 0 meanwhile.
	SorryServer  *ipvs.Destination
	SorryInhibit bool
	// Quorum and Hysteresis: see ipvs.PoolConfig (quorum, hysteresis).
	Quorum, Hysteresis int
	// Omega reports the real servers down and the quorum lost when the
	// Supervisor stops, with their notify scripts (omega).
	Omega bool
	// HASuspend makes the service exist only while a master instance of
	// this Supervisor holds its address as a VIP (ha_suspend); a fwmark
	// or group service is never suspended.
	HASuspend bool
	// QuorumUp and QuorumDown run when the pool gains or loses quorum
	// (quorum_up, quorum_down); nil means none.
	QuorumUp, QuorumDown *notify.Script
}

// RealServer is a real server and its checks (real_server).
type RealServer struct {
	// RealServer is the destination, its configured weight,
	// InhibitOnFailure and Alpha (a server starting down).
	ipvs.RealServer
	// Checks must all pass for the server to be up (HTTP_GET, TCP_CHECK,
	// MISC_CHECK, ...). A check whose checker reports a weight
	// (check.WeightedChecker: misc_dynamic, FILE_CHECK) sets the
	// server's weight: an Exec's weight replaces it, a File's is added
	// to the configured one.
	Checks []RealServerCheck
	// NotifyUp and NotifyDown run when it goes up or down; nil means
	// none.
	NotifyUp, NotifyDown *notify.Script
}

// RealServerCheck is one check of a real server.
type RealServerCheck struct {
	Checker check.Checker
	Policy  check.Policy
}

// VirtualServerGroup is a virtual_server_group: a name for several
// services (addresses, ranges expanded, firewall marks) sharing one
// definition.
type VirtualServerGroup struct {
	Name     string
	Services []ipvs.ServiceKey
}

// Static are the addresses, routes and rules the Supervisor holds while
// it runs (keepalived's static_ipaddress, static_routes, static_rules),
// added at start, diffed on reload, removed when Run returns. A route
// goes on its Interface; a route without one, and the rules, go with the
// first static address's interface ("lo" without static addresses).
type Static struct {
	Addresses []StaticAddress
	Routes    []netlink.Route
	Rules     []netlink.Rule
}

// StaticAddress is one static address on an interface.
type StaticAddress struct {
	Interface string
	Prefix    netip.Prefix
	Label     string
	// Options are the address's scope, broadcast, ...; the zero value is
	// the defaults. A removed static address is not put back, with or
	// without Options.NoTrack.
	Options netlink.AddrOptions
}
