package netlink

import (
	"fmt"
	"net/netip"
	"time"
)

// Scope is the scope of an address or a route. The zero value,
// ScopeDefault, lets the kernel (for an address: global) or the manager
// (for a route: link without a gateway, global otherwise) choose.
type Scope uint8

//go:generate go tool stringer -type=Scope -linecomment

// Scopes, as ip(8) names them.
const (
	ScopeDefault Scope = iota // default
	ScopeGlobal               // global
	ScopeSite                 // site
	ScopeLink                 // link
	ScopeHost                 // host
	ScopeNowhere              // nowhere
)

// kernelScopes are the kernel's values of the scopes (RT_SCOPE_*).
var kernelScopes = [...]uint8{ScopeGlobal: 0, ScopeSite: 200, ScopeLink: 253, ScopeHost: 254, ScopeNowhere: 255}

// ParseScope returns the scope named s ("global" or "universe", "site",
// "link", "host", "nowhere") or numbered s (0, 200, 253, 254, 255), as
// keepalived reads a scope.
func ParseScope(s string) (Scope, error) {
	for sc := ScopeGlobal; sc <= ScopeNowhere; sc++ {
		if s == sc.String() || s == fmt.Sprint(kernelScopes[sc]) {
			return sc, nil
		}
	}
	if s == "universe" {
		return ScopeGlobal, nil
	}
	return ScopeDefault, fmt.Errorf("netlink: %q is not a scope (global, site, link, host, nowhere)", s)
}

// kernel returns the kernel's value of s; ok is false for ScopeDefault.
func (s Scope) kernel() (v uint8, ok bool) {
	if s == ScopeDefault || s > ScopeNowhere {
		return 0, false
	}
	return kernelScopes[s], true
}

// AddrOptions are the attributes of one address, as keepalived's address
// options set them (scope, brd, noprefixroute, preferred_lft, no_track).
// The zero value is the defaults: those of an address without options.
type AddrOptions struct {
	// Scope is the address's scope (IPv4 only); ScopeDefault lets the
	// kernel choose (global).
	Scope Scope
	// Broadcast is the broadcast address of an IPv4 address; the zero
	// Addr means none, as keepalived without brd.
	Broadcast netip.Addr
	// NoPrefixRoute keeps the kernel from adding the route to the
	// address's prefix (IFA_F_NOPREFIXROUTE).
	NoPrefixRoute bool
	// PreferredLifetime is how long an IPv6 address stays preferred
	// (as a source address), in whole seconds; 0 means forever (the
	// kernel's default), negative means 0 s: the address is deprecated
	// at once, so the kernel does not choose it as a source. The address
	// stays valid forever either way. Ignored for IPv4 addresses.
	PreferredLifetime time.Duration
	// NoTrack says the address is not watched: when someone else
	// removes it, the instance holding it does not put it back and stays
	// master (keepalived's no_track). The AddrManager does not use it;
	// the wiring (host.Host, vigil.Supervisor) does.
	NoTrack bool
}

// validate returns o's problems, for address p, as *FieldErrors of obj.
func (o AddrOptions) validate(obj string, p netip.Prefix) []error {
	pr := problems{obj: obj}
	if o.Scope > ScopeNowhere {
		pr.add("Scope", "%d is not a scope", o.Scope)
	}
	if o.Scope != ScopeDefault && p.Addr().Is6() {
		pr.add("Scope", "set on IPv6 address %v: the kernel gives IPv6 addresses their scope", p)
	}
	if o.Broadcast.IsValid() && (!o.Broadcast.Is4() || !p.Addr().Is4()) {
		pr.add("Broadcast", "%v: only an IPv4 address has an IPv4 broadcast address", o.Broadcast)
	}
	if o.PreferredLifetime > 0 && (o.PreferredLifetime < time.Second || o.PreferredLifetime/time.Second >= 1<<32-1) {
		pr.add("PreferredLifetime", "%v, want 1 s up to 2^32-2 s (0: forever, negative: 0 s)", o.PreferredLifetime)
	}
	return pr.errs
}

// RouteMode is how a route is added when the kernel already has a route
// to its destination in its table with its metric. The zero value,
// RouteAdd, is ip route add.
type RouteMode uint8

//go:generate go tool stringer -type=RouteMode -linecomment

// Route modes (keepalived's add, prepend and append route options).
const (
	// RouteAdd adds the route only if there is no such route (ip route
	// add, NLM_F_EXCL): an existing one stays and this one is not added.
	RouteAdd RouteMode = iota // add
	// RoutePrepend adds the route before an existing one (ip route
	// prepend; the kernel's and keepalived's default).
	RoutePrepend // prepend
	// RouteAppend adds the route after an existing one (ip route append).
	RouteAppend // append
)

// Nexthop is one path of a multipath route (ip route ... nexthop via GW
// dev IF weight W onlink).
type Nexthop struct {
	// Gw is the path's gateway; invalid means none (a direct path).
	Gw netip.Addr
	// Interface is the path's outgoing interface; empty means the
	// route's, else the manager's.
	Interface string
	// Weight is the path's share, 1..256; 0 means 1.
	Weight int
	// OnLink says the gateway is on the link even if no prefix of the
	// interface covers it (RTNH_F_ONLINK).
	OnLink bool
}

// String formats h as ip-route(8) shows a nexthop.
func (h Nexthop) String() string {
	s := "nexthop"
	if h.Gw.IsValid() {
		s += " via " + h.Gw.String()
	}
	if h.Interface != "" {
		s += " dev " + h.Interface
	}
	if h.Weight > 1 {
		s += fmt.Sprintf(" weight %d", h.Weight)
	}
	if h.OnLink {
		s += " onlink"
	}
	return s
}

// validatePaths returns the problems of r's Scope, Mode and MultiPath as
// *FieldErrors of obj.
func (r Route) validatePaths(obj string) []error {
	p := problems{obj: obj}
	if r.Scope > ScopeNowhere {
		p.add("Scope", "%d is not a scope", r.Scope)
	}
	if r.Mode > RouteAppend {
		p.add("Mode", "%d is not a route mode", r.Mode)
	}
	if len(r.MultiPath) > 0 {
		if r.Gw.IsValid() {
			p.add("Gw", "set with MultiPath: give each path its gateway")
		}
		if r.Type != RouteUnicast {
			p.add("MultiPath", "set, but a %v route has no paths", r.Type)
		}
	}
	for i, h := range r.MultiPath {
		f := fmt.Sprintf("MultiPath[%d]", i)
		if h.Gw.IsValid() && h.Gw.Is4() != r.Dst.Addr().Is4() {
			p.add(f+".Gw", "%v is not of Dst's address family", h.Gw)
		}
		if h.Weight < 0 || h.Weight > 256 {
			p.add(f+".Weight", "%d, want 1..256 (0: 1)", h.Weight)
		}
		p.name(f+".Interface", h.Interface, false)
	}
	return p.errs
}
