package netlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AddrConfig configures an AddrManager.
type AddrConfig struct {
	// Link is the interface that holds the VIPs (required).
	Link string
	// Handle is the netlink handle to work through, e.g. one from
	// vnl.NewHandleAt(ns) for another namespace; the caller keeps owning
	// it. Nil: NewAddrManager opens one in the namespace of the calling
	// thread, and Close releases it.
	Handle *vnl.Handle
	// Label is the label given to IPv4 VIPs (keepalived's "label"); it must
	// start with Link and be at most 15 bytes. Empty: no label.
	Label string
	// Routes and Rules follow the VIPs: installed by AddVIPs after the
	// addresses, removed by RemoveVIPs before them.
	Routes []Route
	Rules  []Rule
	// Logger receives the manager's logs; nil discards them.
	Logger *slog.Logger
}

// AddrManager adds and removes virtual addresses, with their routes and
// rules, on one interface through netlink. It implements vrrp.AddrManager.
// Its methods are safe for concurrent use.
type AddrManager struct {
	cfg  AddrConfig
	h    *vnl.Handle
	ownH bool
	log  *slog.Logger

	mu           sync.Mutex // serialises changes; guards the fields below
	closed       bool
	warnedAccept bool
	// link caches the looked-up link so becoming master costs one netlink
	// round trip per VIP; it is refreshed when the kernel says ENODEV.
	link vnl.Link
}

// NewAddrManager checks cfg and returns a manager for cfg.Link. The link
// need not exist yet.
func NewAddrManager(cfg AddrConfig) (*AddrManager, error) {
	if cfg.Link == "" {
		return nil, errors.New("netlink: address manager: no link")
	}
	if cfg.Label != "" && (!strings.HasPrefix(cfg.Label, cfg.Link) || len(cfg.Label) > unix.IFNAMSIZ-1) {
		return nil, fmt.Errorf("netlink: address manager on %s: label %q must start with the link name and be at most %d bytes",
			cfg.Link, cfg.Label, unix.IFNAMSIZ-1)
	}
	for _, r := range cfg.Routes {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("netlink: address manager on %s: %w", cfg.Link, err)
		}
	}
	for _, r := range cfg.Rules {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("netlink: address manager on %s: %w", cfg.Link, err)
		}
	}
	m := &AddrManager{cfg: cfg, h: cfg.Handle, log: cfg.Logger}
	m.cfg.Routes = append([]Route(nil), cfg.Routes...)
	m.cfg.Rules = append([]Rule(nil), cfg.Rules...)
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.log = m.log.With("link", cfg.Link)
	if m.h == nil {
		h, err := vnl.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("netlink: address manager on %s: open netlink handle: %w", cfg.Link, err)
		}
		m.h, m.ownH = h, true
	}
	// Look the link up now, if it exists, so the first AddVIPs (becoming
	// master: the latency that counts) makes no extra round trip.
	if l, err := linkByName(m.h, cfg.Link); err == nil {
		m.link = l
	}
	return m, nil
}

// Close releases the handle NewAddrManager opened, if any. It does not
// remove anything; later calls return ErrClosed.
func (m *AddrManager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed && m.ownH {
		m.h.Close()
	}
	m.closed = true
	return nil
}

