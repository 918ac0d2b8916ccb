// Package vigiltest provides an in-memory vigil.Platform: instances join a
// vrrptest.Hub segment, hold their addresses in recording fakes, announce
// into a recorder, and see interface and address events that the test
// makes happen; IPVS is an ipvstest.Table. The wiring of package vigil
// (Host, and the Supervisor built on it) runs on it without root, inside
// testing/synctest bubbles, with exact timings.
package vigiltest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/internal/feed"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
	"github.com/vigil-ha/vigil/watchdog"
)

// Config configures a Platform.
type Config struct {
	// Hub is the segment the host's instances join (required).
	Hub *vrrptest.Hub
	// Addr4 and Addr6 are the host's addresses: the sources of its IPv4
	// and IPv6 instances' adverts unless an instance sets UnicastSrc.
	Addr4, Addr6 netip.Addr
	// Interfaces are the host's interfaces, all up at the start; empty
	// means one, "eth0".
	Interfaces []string
	// Table is the IPVS table IPVS returns; nil means a new one.
	Table *ipvstest.Table
	// Reopen gives each instance's InstanceIO a Reopen, as Linux's has:
	// the Supervisor's routers then use their Conns themselves, and a
	// router the watchdog replaces has its Conn closed under it and the
	// new one a Conn of its own (Platform.Conn returns the newest).
	// Without it the Supervisor puts each router's Conn behind its own
	// wrapper.
	Reopen bool
	// History bounds what the interfaces' address managers and
	// announcers remember (vrrptest's SetHistory): 0 keeps everything,
	// as tests that read it back want; a long run sets it.
	History int
}

// Platform is an in-memory vigil.Platform for one host. Its methods are
// safe for concurrent use.
type Platform struct {
	cfg   Config
	table *ipvstest.Table
	feed  feed.Feed[netlink.Event]

	mu     sync.Mutex
	ifaces map[string]*iface
	order  []string
	conns  map[string]*vrrptest.Conn // by instance name
	ran    bool
	closed bool
	beat   *watchdog.Beat // SetBeat's, read by Run
	// stalled is set while Run pretends to be stuck (Stall).
	stalled atomic.Bool
}

// iface is one interface of the host: its state, the addresses it holds
// (shared by the instances on it, as on a real host) and its announcer.
type iface struct {
	index  int
	parent string // a VMAC's interface
	up     bool
	addrs  *vrrptest.Addrs
	ann    *vrrptest.Announcer
	conns  []*vrrptest.Conn
	// promote is net.ipv4.conf.IF.promote_secondaries, 0 at the start
	// (see PromoteSecondaries).
	promote bool
}

var _ vigil.Platform = (*Platform)(nil)

// New returns a host with cfg's interfaces, all up.
func New(cfg Config) (*Platform, error) {
	if cfg.Hub == nil {
		return nil, fmt.Errorf("vigiltest: no Hub")
	}
	names := cfg.Interfaces
	if len(names) == 0 {
		names = []string{"eth0"}
	}
	p := &Platform{cfg: cfg, table: cfg.Table, ifaces: map[string]*iface{}, conns: map[string]*vrrptest.Conn{}}
	if p.table == nil {
		p.table = ipvstest.New()
	}
	for _, n := range names {
		if _, ok := p.ifaces[n]; ok {
			return nil, fmt.Errorf("vigiltest: interface %q twice", n)
		}
		p.addIface(n)
	}
	return p, nil
}

func (p *Platform) addIface(name string) *iface {
	i := &iface{index: len(p.order) + 2, up: true, addrs: vrrptest.NewAddrs(), ann: &vrrptest.Announcer{}}
	i.addrs.SetHistory(p.cfg.History)
	i.ann.SetHistory(p.cfg.History)
	p.ifaces[name] = i
	p.order = append(p.order, name)
	return i
}

