//go:build linux

package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/acceptmode"
	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/internal/netnsfile"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/watchdog"
)

// New opens the instances of cfg on this Linux host, in cfg.Netns:
// one raw socket per interface and family shared by its instances, an
// address manager per instance, a gratuitous ARP / NA announcer per
// interface and timing, VMACs, and a netlink watcher. On error it
// releases what it opened.
func New(cfg Config) (*Host, error) {
	p, err := OpenLinux(LinuxConfig{Netns: cfg.Netns, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	return NewOn(p, cfg)
}

// LinuxConfig configures the Linux platform.
type LinuxConfig struct {
	// Netns is the network namespace to run in, as a path to a namespace
	// file (/run/netns/NAME, /proc/PID/ns/net); empty means the namespace
	// of the thread calling OpenLinux.
	Netns string
	// NFTables is the nftables table in which masters whose Accept_Mode
	// is off (vrrp.Config.NoAccept) drop the traffic to their VIPs; the
	// zero value is inet "vigil" at priority -1.
	NFTables NFTables
	// Logger receives all logs; nil discards them.
	Logger *slog.Logger
}

// Linux is the Platform of a Linux host in one network namespace.
//
// When its watcher sees an interface added (created again after it was
// deleted), Linux binds the raw sockets on it to the new index
// (vrrp.Socket.Rebind); a send on a socket whose interface is gone does
// the same by itself.
//
// A master whose Accept_Mode is off (vrrp.Config.NoAccept, not the
// address owner) drops the traffic to and from its VIPs, except ARP and
// neighbour discovery, through an nftables table of Linux's own
// (LinuxConfig.NFTables, package acceptmode): its VIPs enter the
// table's drop sets before they are added to the interface and leave
// them after they are removed. The table is made by the first master
// that needs it; the first Instance deletes one left by a run that did
// not close (a crash), and Close deletes it. A Linux that opens no
// instance (a checker process next to a VRRP one) never touches it.
type Linux struct {
	cfg     LinuxConfig
	log     *slog.Logger
	watcher *netlink.Watcher
	rebinds *netlink.Subscription
	// filter is the no_accept table; nil until the first Instance, and
	// when nftables could not be opened (filterErr says why).
	filter    *acceptmode.Filter
	filterErr error
	// filterKeys are the instances' keys in filter, while not released:
	// the instance's name, or NAME~N while an instance of that name
	// that a reload replaced has not been released yet.
	filterKeys map[string]bool

	mu         sync.Mutex // guards the fields below (Instance vs Close)
	sockets    map[SocketName]*vrrp.Socket
	announcers map[string]*netlink.Announcer
	addrs      []*netlink.AddrManager
	// addrQueue carries every address manager's adds and removals, so a
	// mass failover's adds reach the kernel in batches; opened with the
	// first manager.
	addrQueue *netlink.AddrQueue
	// clock runs every instance's Master_Down_Timer (vrrp.Clock: one
	// timerfd for all); nil until the first instance, or if it could not
	// be made (each router then has its own).
	clock   *vrrp.Clock
	vmacs   []*netlink.VMAC
	sysctls []sysctlRestore
	closed  bool
}

var _ Platform = (*Linux)(nil)

// advertGrid is the vrrp.Timers.AdvertGrid of the Linux platform's
// routers: vrrp uses at most a tenth of the advert interval of it.
const advertGrid = 10 * time.Millisecond

// OpenLinux checks the namespace and starts watching it (events flow once
// Run runs).
func OpenLinux(cfg LinuxConfig) (*Linux, error) {
	if cfg.Netns != "" {
		if _, err := os.Stat(cfg.Netns); err != nil {
			return nil, fmt.Errorf("vigil: network namespace %q: %w", cfg.Netns, err)
		}
	}
	l := &Linux{cfg: cfg, log: logx.OrDiscard(cfg.Logger),
		sockets: map[SocketName]*vrrp.Socket{}, announcers: map[string]*netlink.Announcer{}, filterKeys: map[string]bool{}}
	w, err := netlink.NewWatcher(netlink.WatcherConfig{Netns: cfg.Netns, Logger: l.log})
	if err != nil {
		return nil, err
	}
	l.watcher = w
	l.rebinds = w.Subscribe(64)
	return l, nil
}

// openFilter opens the no_accept table, which deletes one a crashed run
// left, at the first instance: a platform that runs no VRRP instance (a
// checker process next to the VRRP one, in vigild's keepalived process
// model) leaves the table alone. l.mu held.
func (l *Linux) openFilter() {
	if l.filter != nil || l.filterErr != nil {
		return
	}
	c := l.cfg.NFTables
	l.filter, l.filterErr = acceptmode.New(acceptmode.Config{Netns: l.cfg.Netns, Table: c.Table,
		Priority: c.Priority, Counters: c.Counters, Logger: l.log})
	if l.filterErr != nil {
		// Only no_accept needs it: say so when an instance does.
		l.log.Debug("vigil: nftables unavailable", "err", l.filterErr)
	}
}

// Instance implements Platform.
func (l *Linux) Instance(ic InstanceConfig) (InstanceIO, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return InstanceIO{}, fmt.Errorf("vigil: instance %s: platform closed", ic.VRRP.Name)
	}
	name := ic.VRRP.Name
	v6 := ic.IPv6()
	iface := ic.Interface
	var primary netip.Addr
	if ic.UseVMAC {
		// The VMAC has no address of its own: advertise from the parent's.
		if err := l.do(func() error {
			ifi, err := net.InterfaceByName(ic.Interface)
			if err != nil {
				return fmt.Errorf("vigil: instance %s: interface %q: %w", name, ic.Interface, err)
			}
			primary, err = vrrp.InterfaceAddr(ifi, v6)
			return err
		}); err != nil {
			return InstanceIO{}, err
		}
		vm, err := netlink.CreateVMAC(netlink.VMACConfig{Parent: ic.Interface, VRID: ic.VRRP.VRID, IPv6: v6,
			Name: ic.VMACName(), Netns: l.cfg.Netns})
		if err != nil {
			return InstanceIO{}, fmt.Errorf("vigil: instance %s: %w", name, err)
		}
		l.vmacs = append(l.vmacs, vm)
		iface = vm.Name()
		if !v6 {
			// As keepalived: ARP for an address is answered only by the
			// interface holding it, so the VMAC answers for the VIPs and
			// the parent does not.
			for _, i := range []string{ic.Interface, iface} {
				if err := l.setSysctl("net/ipv4/conf/"+i+"/arp_ignore", "1"); err != nil {
					return InstanceIO{}, fmt.Errorf("vigil: instance %s: %w", name, err)
				}
			}
			// As keepalived's set_interface_parameters.
			if err := l.promoteSecondaries(iface); err != nil {
				return InstanceIO{}, fmt.Errorf("vigil: instance %s: %w", name, err)
			}
		}
	}
	if ic.PromoteSecondaries && !ic.UseVMAC {
		if err := l.promoteSecondaries(iface); err != nil {
			return InstanceIO{}, fmt.Errorf("vigil: instance %s: %w", name, err)
		}
	}
	sockIface := iface
	if ic.UseVMAC && ic.VMACXmitBase {
		sockIface = ic.Interface
	}
	key := SocketName{Interface: sockIface, Family: family(v6)}
	sock := l.sockets[key]
	if sock == nil {
		var err error
		sock, err = vrrp.Listen(vrrp.SocketConfig{Interface: sockIface, Netns: l.cfg.Netns, IPv6: v6, Primary: primary, Logger: l.log})
		if err != nil {
			return InstanceIO{}, fmt.Errorf("vigil: instance %s: %w", name, err)
		}
		l.sockets[key] = sock
	}
	connCfg := func(peers []netip.Addr) vrrp.ConnConfig {
		return vrrp.ConnConfig{Source: ic.UnicastSrc, Peers: peers, Group: ic.VRRP.Group, TTL: ic.UnicastTTL}
	}
	conn, err := sock.Conn(ic.VRRP.VRID, connCfg(ic.VRRP.Peers))
	if err != nil {
		return InstanceIO{}, fmt.Errorf("vigil: instance %s: %w", name, err)
	}
	conns := &reopened{c: conn}
	q, err := l.queue()
	if err != nil {
		return InstanceIO{}, fmt.Errorf("vigil: instance %s: %w", name, err)
	}
	am, err := netlink.NewAddrManager(netlink.AddrConfig{Interface: iface, Netns: l.cfg.Netns, Label: ic.Label,
		Routes: ic.Routes, Rules: ic.Rules, Options: ic.AddrOptions, Queue: q, Logger: l.log.With("instance", name)})
	if err != nil {
		return InstanceIO{}, fmt.Errorf("vigil: instance %s: %w", name, err)
	}
	l.addrs = append(l.addrs, am)
	l.openFilter()
	fkey := name
	for i := 2; l.filterKeys[fkey]; i++ {
		fkey = fmt.Sprintf("%s~%d", name, i)
	}
	l.filterKeys[fkey] = true
	acc := &acceptAddrs{AddrManager: am, filter: l.filter, filterErr: l.filterErr, name: fkey, iface: iface,
		log: l.log.With("instance", name)}
	ann, err := l.announcerLocked(iface, ic.GARP)
	if err != nil {
		return InstanceIO{}, fmt.Errorf("vigil: instance %s: %w", name, err)
	}
	sw := &swapAnnouncer{a: ann}
	var vmac *netlink.VMAC
	if ic.UseVMAC {
		vmac = l.vmacs[len(l.vmacs)-1]
	}
	io := InstanceIO{Conn: conn, Addrs: acc, Announcer: sw, Interface: iface,
		// Takeovers on time: Master_Down_Timer on a timerfd. Masters'
		// periodic adverts on a 10 ms grid (a tenth of the interval at
		// most), so the instances of one process share their wake-ups
		// (bench/README.md "instances").
		Timers: vrrp.Timers{Precise: true, Clock: l.preciseClock(), AdvertGrid: advertGrid}}
	cur := ic
	io.Reconfigure = func(nc InstanceConfig) error {
		if nc.Label != cur.Label || !slices.EqualFunc(nc.Routes, cur.Routes, netlink.Route.Equal) ||
			!slices.Equal(nc.Rules, cur.Rules) || !maps.Equal(nc.AddrOptions, cur.AddrOptions) {
			if err := l.reconfigureAddrs(am, iface, nc); err != nil {
				return err
			}
			cur.Label, cur.Routes, cur.Rules, cur.AddrOptions = nc.Label, nc.Routes, nc.Rules, nc.AddrOptions
		}
		if nc.GARP != cur.GARP {
			a, err := l.announcer(iface, nc.GARP)
			if err != nil {
				return err
			}
			sw.set(a)
			cur.GARP = nc.GARP
		}
		return nil
	}
	io.Reopen = func(nc InstanceConfig) (vrrp.Conn, error) {
		return conns.reopen(func() (*vrrp.SocketConn, error) {
			c, err := sock.Conn(ic.VRRP.VRID, connCfg(nc.VRRP.Peers))
			if err != nil {
				return nil, fmt.Errorf("vigil: instance %s: %w", nc.VRRP.Name, err)
			}
			return c, nil
		})
	}
	io.Release = func() error {
		err := errors.Join(l.release(conns.current(), am, vmac), acc.forget())
		l.mu.Lock()
		delete(l.filterKeys, fkey)
		l.mu.Unlock()
		return err
	}
	return io, nil
}

// announcer returns the announcer of iface with timing t, opening it if
// none has that timing yet.
func (l *Linux) announcer(iface string, t netlink.AnnounceTiming) (*netlink.Announcer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.announcerLocked(iface, t)
}

// announcerLocked is announcer with l.mu held.
func (l *Linux) announcerLocked(iface string, t netlink.AnnounceTiming) (*netlink.Announcer, error) {
	key := fmt.Sprintf("%s/%+v", iface, t)
	if a := l.announcers[key]; a != nil {
		return a, nil
	}
	a, err := netlink.NewAnnouncer(netlink.AnnouncerConfig{Interface: iface, Netns: l.cfg.Netns, Timing: t, Logger: l.log})
	if err != nil {
		return nil, err
	}
	l.announcers[key] = a
	return a, nil
}

// release closes what Instance opened for one instance: its Conn, its
// address manager and its VMAC. The shared socket and announcers stay.
func (l *Linux) release(conn *vrrp.SocketConn, am *netlink.AddrManager, vmac *netlink.VMAC) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	errs := []error{conn.Close(), am.Close()}
	l.addrs = slices.DeleteFunc(l.addrs, func(x *netlink.AddrManager) bool { return x == am })
	if vmac != nil {
		errs = append(errs, vmac.Remove())
		l.vmacs = slices.DeleteFunc(l.vmacs, func(x *netlink.VMAC) bool { return x == vmac })
	}
	return errors.Join(errs...)
}

