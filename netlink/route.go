package netlink

import (
	"fmt"
	"net/netip"
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
}

// String formats r as ip-rule(8) shows it.
func (r Rule) String() string {
	s := "from "
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
