package netlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/internal/retry"
	"github.com/vigil-ha/vigil/internal/smallset"
)

// AddrManager adds and removes virtual addresses, with their routes and
// rules, on one interface through netlink. It implements vrrp.AddrManager.
// Its methods are safe for concurrent use.
type AddrManager struct {
	cfg   AddrConfig
	iface string // cfg.Interface
	h     *vnl.Handle
	q     *AddrQueue // address adds and removals go through it
	ownQ  bool       // q is the manager's own: Close closes it
	log   *slog.Logger

	mu     sync.Mutex // serialises changes; guards the fields below
	closed bool
	// link caches the looked-up interface so becoming master costs one
	// netlink round trip per VIP; it is refreshed when the kernel says
	// ENODEV.
	link vnl.Link
	// held are the VIPs given to AddVIPs and not given to RemoveVIPs
	// since: while there are any, the routes and rules stay.
	held smallset.Set[netip.Prefix]
}

// NewAddrManager checks cfg (see AddrConfig.Validate) and returns a
// manager for cfg.Interface, with a netlink socket open in cfg.Netns. The
// interface need not exist yet.
func NewAddrManager(cfg AddrConfig) (*AddrManager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &AddrManager{cfg: cfg, iface: cfg.Interface, log: logx.OrDiscard(cfg.Logger).With("interface", cfg.Interface)}
	m.cfg.Routes = cloneRoutes(cfg.Routes)
	m.cfg.Rules = slices.Clone(cfg.Rules)
	m.cfg.Options = maps.Clone(cfg.Options)
	h, err := openHandle(cfg.Netns)
	if err != nil {
		return nil, fmt.Errorf("netlink: address manager on %s: %w", cfg.Interface, err)
	}
	q, own := cfg.Queue, cfg.Queue == nil
	if own {
		q, err = NewAddrQueue(cfg.Netns)
	} else {
		err = q.sameNetns(cfg.Netns)
	}
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink: address manager on %s: %w", cfg.Interface, err)
	}
	m.h, m.q, m.ownQ = h, q, own
	// Look the interface up now, if it exists, so the first AddVIPs
	// (becoming master: the latency that counts) makes no extra round
	// trip.
	if l, err := m.lookup(); err == nil {
		m.link = l
	}
	return m, nil
}

// lookup returns the manager's interface, of which only Attrs().Index is
// set (and Name): the index is all an address or route change needs, and
// AddrQueue.ifIndex finds it without vishvananda's 64 KiB answer buffer.
func (m *AddrManager) lookup() (vnl.Link, error) {
	i, err := m.q.ifIndex(m.iface)
	if err != nil {
		return nil, err
	}
	return &vnl.Device{LinkAttrs: vnl.LinkAttrs{Index: i, Name: m.iface}}, nil
}

// Close closes the netlink socket. It does not remove anything; later
// calls to the other methods return ErrClosed, and calling Close again
// does nothing.
func (m *AddrManager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.h.Close()
		if m.ownQ {
			m.q.Close()
		}
	}
	m.closed = true
	return nil
}