// reopened is an instance's Conn on its Socket, which InstanceIO.Reopen
// replaces.
type reopened struct {
	mu sync.Mutex
	c  *vrrp.SocketConn
}

func (r *reopened) current() *vrrp.SocketConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.c
}

// reopen closes the current Conn (the Supervisor has, as a rule: a
// Conn's VRID is free on its Socket only once it is closed) and makes
// the one open returns current.
func (r *reopened) reopen(open func() (*vrrp.SocketConn, error)) (vrrp.Conn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.c.Close()
	c, err := open()
	if err != nil {
		return nil, err
	}
	r.c = c
	return c, nil
}

// swapAnnouncer is an instance's announcer, which a reload may replace
// by one with another timing.
type swapAnnouncer struct {
	mu sync.Mutex
	a  vrrp.Announcer
}

func (s *swapAnnouncer) Announce(ctx context.Context, addrs []netip.Addr) error {
	s.mu.Lock()
	a := s.a
	s.mu.Unlock()
	return a.Announce(ctx, addrs)
}

func (s *swapAnnouncer) set(a vrrp.Announcer) {
	s.mu.Lock()
	s.a = a
	s.mu.Unlock()
}

// Subscribe implements Platform: the watcher's events.
func (l *Linux) Subscribe(n int) Events { return l.watcher.Subscribe(n) }