// AddVIPs adds vips to the link (IPv6 ones with nodad, IPv4 ones with the
// label), then the routes and rules. Addresses, routes and rules that
// already exist are not an error. It goes on after a failure and returns
// every failure joined.
//
// accept=false (keepalived's no_accept) is accepted but not enforced:
// keepalived installs firewall rules dropping traffic to the VIPs, which
// needs nftables or iptables; this package does not do that, logs it once,
// and the VIPs accept traffic.
func (m *AddrManager) AddVIPs(ctx context.Context, vips []netip.Prefix, accept bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("netlink: add VIPs on %s: %w", m.cfg.Link, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("netlink: add VIPs on %s: %w", m.cfg.Link, err)
	}
	link := m.link
	if link == nil {
		l, err := linkByName(m.h, m.cfg.Link)
		if err != nil {
			return fmt.Errorf("netlink: add VIPs: %w", err)
		}
		link, m.link = l, l
	}
	var errs []error
	for _, p := range vips {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("netlink: add VIPs on %s: %w", m.cfg.Link, err))...)
		}
		err := m.addAddr(link, p)
		if errors.Is(err, unix.ENODEV) {
			// The link was recreated (new index): look it up again.
			m.link = nil
			l, lerr := linkByName(m.h, m.cfg.Link)
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
	if !accept && !m.warnedAccept {
		m.warnedAccept = true
		m.log.Warn("netlink: accept mode off (no_accept) is not enforced: firewall drop rules are not implemented; the VIPs accept traffic")
	}
	return errors.Join(errs...)
}

