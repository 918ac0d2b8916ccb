package config

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/vigil-ha/vigil/netlink"
)

// optKind says how an option word of a route or a rule is read.
type optKind struct {
	args int      // words after it (-1: read by the parser itself)
	st   kwStatus // what vigil does with it
	why  string
}

const (
	whyRouteAttr = "not supported: vigil's routes have destination, gateway, source, interface, table, metric and type only"
	whyMPLS      = "not supported: no MPLS or lightweight tunnels"
	whyNoTrack   = "vigil watches no route or rule: every one behaves as with no_track (without it keepalived puts back a removed static one " +
		"and takes the instance of a removed virtual one out of MASTER; vigil leaves it removed until the next change or reload)"
)

// routeOpts are keepalived's route option words (vrrp_iproute.c:
// alloc_route) other than the destination.
var routeOpts = map[string]optKind{
	"inet":               {0, kwSupported, ""},
	"inet6":              {0, kwSupported, ""},
	"src":                {1, kwSupported, ""},
	"via":                {-1, kwSupported, ""},
	"gw":                 {-1, kwSupported, "deprecated synonym of via"},
	"dev":                {1, kwSupported, ""},
	"oif":                {1, kwSupported, ""},
	"table":              {1, kwSupported, "a number, main, local or default"},
	"metric":             {1, kwSupported, ""},
	"priority":           {1, kwSupported, ""},
	"preference":         {1, kwSupported, ""},
	"add":                {0, kwSupported, "vigil's default (keepalived's is prepend): an existing route to the destination stays and this one is not added"},
	"from":               {1, kwRejected, "not supported: no source-specific routes"},
	"encap":              {-1, kwRejected, whyMPLS},
	"as":                 {-1, kwRejected, whyMPLS},
	"vrf":                {1, kwRejected, "not supported: give the VRF's table with table"},
	"scope":              {1, kwSupported, "without it: link for a route without a gateway, universe otherwise"},
	"onlink":             {0, kwSupported, ""},
	"prepend":            {0, kwSupported, ""},
	"append":             {0, kwSupported, ""},
	"or":                 {1, kwSupported, "deprecated: nexthop"},
	"nexthop":            {-1, kwSupported, "via, dev, weight and onlink (encap, realms and as reject the route)"},
	"no_track":           {0, kwSupported, whyNoTrack},
	"track_group":        {1, kwIgnored, "not supported: no track groups"},
	"protocol":           {1, kwIgnored, whyRouteAttr},
	"tos":                {1, kwRejected, "not supported: no TOS routes"},
	"dsfield":            {1, kwRejected, "not supported: no TOS routes"},
	"expires":            {1, kwIgnored, whyRouteAttr},
	"realms":             {1, kwIgnored, whyRouteAttr},
	"features":           {1, kwIgnored, whyRouteAttr},
	"quickack":           {1, kwIgnored, whyRouteAttr},
	"fastopen_no_cookie": {1, kwIgnored, whyRouteAttr},
	"pref":               {1, kwIgnored, whyRouteAttr},
	"ttl-propagate":      {1, kwIgnored, whyMPLS},
	"window":             {1, kwIgnored, whyRouteAttr},
	"hoplimit":           {1, kwIgnored, whyRouteAttr},
	"initcwnd":           {1, kwIgnored, whyRouteAttr},
	"initrwnd":           {1, kwIgnored, whyRouteAttr},
}

// lockable are the route metrics that take "[lock] VALUE".
var lockable = map[string]bool{
	"mtu": true, "advmss": true, "rtt": true, "rttvar": true, "reordering": true,
	"cwnd": true, "ssthresh": true, "rto_min": true, "congctl": true,
}

// routeTypes are keepalived's route types (find_rttables_rtntype) and
// vigil's.
var routeTypes = map[string]struct {
	t  netlink.RouteType
	ok bool
}{
	"unicast": {netlink.RouteUnicast, true}, "blackhole": {netlink.RouteBlackhole, true},
	"unreachable": {netlink.RouteUnreachable, true}, "prohibit": {netlink.RouteProhibit, true},
	"local": {}, "broadcast": {}, "anycast": {}, "multicast": {}, "throw": {}, "nat": {},
}