// Snapshot implements Platform: the watcher's current view.
func (l *Linux) Snapshot() []netlink.Event { return l.watcher.Snapshot() }

// IPVS implements Platform: the kernel's IPVS table in the namespace.
func (l *Linux) IPVS() (ipvs.Backend, error) {
	return ipvs.Open(ipvs.KernelConfig{Netns: l.cfg.Netns, Logger: l.log})
}

// SetBeat makes Run's interface watcher beat b (netlink.Watcher.SetBeat):
// the Supervisor watches it as the platform loop. Call it before Run.
func (l *Linux) SetBeat(b *watchdog.Beat) error { return l.watcher.SetBeat(b) }

// Run implements Platform: it runs the watcher, and binds the raw sockets
// on an interface that was created again to its new index, until ctx is
// done.
func (l *Linux) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		var dropped uint64
		for e := range l.rebinds.C() {
			if d := l.rebinds.Dropped(); d != dropped {
				dropped = d
				l.rebind("") // Rebind is a no-op where the index is unchanged
			}
			if e.Kind == netlink.InterfaceAdded {
				l.rebind(e.Interface)
			}
		}
	})
	err := l.watcher.Run(ctx) // closes the subscriptions when it returns
	wg.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// rebind binds the raw sockets on iface ("": on every interface) to the