// RemoveVIPs removes the rules and routes, then vips. Missing ones are not
// an error, nor is a missing link (its addresses went with it).
func (m *AddrManager) RemoveVIPs(ctx context.Context, vips []netip.Prefix) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("netlink: remove VIPs on %s: %w", m.cfg.Link, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("netlink: remove VIPs on %s: %w", m.cfg.Link, err)
	}
	var errs []error
	for _, r := range m.cfg.Rules {
		if err := m.changeRule(r, false); err != nil {
			errs = append(errs, err)
		}
	}
	link, err := linkByName(m.h, m.cfg.Link)
	if errors.Is(err, ErrLinkNotFound) {
		m.link = nil
		m.log.Debug("netlink: link gone; its addresses and routes went with it")
		return errors.Join(errs...)
	}
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("netlink: remove VIPs: %w", err))...)
	}
	m.link = link
	for _, r := range m.cfg.Routes {
		if err := m.changeRoute(link, r, false); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range vips {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("netlink: remove VIPs on %s: %w", m.cfg.Link, err))...)
		}
		if err := m.delAddr(link, p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// List returns the addresses on the link, with their prefix lengths, in
// the kernel's order.
func (m *AddrManager) List(ctx context.Context) ([]netip.Prefix, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("netlink: list addresses on %s: %w", m.cfg.Link, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("netlink: list addresses on %s: %w", m.cfg.Link, err)
	}
	link, err := linkByName(m.h, m.cfg.Link)
	if err != nil {
		return nil, fmt.Errorf("netlink: list addresses: %w", err)
	}
	addrs, err := listAddrs(m.h, link)
	if err != nil {
		return nil, fmt.Errorf("netlink: list addresses on %s: %w", m.cfg.Link, err)
	}
	out := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// Has reports whether vip (address and prefix length) is on the link. An
// address whose duplicate address detection failed still counts.
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

// listAddrs lists link's addresses, retrying a dump the kernel interrupted.
func listAddrs(h *vnl.Handle, link vnl.Link) ([]vnl.Addr, error) {
	var err error
	for range 5 {
		var addrs []vnl.Addr
		addrs, err = h.AddrList(link, vnl.FAMILY_ALL)
		if !errors.Is(err, vnl.ErrDumpInterrupted) {
			return addrs, err
		}
	}
	return nil, err
}

func (m *AddrManager) vnlAddr(p netip.Prefix, label bool) (*vnl.Addr, error) {
	if !p.IsValid() || p.Addr().Is4In6() {
		return nil, fmt.Errorf("netlink: %s: invalid address %v", m.cfg.Link, p)
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
	return a, nil
}

func (m *AddrManager) addAddr(link vnl.Link, p netip.Prefix) error {
	a, err := m.vnlAddr(p, true)
	if err != nil {
		return err
	}
	if err := m.h.AddrAdd(link, a); err != nil {
		if errors.Is(err, unix.EEXIST) {
			m.log.Debug("netlink: address already present", "addr", p)
			return nil
		}
		return fmt.Errorf("netlink: %s: add address %v: %w", m.cfg.Link, p, err)
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
	if err := m.h.AddrDel(link, a); err != nil {
		if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			m.log.Debug("netlink: address already absent", "addr", p)
			return nil
		}
		return fmt.Errorf("netlink: %s: remove address %v: %w", m.cfg.Link, p, err)
	}
	m.log.Info("netlink: address removed", "addr", p)
	return nil
}

func (m *AddrManager) changeRoute(link vnl.Link, r Route, add bool) error {
	vr := &vnl.Route{Dst: ipNet(r.Dst), Table: r.Table, Priority: r.Metric}
	switch r.Type {
	case RouteBlackhole:
		vr.Type = unix.RTN_BLACKHOLE
	case RouteUnreachable:
		vr.Type = unix.RTN_UNREACHABLE
	case RouteProhibit:
		vr.Type = unix.RTN_PROHIBIT
	default:
		vr.Type = unix.RTN_UNICAST
		vr.LinkIndex = link.Attrs().Index
		if r.Link != "" && r.Link != m.cfg.Link {
			l, err := linkByName(m.h, r.Link)
			if err != nil {
				if !add && errors.Is(err, ErrLinkNotFound) {
					return nil // the route went with its link
				}
				return fmt.Errorf("netlink: route %v: %w", r, err)
			}
			vr.LinkIndex = l.Attrs().Index
		}
		if r.Gw.IsValid() {
			vr.Gw = r.Gw.AsSlice()
		} else {
			vr.Scope = vnl.SCOPE_LINK
		}
	}
	if r.Src.IsValid() {
		vr.Src = r.Src.AsSlice()
	}
	if r.Dst.Addr().Is4() {
		vr.Family = vnl.FAMILY_V4
	} else {
		vr.Family = vnl.FAMILY_V6
	}
	if add {
		if err := m.h.RouteAdd(vr); err != nil {
			if errors.Is(err, unix.EEXIST) {
				return nil
			}
			return fmt.Errorf("netlink: %s: add route %v: %w", m.cfg.Link, r, err)
		}
		m.log.Info("netlink: route added", "route", r.String())
		return nil
	}
	if err := m.h.RouteDel(vr); err != nil {
		if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("netlink: %s: remove route %v: %w", m.cfg.Link, r, err)
	}
	m.log.Info("netlink: route removed", "route", r.String())
	return nil
}

func (m *AddrManager) changeRule(r Rule, add bool) error {
	vr := vnl.NewRule()
	if r.is4() {
		vr.Family = vnl.FAMILY_V4
	} else {
		vr.Family = vnl.FAMILY_V6
	}
	if r.Priority > 0 {
		vr.Priority = r.Priority
	}
	if r.From.IsValid() {
		vr.Src = ipNet(r.From)
	}
	if r.To.IsValid() {
		vr.Dst = ipNet(r.To)
	}
	vr.Table = r.Table
	vr.IifName, vr.OifName = r.IifName, r.OifName
	vr.Mark = r.Mark
	if add {
		if err := m.h.RuleAdd(vr); err != nil {
			if errors.Is(err, unix.EEXIST) {
				return nil
			}
			return fmt.Errorf("netlink: %s: add rule %v: %w", m.cfg.Link, r, err)
		}
		m.log.Info("netlink: rule added", "rule", r.String())
		return nil
	}
	if err := m.h.RuleDel(vr); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("netlink: %s: remove rule %v: %w", m.cfg.Link, r, err)
	}
	m.log.Info("netlink: rule removed", "rule", r.String())
	return nil
}

// ipNet converts p, keeping its address (not masked).
func ipNet(p netip.Prefix) *net.IPNet {
	a := p.Addr().Unmap()
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}

// prefixOf converts n, keeping its address.
func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, bits := n.Mask.Size()
	if bits != a.BitLen() {
		if bits == 128 && a.Is4() && ones >= 96 {
			ones -= 96
		} else {
			return netip.Prefix{}, false
		}
	}
	return netip.PrefixFrom(a, ones), true
}
