package netlink

import (
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// AddrConfig configures an AddrManager.
type AddrConfig struct {
	// Interface is the interface that holds the VIPs (required). It need
	// not exist yet.
	Interface string
	// Netns is the network namespace of Interface, as a path to a
	// namespace file; empty means the namespace of the thread calling
	// NewAddrManager. NewAddrManager opens its netlink socket there and
	// Close closes it.
	Netns string
	// Label is the label given to IPv4 VIPs (keepalived's "label"); it must
	// start with Interface and be at most 15 bytes. Empty: no label.
	Label string
	// Routes and Rules follow the VIPs: installed by AddVIPs after the
	// addresses, removed by the RemoveVIPs that leaves the manager
	// holding no VIP, before the addresses.
	Routes []Route
	Rules  []Rule
	// Options are the attributes of the addresses given to AddVIPs, by
	// address and prefix length; an address without an entry has the
	// zero AddrOptions.
	Options map[netip.Prefix]AddrOptions
	// Queue, if set, carries the manager's address adds and removals,
	// shared with the other managers of the namespace so that the
	// requests of many instances becoming master at once go to the
	// kernel in batches (see AddrQueue); it must be in Netns, and the
	// manager does not close it. Nil: the manager has a queue of its own.
	// Reconfigure keeps the manager's queue.
	Queue *AddrQueue
	// Logger receives the manager's logs; nil discards them.
	Logger *slog.Logger
}

// AnnouncerConfig configures an Announcer.
type AnnouncerConfig struct {
	// Interface is the interface to send on (required): the VRRP
	// interface, or the VMAC macvlan when one is used.
	Interface string
	// Netns is the network namespace of Interface, as a path to a
	// namespace file; empty means the namespace of the thread calling
	// NewAnnouncer. The Announcer holds the namespace open until Close:
	// its sockets are opened there, and opened there again when the
	// interface is deleted and created again.
	Netns string
	// MAC is the sender MAC of the frames; nil means the interface's own
	// MAC (the virtual MAC when Interface is a VMAC), followed when the
	// interface is created again.
	MAC net.HardwareAddr
	// Timing is when to send; the zero value is keepalived's defaults.
	Timing AnnounceTiming
	// Logger receives the announcer's logs; nil discards them.
	Logger *slog.Logger
}

// AnnounceTiming is when an Announcer sends the announcements of one
// Announce call, in keepalived's terms. The zero value is keepalived's
// defaults: one burst of 5 packets per address at once, a second burst
// 5 s later, no refresh. A negative value turns its step off.
type AnnounceTiming struct {
	// InitialDelay is the wait before the first burst; 0 or negative
	// means none.
	InitialDelay time.Duration
	// Repeat is the packets per address in each of the two bursts
	// (garp_master_repeat); 0 means DefaultRepeat (5), negative sends no
	// burst (announcements off, refreshes aside).
	Repeat int
	// Interval is the gap between consecutive packets (garp_interval,
	// gna_interval); 0 or negative sends back to back.
	Interval time.Duration
	// SecondDelay is when the second burst starts, counted from the
	// first (garp_master_delay); 0 means DefaultSecondDelay (5 s),
	// negative means no second burst.
	SecondDelay time.Duration
	// RefreshInterval repeats announcements while the announcement lasts
	// (garp_master_refresh), counted from the first burst; 0 or negative
	// means never.
	RefreshInterval time.Duration
	// RefreshRepeat is the packets per address in each refresh
	// (garp_master_refresh_repeat); 0 means 1, negative means no
	// refresh.
	RefreshRepeat int
	// LowerPrioRepeat is the packets per address in each burst of an
	// AnnounceLowerPrio call, made when a master hears a lower priority
	// master (garp_lower_prio_repeat); 0 means Repeat, negative sends
	// none.
	LowerPrioRepeat int
	// LowerPrioDelay is when the second burst of an AnnounceLowerPrio
	// call starts, counted from the first (garp_lower_prio_delay); 0
	// means SecondDelay, negative means no second burst.
	LowerPrioDelay time.Duration
}

// Keepalived's defaults for AnnounceTiming.
const (
	DefaultRepeat      = 5
	DefaultSecondDelay = 5 * time.Second
)

// DefaultResyncInterval is the Watcher's default ResyncInterval.
const DefaultResyncInterval = 5 * time.Minute

// WatcherConfig configures a Watcher.
type WatcherConfig struct {
	// Netns is the network namespace to watch, as a path to a namespace
	// file; empty means the namespace of the thread calling NewWatcher.
	// NewWatcher opens it and Run closes it when it returns.
	Netns string
	// Interface restricts events to one interface, by name; empty means
	// every interface of the namespace.
	Interface string
	// ResyncInterval is the kernel subscriptions' receive timeout: when
	// either is silent that long, the watcher resubscribes and re-lists,
	// a safety net against lost notifications. 0 means
	// DefaultResyncInterval; negative means never.
	ResyncInterval time.Duration
	// ReceiveBufferSize sets the kernel subscription sockets' SO_RCVBUF;
	// 0 or negative keeps the kernel's default. Overflows
	// (ENOBUFS) cause a resync.
	ReceiveBufferSize int
	// Logger receives the watcher's logs; nil discards them.
	Logger *slog.Logger
}

// VMACConfig configures CreateVMAC.
type VMACConfig struct {
	// Parent is the interface the macvlan sits on (required).
	Parent string
	// VRID is the virtual router, 1..255; it gives the MAC.
	VRID uint8
	// IPv6 selects the IPv6 virtual MAC 00:00:5e:00:02:{VRID}.
	IPv6 bool
	// Name is the macvlan's name, at most 15 bytes; empty means
	// keepalived's "vrrp.{VRID}".
	Name string
	// Netns is the network namespace of Parent, as a path to a namespace
	// file; empty means the namespace of the thread calling CreateVMAC.
	// CreateVMAC opens its netlink socket there and Remove closes it.
	Netns string
}