// staticRoutes maps "static_routes { ROUTE ... }".
func (l *loader) staticRoutes(s *Statement) {
	entries(l, s, "static_routes", true, l.route, &l.cfg.Static.Routes)
}

// staticRules maps "static_rules { RULE ... }".
func (l *loader) staticRules(s *Statement) {
	entries(l, s, "static_rules", true, l.rule, &l.cfg.Static.Rules)
}

// entries maps the entries of the block of s with parse, into dst.
func entries[T any](l *loader, s *Statement, path string, static bool, parse func(*Statement, string, bool) (T, bool), dst *[]T) {
	if !l.needBlock(s, 0, 0) {
		return
	}
	for i := range s.Block {
		if r, ok := parse(&s.Block[i], path, static); ok {
			*dst = append(*dst, r)
		}
	}
}

// table parses a route table: a number or main, local, default.
func (l *loader) table(e *Statement, j int) (int, bool) {
	switch w := e.Words[j]; w {
	case "main":
		return 254, true
	case "local":
		return 255, true
	case "default":
		return 253, true
	}
	n, err := strconv.ParseUint(e.Words[j], 10, 32)
	if err != nil || n == 0 {
		l.errorf(e.WordPos(j), "%s: invalid table %q (a number, main, local or default): ignored", e.Words[j-1], e.Words[j])
		return 0, false
	}
	return int(n), true
}

// optWord reports option word j of entry e with its kind, and returns
// false if the entry must be dropped (a rejected option).
func (l *loader) optWord(e *Statement, path, what string, j int, k optKind) bool {
	w := e.Words[j]
	l.note(path, w, k.st, k.why)
	switch k.st {
	case kwDiffers:
		l.warnf(e.WordPos(j), "%s option %s: behaves differently: %s", what, w, k.why)
	case kwIgnored:
		l.warnf(e.WordPos(j), "%s option %s ignored: %s", what, w, k.why)
	case kwRejected:
		l.errorf(e.WordPos(j), "%s option %s: %s: %s ignored", what, w, k.why, what)
		return false
	}
	return true
}

