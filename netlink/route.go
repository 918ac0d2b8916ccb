package netlink

import (
	"fmt"
	"net/netip"
)

// RouteType is a route's kernel type. The zero value is RouteUnicast.
type RouteType uint8

// Route types (keepalived's virtual_routes accept the same).
const (
	RouteUnicast RouteType = iota
	RouteBlackhole
	RouteUnreachable
	RouteProhibit
)

func (t RouteType) String() string {
	switch t {
	case RouteUnicast:
		return "unicast"
	case RouteBlackhole:
		return "blackhole"
	case RouteUnreachable:
		return "unreachable"
	case RouteProhibit:
		return "prohibit"
	}
	return fmt.Sprintf("RouteType(%d)", uint8(t))
}

// Route is a route that follows the VIPs (keepalived's virtual_routes):
// installed after the VIPs are added, removed before they are removed.
type Route struct {
	// Dst is the destination (required).
	Dst netip.Prefix
	// Gw is the next hop; invalid means on-link (scope link).
	Gw netip.Addr
	// Src is the preferred source address, often a VIP.
	Src netip.Addr
	// Link is the outgoing interface; empty means the manager's link.
	// Ignored for blackhole, unreachable and prohibit routes.
	Link string
	// Table is the routing table; 0 means main.
	Table int
	// Metric is the route priority; 0 is the kernel's default.
	Metric int
	Type   RouteType
}

func (r Route) String() string {
	s := r.Dst.String()
	if r.Type != RouteUnicast {
		s = r.Type.String() + " " + s
	}
	if r.Gw.IsValid() {
		s += " via " + r.Gw.String()
	}
	if r.Link != "" {
		s += " dev " + r.Link
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

func (r Route) check() error {
	if !r.Dst.IsValid() {
		return fmt.Errorf("route %v: no destination", r)
	}
	is4 := r.Dst.Addr().Is4()
	for _, a := range []netip.Addr{r.Gw, r.Src} {
		if a.IsValid() && a.Is4() != is4 {
			return fmt.Errorf("route %v: mixed address families", r)
		}
	}
	if r.Type > RouteProhibit {
		return fmt.Errorf("route %v: bad type", r)
	}
	if r.Type != RouteUnicast && r.Gw.IsValid() {
		return fmt.Errorf("route %v: a %v route has no gateway", r, r.Type)
	}
	if r.Table < 0 || r.Metric < 0 {
		return fmt.Errorf("route %v: negative table or metric", r)
	}
	return nil
}

// Rule is a policy routing rule that follows the VIPs (keepalived's
// virtual_rules). At least one of From and To is required; they give the
// rule's address family.
type Rule struct {
	// Priority orders the rule; 0 lets the kernel choose.
	Priority int
	From, To netip.Prefix
	// Table is the table to look up (required).
	Table int
	// IifName and OifName restrict the rule to an input or output interface.
	IifName, OifName string
	// Mark matches the firewall mark, if not 0.
	Mark uint32
}

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

func (r Rule) check() error {
	if !r.From.IsValid() && !r.To.IsValid() {
		return fmt.Errorf("rule %v: needs From or To", r)
	}
	if r.From.IsValid() && r.To.IsValid() && r.From.Addr().Is4() != r.To.Addr().Is4() {
		return fmt.Errorf("rule %v: mixed address families", r)
	}
	if r.Table <= 0 {
		return fmt.Errorf("rule %v: needs a table", r)
	}
	if r.Priority < 0 {
		return fmt.Errorf("rule %v: negative priority", r)
	}
	return nil
}

// is4 reports the rule's family.
func (r Rule) is4() bool {
	if r.From.IsValid() {
		return r.From.Addr().Is4()
	}
	return r.To.Addr().Is4()
}
