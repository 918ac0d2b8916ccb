package netlink

import (
	"errors"
	"fmt"
	"time"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// changeRoute adds or removes r, a route that follows the VIPs, with
// link (the manager's interface) as its default outgoing interface. A nil
// link says the interface does not exist: removing a route through it is
// then done (the route went with it), adding one an error wrapping
// ErrNoInterface.
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
		if r.Interface != "" && r.Interface != m.iface {
			i, err := m.q.ifIndex(r.Interface)
			if err != nil {
				if !add && errors.Is(err, ErrNoInterface) {
					return nil // the route went with its interface
				}
				return fmt.Errorf("netlink: route %v: %w", r, err)
			}
			vr.LinkIndex = i
		} else if link == nil {
			if !add {
				return nil // the route went with its interface
			}
			return fmt.Errorf("netlink: route %v: interface %s: %w", r, m.iface, ErrNoInterface)
		} else {
			vr.LinkIndex = link.Attrs().Index
		}
		if r.Gw.IsValid() {
			vr.Gw = r.Gw.AsSlice()
		} else if len(r.MultiPath) == 0 {
			vr.Scope = vnl.SCOPE_LINK
		}
		if r.OnLink {
			vr.Flags |= unix.RTNH_F_ONLINK
		}
		if err := m.multiPath(vr, r, add); err != nil {
			return err
		}
	}
	if sc, ok := r.Scope.kernel(); ok {
		vr.Scope = vnl.Scope(sc)
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
		if err := m.routeAdd(r.Mode, vr); err != nil {
			if errors.Is(err, unix.EEXIST) {
				return nil
			}
			return fmt.Errorf("netlink: %s: add route %v: %w", m.iface, r, err)
		}
		m.log.Info("netlink: route added", "route", r.String())
		return nil
	}
	if err := m.h.RouteDel(vr); err != nil {
		if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("netlink: %s: remove route %v: %w", m.iface, r, err)
	}
	m.log.Info("netlink: route removed", "route", r.String())
	return nil
}

// changeRule adds or removes r, a rule that follows the VIPs.
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
	vr.Invert = r.Invert
	if add {
		if err := m.h.RuleAdd(vr); err != nil {
			if errors.Is(err, unix.EEXIST) {
				return nil
			}
			return fmt.Errorf("netlink: %s: add rule %v: %w", m.iface, r, err)
		}
		m.log.Info("netlink: rule added", "rule", r.String())
		return nil
	}
	if err := m.h.RuleDel(vr); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("netlink: %s: remove rule %v: %w", m.iface, r, err)
	}
	m.log.Info("netlink: rule removed", "rule", r.String())
	return nil
}

// routeAdd adds vr as mode says.
func (m *AddrManager) routeAdd(mode RouteMode, vr *vnl.Route) error {
	switch mode {
	case RoutePrepend:
		return m.h.RouteAddEcmp(vr) // NLM_F_CREATE alone: ip route prepend
	case RouteAppend:
		return m.h.RouteAppend(vr)
	}
	return m.h.RouteAdd(vr)
}

// multiPath sets vr's paths from r's MultiPath. A path without an
// interface uses r's, else vr's (the manager's interface).
func (m *AddrManager) multiPath(vr *vnl.Route, r Route, add bool) error {
	for _, h := range r.MultiPath {
		nh := &vnl.NexthopInfo{LinkIndex: vr.LinkIndex}
		if h.Interface != "" {
			i, err := m.q.ifIndex(h.Interface)
			if err != nil {
				if !add && errors.Is(err, ErrNoInterface) {
					continue // that path went with its interface
				}
				return fmt.Errorf("netlink: route %v: %w", r, err)
			}
			nh.LinkIndex = i
		}
		if h.Gw.IsValid() {
			nh.Gw = h.Gw.AsSlice()
		}
		if h.Weight > 1 {
			nh.Hops = h.Weight - 1
		}
		if h.OnLink {
			nh.Flags |= unix.RTNH_F_ONLINK
		}
		vr.MultiPath = append(vr.MultiPath, nh)
	}
	if len(vr.MultiPath) > 0 {
		vr.LinkIndex = 0
	}
	return nil
}

// setOptions applies o to a, an address being added.
func setOptions(a *vnl.Addr, o AddrOptions) {
	is4 := a.IP.To4() != nil
	if sc, ok := o.Scope.kernel(); ok && is4 {
		a.Scope = int(sc)
	}
	if o.Broadcast.IsValid() && is4 {
		a.Broadcast = o.Broadcast.AsSlice()
	}
	if o.NoPrefixRoute {
		a.Flags |= unix.IFA_F_NOPREFIXROUTE
	}
	if o.PreferredLifetime != 0 && !is4 {
		a.ValidLft = 0xFFFFFFFF // forever
		if o.PreferredLifetime > 0 {
			a.PreferedLft = int(o.PreferredLifetime / time.Second)
		}
	}
}