// interface's current index.
func (l *Linux) rebind(iface string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.sockets {
		if iface != "" && s.Interface() != iface {
			continue
		}
		if err := s.Rebind(); err != nil {
			l.log.Error("vigil: binding the VRRP socket to the re-created interface failed", "interface", s.Interface(), "err", err)
		}
	}
}

// SocketStats implements SocketPlatform: the counters of the raw VRRP
// sockets Instance opened, one per interface and family.
func (l *Linux) SocketStats() map[SocketName]vrrp.SocketStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[SocketName]vrrp.SocketStats, len(l.sockets))
	for k, s := range l.sockets {
		out[k] = s.Stats()
	}
	return out
}

// do runs fn in the platform's namespace.
func (l *Linux) do(fn func() error) error { return netnsfile.Do(l.cfg.Netns, fn) }

type sysctlRestore struct{ path, old string }

// setSysctl writes a /proc/sys value in the namespace, remembering the
// old value for Close. The caller holds l.mu.
func (l *Linux) setSysctl(key, val string) error {
	return l.do(func() error {
		p := filepath.Join("/proc/sys", key)
		old, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("sysctl %s: %w", key, err)
		}
		if err := os.WriteFile(p, []byte(val), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", key, val, err)
		}
		l.sysctls = append(l.sysctls, sysctlRestore{p, strings.TrimSpace(string(old))})
		return nil
	})
}