// Instance implements vigil.Platform: a Conn on the Hub from the host's
// address of the instance's family (or UnicastSrc), with the instance's
// unicast peers; the interface's address manager and announcer. A VMAC
// instance gets an interface ic.VMACName() that follows its parent's state.
func (p *Platform) Instance(ic vigil.InstanceConfig) (vigil.InstanceIO, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	parent, ok := p.ifaces[ic.Interface]
	if !ok {
		return vigil.InstanceIO{}, fmt.Errorf("vigiltest: instance %s: no interface %q", ic.VRRP.Name, ic.Interface)
	}
	src := ic.UnicastSrc
	if !src.IsValid() {
		src = p.cfg.Addr4
		if ic.IPv6() {
			src = p.cfg.Addr6
		}
	}
	conn, err := p.cfg.Hub.Join(src)
	if err != nil {
		return vigil.InstanceIO{}, fmt.Errorf("vigiltest: instance %s: %w", ic.VRRP.Name, err)
	}
	if len(ic.VRRP.Peers) > 0 {
		if err := conn.SetPeers(ic.VRRP.Peers); err != nil {
			return vigil.InstanceIO{}, err
		}
	}
	name, i := ic.Interface, parent
	if ic.UseVMAC {
		name = ic.VMACName()
		if i = p.ifaces[name]; i == nil {
			i = p.addIface(name)
			i.parent, i.up = ic.Interface, parent.up
		}
	}
	promoteSecondaries(ic, parent, i)
	p.attach(ic.VRRP.Name, parent, conn)
	// forget detaches conn, the instance's Conn. p.mu held.
	forget := func() error {
		for n, c := range p.conns {
			if c == conn {
				delete(p.conns, n)
			}
		}
		parent.conns = slices.DeleteFunc(parent.conns, func(c *vrrptest.Conn) bool { return c == conn })
		return conn.Close()
	}
	release := func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		return forget()
	}
	// The fakes hold no label, routes, rules or timing: a reload's new
	// ones apply at once.
	reconfigure := func(vigil.InstanceConfig) error { return nil }
	io := vigil.InstanceIO{Conn: conn, Addrs: i.addrs, Announcer: i.ann, Interface: name,
		Reconfigure: reconfigure, Release: release}
	if p.cfg.Reopen {
		io.Reopen = func(nc vigil.InstanceConfig) (vrrp.Conn, error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			forget()
			c, err := p.cfg.Hub.Join(src)
			if err != nil {
				return nil, fmt.Errorf("vigiltest: instance %s: %w", nc.VRRP.Name, err)
			}
			if len(nc.VRRP.Peers) > 0 {
				if err := c.SetPeers(nc.VRRP.Peers); err != nil {
					return nil, err
				}
			}
			conn = c
			p.attach(nc.VRRP.Name, parent, conn)
			return conn, nil
		}
	}
	return io, nil
}

// attach makes conn the Conn of instance name on parent (cut if parent
// is down). p.mu held.
func (p *Platform) attach(name string, parent *iface, conn *vrrptest.Conn) {
	parent.conns = append(parent.conns, conn)
	if !parent.up {
		conn.Cut()
	}
	p.conns[name] = conn
}

// Subscribe implements vigil.Platform.
func (p *Platform) Subscribe(n int) vigil.Events { return &events{p.feed.Subscribe(n)} }

type events struct{ s *feed.Sub[netlink.Event] }

func (e *events) C() <-chan netlink.Event { return e.s.C() }
func (e *events) Dropped() uint64         { return e.s.Dropped() }
func (e *events) Close()                  { e.s.Close() }

// Snapshot implements vigil.Platform: every interface, the addresses the
// instances hold, then Synced.
func (p *Platform) Snapshot() []netlink.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snapshotLocked()
}

func (p *Platform) snapshotLocked() []netlink.Event {
	var out []netlink.Event
	for _, name := range p.order {
		i := p.ifaces[name]
		out = append(out, netlink.Event{Kind: netlink.InterfaceAdded, Index: i.index, Interface: name, Up: i.up, Sync: true})
		for _, a := range i.addrs.Held() {
			out = append(out, netlink.Event{Kind: netlink.AddrAdded, Index: i.index, Interface: name, Addr: a, Sync: true})
		}
	}
	return append(out, netlink.Event{Kind: netlink.Synced, Sync: true})
}

// IPVS implements vigil.Platform: the Config's table (the same on every
// call).
func (p *Platform) IPVS() (ipvs.Backend, error) { return p.table, nil }

