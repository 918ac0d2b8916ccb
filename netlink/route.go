package netlink

import (
	"fmt"
	"net/netip"
	"slices"
)

// RouteType is a route's kernel type. The zero value is RouteUnicast.
type RouteType uint8

//go:generate go tool stringer -type=RouteType -linecomment

// Route types (keepalived's virtual_routes accept the same).
const (
	RouteUnicast     RouteType = iota // unicast
	RouteBlackhole                    // blackhole
	RouteUnreachable                  // unreachable
	RouteProhibit                     // prohibit
)

// Route is a route that follows the VIPs (keepalived's virtual_routes):
// installed after the VIPs are added, removed before the last of them is
// removed (see AddrManager.RemoveVIPs).
type Route struct {
	// Dst is the destination (required).
	Dst netip.Prefix
	// Gw is the next hop; invalid means on-link (scope link).
	Gw netip.Addr
	// Src is the preferred source address, often a VIP.
	Src netip.Addr
	// Interface is the outgoing interface; empty means the manager's
	// interface. Ignored for blackhole, unreachable and prohibit routes.
	Interface string
	// Table is the routing table; 0 means main; negative is invalid.
	Table int
	// Metric is the route priority; 0 is the kernel's default; negative
	// is invalid.
	Metric int
	Type   RouteType
	// Scope is the route's scope; ScopeDefault means link for a unicast
	// route without a gateway, global otherwise.
	Scope Scope
	// OnLink says the gateway is on the link even if no prefix of the
	// interface covers it (RTNH_F_ONLINK).
	OnLink bool
	// Mode is how the route is added next to an existing route to its
	// destination; the zero value is RouteAdd.
	Mode RouteMode
	// MultiPath are the paths of a multipath route (keepalived's nexthop
	// and or); with them Gw must be invalid. Empty: a single path.
	MultiPath []Nexthop
}

// Equal reports whether r and o are the same route, paths included.
func (r Route) Equal(o Route) bool {
	return r.Dst == o.Dst && r.Gw == o.Gw && r.Src == o.Src && r.Interface == o.Interface &&
		r.Table == o.Table && r.Metric == o.Metric && r.Type == o.Type && r.Scope == o.Scope &&
		r.OnLink == o.OnLink && r.Mode == o.Mode && slices.Equal(r.MultiPath, o.MultiPath)
}

// String formats r as ip-route(8) shows it.
func (r Route) String() string {
	s := r.Dst.String()
	if r.Type != RouteUnicast {
		s = r.Type.String() + " " + s
	}
	if r.Gw.IsValid() {
		s += " via " + r.Gw.String()
	}
	if r.Interface != "" {
		s += " dev " + r.Interface
	}
	if r.Src.IsValid() {
		s += " src " + r.Src.String()
	}
	if r.Table != 0 {
		s += fmt.Sprintf(" table %d", r.Table)
	}
	if r.Metric != 0 {
		s += fmt.Sprintf(" metric %d", r.Metric)
	}
	if r.Scope != ScopeDefault {
		s += " scope " + r.Scope.String()
	}
	if r.OnLink {
		s += " onlink"
	}
	for _, h := range r.MultiPath {
		s += " " + h.String()
	}
	if r.Mode != RouteAdd {
		s = r.Mode.String() + " " + s
	}
	return s
}

// Rule is a policy routing rule that follows the VIPs (keepalived's
// virtual_rules). At least one of From and To is required; they give the
// rule's address family.
type Rule struct {
	// Priority orders the rule; 0 lets the kernel choose; negative is
	// invalid.
	Priority int
	From, To netip.Prefix
	// Table is the table to look up (required).
	Table int
	// IifName and OifName restrict the rule to an input or output interface.
	IifName, OifName string
	// Mark matches the firewall mark, if not 0.
	Mark uint32
	// Invert makes the rule match the packets the selectors do not
	// (ip rule not ...).
	Invert bool
}

// String formats r as ip-rule(8) shows it.
func (r Rule) String() string {
	s := "from "
	if r.Invert {
		s = "not from "
	}
	if r.From.IsValid() {
		s += r.From.String()
	} else {
		s += "all"
	}
	if r.To.IsValid() {
		s += " to " + r.To.String()
	}
	if r.IifName != "" {
		s += " iif " + r.IifName
	}
	if r.OifName != "" {
		s += " oif " + r.OifName
	}
	if r.Mark != 0 {
		s += fmt.Sprintf(" fwmark 0x%x", r.Mark)
	}
	s += fmt.Sprintf(" lookup %d", r.Table)
	if r.Priority != 0 {
		s = fmt.Sprintf("%d: %s", r.Priority, s)
	}
	return s
}

// is4 reports the rule's family.
func (r Rule) is4() bool {
	if r.From.IsValid() {
		return r.From.Addr().Is4()
	}
	return r.To.Addr().Is4()
}

// equal reports r == o (for missing).
func (r Rule) equal(o Rule) bool { return r == o }

// cloneRoutes copies rs, paths included.
func cloneRoutes(rs []Route) []Route {
	out := slices.Clone(rs)
	for i := range out {
		out[i].MultiPath = slices.Clone(out[i].MultiPath)
	}
	return out
}