// AddVIPs adds vips to the interface (IPv6 ones with nodad, IPv4 ones
// with the label), then the routes and rules. Addresses, routes and rules
// that already exist are not an error. It goes on after a failure and
// returns every failure joined. A missing interface is an error wrapping
// ErrNoInterface; after Close it returns ErrClosed.
//
// From then on the manager holds vips (see RemoveVIPs), even if adding
// some of them failed: it follows what the caller (the VRRP master)
// believes it holds.
//
// accept is not used here: the drop rules of accept=false (keepalived's
// no_accept) are nftables', which package acceptmode holds and the Linux
// platform of package vigil applies around this manager.
func (m *AddrManager) AddVIPs(ctx context.Context, vips []netip.Prefix, accept bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("netlink: add VIPs on %s: %w", m.iface, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("netlink: add VIPs on %s: %w", m.iface, err)
	}
	for _, p := range vips {
		m.held.Add(p)
	}
	link := m.link
	if link == nil {
		l, err := m.lookup()
		if err != nil {
			return fmt.Errorf("netlink: add VIPs: %w", err)
		}
		link, m.link = l, l
	}
	var errs []error
	for _, p := range vips {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("netlink: add VIPs on %s: %w", m.iface, err))...)
		}
		err := m.addAddr(link, p)
		if errors.Is(err, unix.ENODEV) {
			// The interface was created again (new index): look it
			// up again.
			m.link = nil
			l, lerr := m.lookup()
			if lerr != nil {
				errs = append(errs, fmt.Errorf("netlink: add VIPs: %w", lerr))
				continue
			}
			link, m.link = l, l
			err = m.addAddr(link, p)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range m.cfg.Routes {
		if err := m.changeRoute(link, r, true); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range m.cfg.Rules {
		if err := m.changeRule(r, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RemoveVIPs removes vips, which the manager then no longer holds (VIPs
// are matched as prefixes: address and prefix length). When it holds no
// VIP after the call, it first removes the rules and routes, as
// keepalived does when an instance leaves MASTER; while it still holds
// some (a reload that drops one VIP of a master), they stay. So a
// RemoveVIPs of VIPs this manager never added, as at startup to clear a
// previous run's leftovers, removes the routes and rules too, unless it
// holds VIPs; and a caller that lets go of a VIP without passing it here
// (leaving it to another holder) keeps them installed. Missing
// addresses, routes and rules are not an error, nor is a missing
// interface (its addresses went with it). After Close it returns
// ErrClosed.
func (m *AddrManager) RemoveVIPs(ctx context.Context, vips []netip.Prefix) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("netlink: remove VIPs on %s: %w", m.iface, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("netlink: remove VIPs on %s: %w", m.iface, err)
	}
	for _, p := range vips {
		m.held.Delete(p)
	}
	last := m.held.Len() == 0
	var errs []error
	if last {
		for _, r := range m.cfg.Rules {
			if err := m.changeRule(r, false); err != nil {
				errs = append(errs, err)
			}
		}
	}
	link, err := m.lookup()
	if errors.Is(err, ErrNoInterface) {
		m.link = nil
		m.log.Debug("netlink: interface gone; its addresses and routes went with it")
		return errors.Join(errs...)
	}
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("netlink: remove VIPs: %w", err))...)
	}
	m.link = link
	if last {
		for _, r := range m.cfg.Routes {
			if err := m.changeRoute(link, r, false); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, p := range vips {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("netlink: remove VIPs on %s: %w", m.iface, err))...)
		}
		if err := m.delAddr(link, p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Reconfigure replaces the manager's configuration, for a reload that
// keeps the instance: Label, Routes, Rules, Options and Logger may
// change.
// Interface and Netns may not (compared as given): changing them is a
// *FieldError wrapping ErrInvalid, as are cfg's own problems (see
// AddrConfig.Validate); the configuration in force then stays. After
// Close it returns ErrClosed.
//
// The new Label and Options apply to the addresses added from then on;
// the VIPs already on the interface keep theirs (the kernel does not
// relabel an address in place, and removing and adding one would
// interrupt it).
//
// While the manager holds VIPs (see RemoveVIPs), Reconfigure removes the
// rules and routes no longer configured, then adds the new ones; those
// configured before and after (equal values) are not touched, so their
// traffic does not flap. Like AddVIPs it goes on after a failure and
// returns every failure joined, with the new configuration in force (the
// next AddVIPs adds what failed). While the manager holds no VIP,
// Reconfigure changes nothing in the kernel: the next AddVIPs installs
// the new routes and rules.
func (m *AddrManager) Reconfigure(cfg AddrConfig) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("netlink: reconfigure address manager on %s: %w", m.iface, ErrClosed)
	}
	p := problems{obj: on("address manager", m.iface)}
	if cfg.Interface != m.cfg.Interface {
		p.add("Interface", "%q cannot change to %q while the manager exists", m.cfg.Interface, cfg.Interface)
	}
	if cfg.Netns != m.cfg.Netns {
		p.add("Netns", "%q cannot change to %q while the manager exists", m.cfg.Netns, cfg.Netns)
	}
	if err := errors.Join(p.err(), cfg.Validate()); err != nil {
		return err
	}
	old := m.cfg
	m.cfg = cfg
	m.cfg.Routes = cloneRoutes(cfg.Routes)
	m.cfg.Rules = slices.Clone(cfg.Rules)
	m.cfg.Options = maps.Clone(cfg.Options)
	m.log = logx.OrDiscard(cfg.Logger).With("interface", cfg.Interface)
	if m.held.Len() == 0 {
		return nil
	}
	var errs []error
	for _, r := range missing(old.Rules, m.cfg.Rules, Rule.equal) {
		if err := m.changeRule(r, false); err != nil {
			errs = append(errs, err)
		}
	}
	// Routes through the interface need it; when it is missing (nil
	// link) they went with it, and the others can still be changed.
	if link, err := m.lookup(); err != nil && !errors.Is(err, ErrNoInterface) {
		errs = append(errs, fmt.Errorf("netlink: reconfigure routes: %w", err))
	} else {
		m.link = link
		for _, r := range missing(old.Routes, m.cfg.Routes, Route.Equal) {
			if err := m.changeRoute(link, r, false); err != nil {
				errs = append(errs, err)
			}
		}
		for _, r := range missing(m.cfg.Routes, old.Routes, Route.Equal) {
			if err := m.changeRoute(link, r, true); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, r := range missing(m.cfg.Rules, old.Rules, Rule.equal) {
		if err := m.changeRule(r, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// missing returns the values of a that are not in b, in a's order.
func missing[T any](a, b []T, eq func(T, T) bool) []T {
	var out []T
	for _, v := range a {
		if !slices.ContainsFunc(b, func(w T) bool { return eq(v, w) }) {
			out = append(out, v)
		}
	}
	return out
}

// ForgetVIPs stops holding vips without removing them from the
// interface: another holder keeps them (two VRRP instances on one
// interface sharing a VIP, one leaving MASTER). When the manager then
// holds no VIP, it removes its rules and routes, as RemoveVIPs would.
// After Close it returns ErrClosed.
func (m *AddrManager) ForgetVIPs(ctx context.Context, vips []netip.Prefix) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return fmt.Errorf("netlink: forget VIPs on %s: %w", m.iface, ErrClosed)
	}
	had := m.held.Len() > 0
	for _, p := range vips {
		m.held.Delete(p)
	}
	last := had && m.held.Len() == 0
	m.mu.Unlock()
	if !last {
		return nil
	}
	return m.RemoveVIPs(ctx, nil)
}

// List returns the addresses on the interface, with their prefix
// lengths, in the kernel's order.
func (m *AddrManager) List(ctx context.Context) ([]netip.Prefix, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("netlink: list addresses on %s: %w", m.iface, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("netlink: list addresses on %s: %w", m.iface, err)
	}
	link, err := m.lookup()
	if err != nil {
		return nil, fmt.Errorf("netlink: list addresses: %w", err)
	}
	addrs, err := listAddrs(m.h, link)
	if err != nil {
		return nil, fmt.Errorf("netlink: list addresses on %s: %w", m.iface, err)
	}
	out := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// Has reports whether vip (address and prefix length) is on the
// interface. An address whose duplicate address detection failed still
// counts.
func (m *AddrManager) Has(ctx context.Context, vip netip.Prefix) (bool, error) {
	addrs, err := m.List(ctx)
	if err != nil {
		return false, err
	}
	for _, p := range addrs {
		if p == vip {
			return true, nil
		}
	}
	return false, nil
}

// listAddrs lists link's addresses, reading again a dump the kernel
// interrupted (see retry.Dump).
func listAddrs(h *vnl.Handle, link vnl.Link) ([]vnl.Addr, error) {
	return retry.Dump(interrupted, func() ([]vnl.Addr, error) { return h.AddrList(link, vnl.FAMILY_ALL) })
}

// interrupted reports whether err says the kernel interrupted a dump.
func interrupted(err error) bool { return errors.Is(err, vnl.ErrDumpInterrupted) }

func (m *AddrManager) vnlAddr(p netip.Prefix, label bool) (*vnl.Addr, error) {
	if !p.IsValid() || p.Addr().Is4In6() {
		return nil, fmt.Errorf("netlink: %s: invalid address %v", m.iface, p)
	}
	a := &vnl.Addr{IPNet: ipNet(p)}
	if p.Addr().Is4() {
		a.Broadcast = net.IPv4zero // as keepalived: no broadcast unless asked
		if label {
			a.Label = m.cfg.Label
		}
	} else {
		a.Flags = unix.IFA_F_NODAD
	}
	if label { // adding: the options apply
		setOptions(a, m.cfg.Options[p])
	}
	return a, nil
}

func (m *AddrManager) addAddr(link vnl.Link, p netip.Prefix) error {
	a, err := m.vnlAddr(p, true)
	if err != nil {
		return err
	}
	if err := m.q.do(addrMessage(true, link.Attrs().Index, a)); err != nil {
		if errors.Is(err, unix.EEXIST) {
			m.log.Debug("netlink: address already present", "addr", p)
			return nil
		}
		return fmt.Errorf("netlink: %s: add address %v: %w", m.iface, p, err)
	}
	m.log.Info("netlink: address added", "addr", p)
	return nil
}

func (m *AddrManager) delAddr(link vnl.Link, p netip.Prefix) error {
	// No label: the kernel would then only match an address with that label.
	a, err := m.vnlAddr(p, false)
	if err != nil {
		return err
	}
	if err := m.q.do(addrMessage(false, link.Attrs().Index, a)); err != nil {
		if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			m.log.Debug("netlink: address already absent", "addr", p)
			return nil
		}
		return fmt.Errorf("netlink: %s: remove address %v: %w", m.iface, p, err)
	}
	m.log.Info("netlink: address removed", "addr", p)
	return nil
}