// route maps one entry of static_routes or virtual_routes, as
// keepalived's alloc_route reads it: "[inet|inet6] [to] [TYPE] DEST
// [options] [nexthop ...]". A wrong word drops the route, as keepalived
// does.
func (l *loader) route(e *Statement, path string, static bool) (netlink.Route, bool) {
	var r netlink.Route
	fam := 0 // 4, 6 or unknown
	setFam := func(j int, f int) bool {
		if fam != 0 && fam != f {
			l.errorf(e.WordPos(j), "route: %s mixes IPv4 and IPv6: route ignored", e.Words[j])
			return false
		}
		fam = f
		return true
	}
	famOf := func(a netip.Addr) int {
		if a.Is4() {
			return 4
		}
		return 6
	}
	arg := func(j int) bool {
		if j >= len(e.Words) {
			l.errorf(e.WordPos(j-1), "route: %s: missing argument: route ignored", e.Words[j-1])
			return false
		}
		return true
	}
	addrAt := func(j int) (netip.Addr, bool) {
		if !arg(j) {
			return netip.Addr{}, false
		}
		a, ok := l.addr(e, j)
		return a, ok && setFam(j, famOf(a))
	}
	for j := 0; j < len(e.Words); j++ {
		w := e.Words[j]
		k, isOpt := routeOpts[w]
		if w == "track_group" && !static {
			isOpt = false
		}
		if lockable[w] {
			k, isOpt = optKind{-1, kwIgnored, whyRouteAttr}, true
		}
		if !isOpt {
			// [to] [TYPE] DEST
			if w == "to" {
				l.note(path, "to", kwSupported, "")
				j++
			}
			if j < len(e.Words) {
				if t, ok := routeTypes[e.Words[j]]; ok {
					if !t.ok {
						l.errorf(e.WordPos(j), "route: type %s not supported (unicast, blackhole, unreachable, prohibit): route ignored", e.Words[j])
						return r, false
					}
					r.Type = t.t
					j++
				}
			}
			if !arg(j) {
				return r, false
			}
			p, err := netip.ParsePrefix(e.Words[j])
			if err != nil {
				a, aerr := netip.ParseAddr(e.Words[j])
				if aerr != nil || a.Zone() != "" {
					l.errorf(e.WordPos(j), "route: %q is not a destination nor a route keyword: route ignored", e.Words[j])
					return r, false
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked()
			if !setFam(j, famOf(p.Addr())) {
				return r, false
			}
			r.Dst = p
			continue
		}
		if !l.optWord(e, path, "route", j, k) {
			return r, false
		}
		switch w {
		case "inet":
			if !setFam(j, 4) {
				return r, false
			}
		case "inet6":
			if !setFam(j, 6) {
				return r, false
			}
		case "src":
			a, ok := addrAt(j + 1)
			if !ok {
				return r, false
			}
			r.Src, j = a, j+1
		case "via", "gw":
			if e.Words[j] == "gw" {
				l.warnf(e.WordPos(j), `route: "gw" is deprecated: use "via" (as keepalived says)`)
			}
			if j+1 < len(e.Words) && (e.Words[j+1] == "inet" || e.Words[j+1] == "inet6") {
				j++
			}
			a, ok := addrAt(j + 1)
			if !ok {
				return r, false
			}
			r.Gw, j = a, j+1
		case "dev", "oif":
			if !arg(j + 1) {
				return r, false
			}
			r.Interface, j = e.Words[j+1], j+1
		case "table":
			if !arg(j + 1) {
				return r, false
			}
			t, ok := l.table(e, j+1)
			if !ok {
				return r, false
			}
			r.Table, j = t, j+1
		case "metric", "priority", "preference":
			if !arg(j + 1) {
				return r, false
			}
			n, ok := l.intArg(e, j+1, 0, 1<<31-1)
			if !ok {
				return r, false
			}
			r.Metric, j = n, j+1
		case "scope":
			if !arg(j + 1) {
				return r, false
			}
			sc, err := netlink.ParseScope(e.Words[j+1])
			if err != nil {
				l.errorf(e.WordPos(j+1), "route: invalid scope %q (global, site, link, host, nowhere): route ignored", e.Words[j+1])
				return r, false
			}
			r.Scope, j = sc, j+1
		case "onlink":
			r.OnLink = true
		case "add":
			r.Mode = netlink.RouteAdd
		case "prepend":
			r.Mode = netlink.RoutePrepend
		case "append":
			r.Mode = netlink.RouteAppend
		case "or":
			l.warnf(e.WordPos(j), `route: "or" is deprecated: use "nexthop" (as keepalived says)`)
			if len(r.MultiPath) > 0 {
				l.warnf(e.WordPos(j), "route: or given again: ignored, as keepalived")
				j++
				continue
			}
			a, ok := addrAt(j + 1)
			if !ok {
				return r, false
			}
			r.MultiPath = []netlink.Nexthop{{Gw: r.Gw}, {Gw: a}}
			r.Gw, j = netip.Addr{}, j+1
		case "nexthop":
			if len(r.MultiPath) > 0 {
				l.errorf(e.WordPos(j), "route: nexthop with or: route ignored")
				return r, false
			}
			var ok bool
			if r.MultiPath, ok = l.nexthops(e, j, addrAt, arg); !ok {
				return r, false
			}
			j = len(e.Words)
		default:
			if lockable[w] && j+1 < len(e.Words) && e.Words[j+1] == "lock" {
				j++
			}
			if k.args != 0 && !arg(j+1) {
				return r, false
			}
			if k.args != 0 {
				j++
			}
		}
	}
	if !r.Dst.IsValid() {
		l.errorf(e.Pos, "route: no destination: route ignored")
		return r, false
	}
	if len(r.MultiPath) > 0 && r.Gw.IsValid() {
		l.errorf(e.Pos, "route: via with nexthop: route ignored")
		return r, false
	}
	return r, true
}

// nexthops reads the "nexthop [via [inet|inet6] GW] [dev IF] [weight N]
// [onlink] ..." words of e from word j to its end.
func (l *loader) nexthops(e *Statement, j int, addrAt func(int) (netip.Addr, bool), arg func(int) bool) ([]netlink.Nexthop, bool) {
	var hs []netlink.Nexthop
	for ; j < len(e.Words); j++ {
		w := e.Words[j]
		if w == "nexthop" {
			hs = append(hs, netlink.Nexthop{})
			continue
		}
		h := &hs[len(hs)-1]
		switch w {
		case "via":
			if j+1 < len(e.Words) && (e.Words[j+1] == "inet" || e.Words[j+1] == "inet6") {
				j++
			}
			a, ok := addrAt(j + 1)
			if !ok {
				return nil, false
			}
			h.Gw, j = a, j+1
		case "dev":
			if !arg(j + 1) {
				return nil, false
			}
			h.Interface, j = e.Words[j+1], j+1
		case "weight":
			if !arg(j + 1) {
				return nil, false
			}
			n, ok := l.intArg(e, j+1, 1, 256)
			if !ok {
				return nil, false
			}
			h.Weight, j = n, j+1
		case "onlink":
			h.OnLink = true
		default:
			l.errorf(e.WordPos(j), "route: nexthop option %q not supported (via, dev, weight, onlink): route ignored", w)
			return nil, false
		}
	}
	return hs, true
}

// ruleOpts are keepalived's rule option words (vrrp_iprule.c:
// alloc_rule). A selector vigil cannot express rejects the rule: without
// it the rule would match more.
var ruleOpts = map[string]optKind{
	"inet":                  {0, kwSupported, ""},
	"inet6":                 {0, kwSupported, ""},
	"from":                  {1, kwSupported, ""},
	"to":                    {1, kwSupported, ""},
	"table":                 {1, kwSupported, "a number, main, local or default"},
	"lookup":                {1, kwSupported, "a number, main, local or default"},
	"preference":            {1, kwSupported, ""},
	"order":                 {1, kwSupported, ""},
	"priority":              {1, kwSupported, ""},
	"fwmark":                {1, kwSupported, "without a /MASK"},
	"iif":                   {1, kwSupported, ""},
	"dev":                   {1, kwSupported, ""},
	"oif":                   {1, kwSupported, ""},
	"no_track":              {0, kwSupported, whyNoTrack},
	"track_group":           {1, kwIgnored, "not supported: no track groups"},
	"protocol":              {1, kwIgnored, "not supported: vigil's rules have no protocol"},
	"not":                   {0, kwSupported, ""},
	"tos":                   {1, kwRejected, "not supported: no TOS selector"},
	"dsfield":               {1, kwRejected, "not supported: no TOS selector"},
	"realms":                {1, kwRejected, "not supported: no realms"},
	"suppress_prefixlength": {1, kwRejected, "not supported: no suppressors"},
	"sup_pl":                {1, kwRejected, "not supported: no suppressors"},
	"suppress_ifgroup":      {1, kwRejected, "not supported: no suppressors"},
	"sup_group":             {1, kwRejected, "not supported: no suppressors"},
	"tunnel-id":             {1, kwRejected, "not supported: no tunnel id selector"},
	"uidrange":              {1, kwRejected, "not supported: no uid range selector"},
	"l3mdev":                {0, kwRejected, "not supported: no l3mdev rules"},
	"ipproto":               {1, kwRejected, "not supported: no protocol or port selectors"},
	"sport":                 {1, kwRejected, "not supported: no protocol or port selectors"},
	"dport":                 {1, kwRejected, "not supported: no protocol or port selectors"},
	"type":                  {1, kwRejected, "not supported: vigil's rules look up a table"},
	"goto":                  {1, kwRejected, "not supported: vigil's rules look up a table"},
	"nop":                   {0, kwRejected, "not supported: vigil's rules look up a table"},
	"unreachable":           {0, kwRejected, "not supported: vigil's rules look up a table"},
	"prohibit":              {0, kwRejected, "not supported: vigil's rules look up a table"},
	"blackhole":             {0, kwRejected, "not supported: vigil's rules look up a table"},
}

// rule maps one entry of static_rules or virtual_rules, as keepalived's
// alloc_rule reads it. A wrong word drops the rule, as keepalived does.
func (l *loader) rule(e *Statement, path string, static bool) (netlink.Rule, bool) {
	var r netlink.Rule
	fam := 0
	prioSet := false
	pfx := func(j int) (netip.Prefix, bool) {
		if e.Words[j] == "all" {
			return netip.Prefix{}, true
		}
		p, ok := l.prefix(e, j)
		if !ok {
			return p, false
		}
		f := 6
		if p.Addr().Is4() {
			f = 4
		}
		if fam != 0 && fam != f {
			l.errorf(e.WordPos(j), "rule: %s mixes IPv4 and IPv6: rule ignored", e.Words[j])
			return p, false
		}
		fam = f
		return p.Masked(), true
	}
	for j := 0; j < len(e.Words); j++ {
		w := e.Words[j]
		k, ok := ruleOpts[w]
		if !ok || (w == "track_group" && !static) {
			l.errorf(e.WordPos(j), "rule: unknown option %q: rule ignored", w)
			return r, false
		}
		if !l.optWord(e, path, "rule", j, k) {
			return r, false
		}
		if k.args > 0 && j+1 >= len(e.Words) {
			l.errorf(e.WordPos(j), "rule: %s: missing argument: rule ignored", w)
			return r, false
		}
		var good = true
		switch w {
		case "inet", "inet6":
			f := 4
			if w == "inet6" {
				f = 6
			}
			if fam != 0 && fam != f {
				l.errorf(e.WordPos(j), "rule: %s mixes IPv4 and IPv6: rule ignored", w)
				return r, false
			}
			fam = f
		case "from":
			r.From, good = pfx(j + 1)
		case "to":
			r.To, good = pfx(j + 1)
		case "table", "lookup":
			r.Table, good = l.table(e, j+1)
		case "preference", "order", "priority":
			r.Priority, good = l.intArg(e, j+1, 0, 1<<32-1)
			prioSet = true
		case "fwmark":
			n, err := strconv.ParseUint(e.Words[j+1], 0, 32)
			if err != nil {
				l.errorf(e.WordPos(j+1), "rule: fwmark %q is not a number (a /MASK is not supported): rule ignored", e.Words[j+1])
				return r, false
			}
			r.Mark = uint32(n)
		case "iif", "dev":
			r.IifName = e.Words[j+1]
		case "oif":
			r.OifName = e.Words[j+1]
		case "not":
			r.Invert = true
		}
		if !good {
			return r, false
		}
		j += k.args
	}
	switch {
	case r.Table == 0:
		l.errorf(e.Pos, "rule: no table: rule ignored")
		return r, false
	case !r.From.IsValid() && !r.To.IsValid():
		l.errorf(e.Pos, "rule: vigil needs from or to (other than all): rule ignored")
		return r, false
	}
	if !prioSet {
		l.warnf(e.Pos, "rule: no preference: the kernel chooses one (keepalived counts down from 32765)")
	}
	return r, true
}

// routesAndRules adds the virtual_routes and virtual_rules handlers of
// an instance to hs.
func (l *loader) routesAndRules(hs map[string]handler, routes *[]netlink.Route, rules *[]netlink.Rule) {
	hs["virtual_routes"] = func(s *Statement) {
		entries(l, s, "vrrp_instance/virtual_routes", false, l.route, routes)
	}
	hs["virtual_rules"] = func(s *Statement) {
		entries(l, s, "vrrp_instance/virtual_rules", false, l.rule, rules)
	}
}

// addrOpts are the address options (vrrp_ipaddress.c) other than dev
// and label.
var addrOpts = map[string]optKind{
	"scope":         {1, kwSupported, "IPv4 only, as keepalived"},
	"brd":           {1, kwSupported, "an address, + or -; IPv4 only"},
	"broadcast":     {1, kwSupported, "an address, + or -; IPv4 only"},
	"noprefixroute": {0, kwSupported, ""},
	"no_track":      {0, kwSupported, whyAddrNoTrack},
	"preferred_lft": {1, kwSupported, "seconds or forever; IPv6 only, as keepalived (which, without it, gives an IPv6 /128 0 s: vigil gives forever)"},
	"peer":          {1, kwIgnored, "not supported: no point-to-point addresses"},
	"home":          {0, kwIgnored, "not supported: no address flags"},
	"-nodad":        {0, kwIgnored, "not supported: no address flags"},
	"mngtmpaddr":    {0, kwIgnored, "not supported: no address flags"},
	"autojoin":      {0, kwIgnored, "not supported: no address flags"},
	"track_group":   {1, kwIgnored, "not supported: no track groups"},
	"use_vmac":      {0, kwIgnored, "not supported: no per-address VMAC"},
}

// whyAddrNoTrack says what no_track does on an address.
const whyAddrNoTrack = "a removed virtual address with no_track stays removed and the instance stays MASTER; " +
	"one without it is put back by the master (keepalived: the instance leaves MASTER); static addresses are never put back"

// ipOption reads an address option other than dev and label at word j
// of e, in the block at path, into o, and returns the index of its last
// word.
func (l *loader) ipOption(e *Statement, path string, j int, p netip.Prefix, o *netlink.AddrOptions) int {
	w := e.Words[j]
	k, ok := addrOpts[w]
	static := path == "static_ipaddress"
	if !ok || (w == "track_group" && !static) || (w == "use_vmac" && static) {
		l.note(path, w, kwUnknown, "")
		l.errorf(e.WordPos(j), "unknown address option %q ignored", w)
		return j
	}
	l.optWord(e, path, "address", j, k)
	if k.args > 0 && j+1 >= len(e.Words) {
		l.errorf(e.WordPos(j), "address option %s: missing argument", w)
		return j
	}
	is4 := p.Addr().Is4()
	switch w {
	case "scope":
		sc, err := netlink.ParseScope(e.Words[j+1])
		switch {
		case err != nil:
			l.errorf(e.WordPos(j+1), "address option scope: invalid scope %q (global, site, link, host, nowhere): ignored", e.Words[j+1])
		case !is4:
			l.warnf(e.WordPos(j), "address option scope on IPv6 address %s: ignored, as keepalived", p)
		default:
			o.Scope = sc
		}
	case "brd", "broadcast":
		o.Broadcast = l.broadcast(e, j+1, p)
	case "noprefixroute":
		o.NoPrefixRoute = true
	case "no_track":
		o.NoTrack = true
	case "preferred_lft":
		a := e.Words[j+1]
		var d time.Duration
		if a != "forever" {
			n, err := strconv.ParseUint(a, 10, 32)
			if err != nil || n == 1<<32-1 {
				l.errorf(e.WordPos(j+1), "address option preferred_lft: %q is not a number of seconds (0..4294967294) nor forever: ignored", a)
				return j + 1
			}
			d = time.Duration(n) * time.Second
			if n == 0 {
				d = -1
			}
		}
		if !is4 {
			o.PreferredLifetime = d
		} else {
			l.warnf(e.WordPos(j), "address option preferred_lft on IPv4 address %s: ignored, as keepalived", p)
		}
	}
	if k.args > 0 {
		return j + 1
	}
	return j
}

// broadcast reads the brd argument at word j for address p: an IPv4
// address, + (the prefix's last address) or - (its first), as
// keepalived.
func (l *loader) broadcast(e *Statement, j int, p netip.Prefix) netip.Addr {
	w := e.Words[j]
	if !p.Addr().Is4() {
		l.errorf(e.WordPos(j-1), "address option %s on IPv6 address %s: ignored", e.Words[j-1], p)
		return netip.Addr{}
	}
	if w == "+" || w == "-" {
		if p.Bits() > 30 {
			l.errorf(e.WordPos(j), "address option %s %s: prefix /%d too long for a broadcast address: ignored", e.Words[j-1], w, p.Bits())
			return netip.Addr{}
		}
		first := p.Masked().Addr()
		if w == "-" {
			return first
		}
		b := first.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		v |= 1<<(32-p.Bits()) - 1
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	a, err := netip.ParseAddr(w)
	if err != nil || !a.Is4() {
		l.errorf(e.WordPos(j), "address option %s: %q is not an IPv4 address, + or -: ignored", e.Words[j-1], w)
		return netip.Addr{}
	}
	return a
}
