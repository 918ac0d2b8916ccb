package host

import (
	"context"
	"net/netip"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/vrrp"
)

// Platform is what a host provides to vigil's wiring: for each VRRP
// instance a Conn, an address manager and an announcer; the interface and
// address events of the host; and an IPVS backend. The wiring (Host, and
// vigil.Supervisor built on it) decides; the platform only carries out.
//
// On Linux, New and OpenLinux open the real platform in a network namespace (raw
// sockets, netlink, packet sockets, the netlink watcher, the kernel's
// IPVS). Package vigiltest provides an in-memory one, built from
// vrrptest and ipvstest, so the wiring is tested without root and on
// testing/synctest's clock.
type Platform interface {
	// Instance opens what one instance needs. Instances that share an
	// interface and family share what the platform can share (one raw
	// socket on Linux). It is called before Run.
	Instance(InstanceConfig) (InstanceIO, error)
	// Subscribe returns the host's interface and address events, from
	// before Run's first listing on, with a queue of n (see
	// netlink.Watcher.Subscribe). After Dropped grows, Snapshot says
	// how things are.
	Subscribe(n int) Events
	// Snapshot lists the interfaces and addresses as the platform sees
	// them now, as events ending with a netlink.Synced event.
	Snapshot() []netlink.Event
	// IPVS returns the IPVS backend; the caller closes it.
	IPVS() (ipvs.Backend, error)
	// Static opens an address manager for static addresses (Config.Static)
	// on iface with label, holding routes and rules with them; opts are
	// the addresses' options, by prefix.
	Static(iface, label string, routes []netlink.Route, rules []netlink.Rule, opts map[netip.Prefix]netlink.AddrOptions) (StaticIO, error)
	// Run runs the platform's own work (watching the host) until ctx is
	// done, closes the event subscriptions and returns. It runs once.
	Run(ctx context.Context) error
	// Close releases everything Instance opened. Call it after Run has
	// returned (or instead of Run); calling it again does nothing.
	Close() error
}

// InstanceIO is what Platform.Instance opens for one instance.
type InstanceIO struct {
	Conn      vrrp.Conn
	Addrs     vrrp.AddrManager
	Announcer vrrp.Announcer
	// Interface is the interface the instance sends on and holds its VIPs
	// on: InstanceConfig.Interface, or its VMAC.
	Interface string
	// Timers are the router timers the platform runs on (precise on
	// Linux; Go timers in memory, where testing/synctest drives them).
	Timers vrrp.Timers
	// Reconfigure applies a new Label, Routes, Rules and GARP timing of
	// the instance to Addrs and Announcer, for a reload that keeps the
	// instance; nil means the platform cannot (the instance is then
	// replaced).
	Reconfigure func(InstanceConfig) error
	// Release releases what Instance opened for this instance alone (its
	// Conn, its address manager), when a reload removes it; nil means
	// nothing to release beyond the Conn, which is closed if it is an
	// io.Closer.
	Release func() error
	// Reopen opens the instance's Conn again, with ic's peers (a reload
	// may have changed them), after the Supervisor has closed the one it
	// had (Conn, or what Reopen returned last), for a router that
	// replaces one the watchdog gave up on. With Reopen, and a Conn that
	// is an io.Closer, the Supervisor gives its routers the Conn itself,
	// whose fast paths a router uses (vrrp.SocketConn's queue read by
	// the router's loop, and the repeats its Socket sends and takes in),
	// and fences a replaced router off by closing its Conn: its calls
	// then fail, and what the Conn did for it alone (its Socket's
	// repeats) stops. Without it the Supervisor puts each router's Conn
	// behind a wrapper that refuses a replaced router's calls and offers
	// only vrrp.Conn's methods. Release closes the Conn opened last.
	Reopen func(ic InstanceConfig) (vrrp.Conn, error)
}

// Events is a subscription to a platform's events
// (*netlink.Subscription is one).
type Events interface {
	// C carries the events; it is closed when the platform's Run
	// returns or Close is called.
	C() <-chan netlink.Event
	// Dropped counts events lost because the queue was full.
	Dropped() uint64
	Close()
}

// StaticIO is what Platform.Static opens: static addresses, routes and
// rules on one interface, held from AddVIPs to RemoveVIPs.
type StaticIO struct {
	Addrs vrrp.AddrManager
	// Reconfigure replaces the routes, rules and address options (a
	// reload), writing only the difference of routes and rules while they
	// are held (new options apply to the addresses added from then on);
	// nil means the platform cannot (the set is then removed and added
	// again).
	Reconfigure func(routes []netlink.Route, rules []netlink.Rule, opts map[netip.Prefix]netlink.AddrOptions) error
	// Release releases the manager; nil means nothing to release.
	Release func() error
}