// Close implements Platform: sockets, announcers, address managers,
// the nftables table (deleted), VMACs (removed) and sysctls (restored).
func (l *Linux) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.rebinds.Close()
	var errs []error
	for _, s := range l.sockets {
		errs = append(errs, s.Close())
	}
	for _, a := range l.announcers {
		errs = append(errs, a.Close())
	}
	for _, a := range l.addrs {
		errs = append(errs, a.Close())
	}
	if l.addrQueue != nil {
		errs = append(errs, l.addrQueue.Close())
	}
	if l.clock != nil {
		errs = append(errs, l.clock.Close())
	}
	if l.filter != nil {
		errs = append(errs, l.filter.Close())
	}
	for _, v := range l.vmacs {
		errs = append(errs, v.Remove())
	}
	for i := len(l.sysctls) - 1; i >= 0; i-- {
		r := l.sysctls[i]
		errs = append(errs, l.do(func() error {
			err := os.WriteFile(r.path, []byte(r.old), 0o644)
			if errors.Is(err, os.ErrNotExist) {
				return nil // the VMAC is gone with its settings
			}
			return err
		}))
	}
	return errors.Join(errs...)
}

// reconfigureAddrs applies a reload's label, routes and rules to an
// instance's address manager.
func (l *Linux) reconfigureAddrs(am *netlink.AddrManager, iface string, nc InstanceConfig) error {
	return am.Reconfigure(netlink.AddrConfig{Interface: iface, Netns: l.cfg.Netns, Label: nc.Label,
		Routes: nc.Routes, Rules: nc.Rules, Options: nc.AddrOptions, Logger: l.log.With("instance", nc.VRRP.Name)})
}

// preciseClock returns the routers' shared clock, making it the first
// time; nil if it cannot be made (the routers then make their own
// timerfds, or warn and use Go timers). l.mu held.
func (l *Linux) preciseClock() *vrrp.Clock {
	if l.clock == nil {
		c, err := vrrp.NewClock()
		if err != nil {
			l.log.Warn("vigil: shared precise clock unavailable; each instance makes its own", "err", err)
			return nil
		}
		l.clock = c
	}
	return l.clock
}

// queue returns the platform's address queue, opening it the first
// time. l.mu held.
func (l *Linux) queue() (*netlink.AddrQueue, error) {
	if l.addrQueue == nil {
		q, err := netlink.NewAddrQueue(l.cfg.Netns)
		if err != nil {
			return nil, err
		}
		l.addrQueue = q
	}
	return l.addrQueue, nil
}

// Static implements Platform: an address manager on iface for static
// addresses, routes and rules.
func (l *Linux) Static(iface, label string, routes []netlink.Route, rules []netlink.Rule, opts map[netip.Prefix]netlink.AddrOptions) (StaticIO, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return StaticIO{}, fmt.Errorf("vigil: static addresses on %s: platform closed", iface)
	}
	q, err := l.queue()
	if err != nil {
		return StaticIO{}, fmt.Errorf("vigil: static addresses on %s: %w", iface, err)
	}
	am, err := netlink.NewAddrManager(netlink.AddrConfig{Interface: iface, Netns: l.cfg.Netns, Label: label,
		Routes: routes, Rules: rules, Options: opts, Queue: q, Logger: l.log.With("static", true)})
	if err != nil {
		return StaticIO{}, fmt.Errorf("vigil: static addresses on %s: %w", iface, err)
	}
	l.addrs = append(l.addrs, am)
	release := func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.addrs = slices.DeleteFunc(l.addrs, func(x *netlink.AddrManager) bool { return x == am })
		return am.Close()
	}
	reconfigure := func(routes []netlink.Route, rules []netlink.Rule, opts map[netip.Prefix]netlink.AddrOptions) error {
		return am.Reconfigure(netlink.AddrConfig{Interface: iface, Netns: l.cfg.Netns, Label: label,
			Routes: routes, Rules: rules, Options: opts, Logger: l.log.With("static", true)})
	}
	return StaticIO{Addrs: am, Reconfigure: reconfigure, Release: release}, nil
}