// Static implements vigil.Platform: the interface's address fake (an
// interface it did not have is added, up). Routes, rules and address
// options are not modelled.
func (p *Platform) Static(iface, label string, routes []netlink.Route, rules []netlink.Rule, _ map[netip.Prefix]netlink.AddrOptions) (vigil.StaticIO, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := p.ifaces[iface]
	if i == nil {
		i = p.addIface(iface)
		i.up = true
	}
	reconfigure := func([]netlink.Route, []netlink.Rule, map[netip.Prefix]netlink.AddrOptions) error { return nil }
	return vigil.StaticIO{Addrs: i.addrs, Reconfigure: reconfigure}, nil
}

// Run implements vigil.Platform: it publishes the initial listing, waits
// for ctx and closes the subscriptions.
func (p *Platform) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.ran {
		p.mu.Unlock()
		return fmt.Errorf("vigiltest: %w", vigil.ErrRan)
	}
	p.ran = true
	for _, e := range p.snapshotLocked() {
		p.feed.Publish(e)
	}
	beat := p.beat
	p.mu.Unlock()
	defer p.feed.Close()
	beat.Beat()
	if beat.Period() <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(beat.Period())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if !p.stalled.Load() {
				beat.Beat()
			}
		}
	}
}

// SetBeat makes Run beat b (see package watchdog) at least every
// b.Period(), as Linux's interface watcher does (the Supervisor watches
// it as its platform loop), except while Stall holds it. Call it before
// Run: once Run was called it changes nothing and returns vigil.ErrRan.
func (p *Platform) SetBeat(b *watchdog.Beat) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ran {
		return fmt.Errorf("vigiltest: %w", vigil.ErrRan)
	}
	p.beat = b
	return nil
}

// Stall makes Run stop beating (stalled true), as a watcher stuck in a
// kernel call would, so that the Supervisor's watchdog finds the platform
// loop stalled one deadline after the last beat; Stall(false) makes it
// beat again.
func (p *Platform) Stall(stalled bool) { p.stalled.Store(stalled) }

// Close implements vigil.Platform: it closes the instances' Conns and
// restores the interfaces' promote_secondaries.
func (p *Platform) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	for _, c := range p.conns {
		c.Close()
	}
	for _, i := range p.ifaces {
		i.promote = false
	}
	p.feed.Close()
	return nil
}

// SetInterface takes interface name down or up, as a cable pulled or an
// operator's `ip link set`: the instances on it (and its VMACs) neither
// send nor receive while it is down, and the event is published.
func (p *Platform) SetInterface(name string, up bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	i, ok := p.ifaces[name]
	if !ok {
		return fmt.Errorf("vigiltest: no interface %q", name)
	}
	if i.up == up {
		return nil
	}
	kind := netlink.InterfaceDown
	if up {
		kind = netlink.InterfaceUp
	}
	for _, c := range i.conns {
		if up {
			c.Heal()
		} else {
			c.Cut()
		}
	}
	for _, n := range p.order {
		if vi := p.ifaces[n]; n == name || vi.parent == name {
			vi.up = up
			p.feed.Publish(netlink.Event{Kind: kind, Index: vi.index, Interface: n, Up: up})
		}
	}
	return nil
}

// RemoveAddr removes address a from interface name as someone else would
// (an operator's `ip addr del`), and publishes the event.
func (p *Platform) RemoveAddr(name string, a netip.Prefix) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	i, ok := p.ifaces[name]
	if !ok {
		return fmt.Errorf("vigiltest: no interface %q", name)
	}
	if !i.addrs.Drop(a) {
		return fmt.Errorf("vigiltest: %v is not on %s", a, name)
	}
	p.feed.Publish(netlink.Event{Kind: netlink.AddrRemoved, Index: i.index, Interface: name, Addr: a})
	return nil
}

// Addrs returns the address manager of interface name: what its
// instances added and removed, and what it holds now.
func (p *Platform) Addrs(name string) *vrrptest.Addrs {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := p.ifaces[name]; i != nil {
		return i.addrs
	}
	return nil
}

// Announcer returns the announcer of interface name.
func (p *Platform) Announcer(name string) *vrrptest.Announcer {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := p.ifaces[name]; i != nil {
		return i.ann
	}
	return nil
}

// Conn returns the Conn of the named instance (the latest opened, when a
// reload replaced it).
func (p *Platform) Conn(instance string) *vrrptest.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns[instance]
}

// Table returns the IPVS table.
func (p *Platform) Table() *ipvstest.Table { return p.table }
