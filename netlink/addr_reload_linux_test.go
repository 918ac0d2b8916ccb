//go:build linux

package netlink_test

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/netlink"
)

// reloadRoute, reloadRule and their witnesses are the route and rule the
// tests of this file configure, and what ip(8) shows for them.
var (
	reloadRoute = netlink.Route{Dst: pfx("198.51.100.0/24"), Gw: addr("192.0.2.254")}
	reloadRule  = netlink.Rule{From: pfx("192.0.2.100/32"), Table: 100, Priority: 1000}
)

const (
	reloadRouteShown = "198.51.100.0/24 via 192.0.2.254 dev eth0"
	reloadRuleShown  = "1000:\tfrom 192.0.2.100 lookup 100"
)

// routeRulePresent checks, with ip(8) as the witness, whether the route
// and rule shown as route and rule are installed in h.
func routeRulePresent(t *testing.T, h *nstest.Host, when string, want bool, route, rule string) {
	t.Helper()
	if out := ip(t, h, "route", "show", "table", "all"); strings.Contains(out, route) != want {
		t.Errorf("%s: route %q present=%t, want %t:\n%s", when, route, !want, want, out)
	}
	if out := ip(t, h, "rule", "show"); strings.Contains(out, rule) != want {
		t.Errorf("%s: rule %q present=%t, want %t:\n%s", when, rule, !want, want, out)
	}
}

// A master whose reload drops one of its VIPs keeps its routes and rules:
// RemoveVIPs removes them only with the last VIP the manager holds.
func TestAddrManagerRoutesFollowLastVIP(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	cfg := netlink.AddrConfig{Interface: "eth0", Netns: nsPath(h),
		Routes: []netlink.Route{reloadRoute}, Rules: []netlink.Rule{reloadRule}}
	m, err := netlink.NewAddrManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := t.Context()
	v1, v2, other := pfx("192.0.2.100/24"), pfx("192.0.2.101/24"), pfx("192.0.2.102/24")
	present := func(when string, want bool) {
		t.Helper()
		routeRulePresent(t, h, when, want, reloadRouteShown, reloadRuleShown)
	}

	if err := m.AddVIPs(ctx, []netip.Prefix{v1, v2}, true); err != nil {
		t.Fatal(err)
	}
	present("master with two VIPs", true)
	// What vrrp.Router.Reconfigure does on a master whose reload drops
	// v1: remove it, add nothing.
	if err := m.RemoveVIPs(ctx, []netip.Prefix{v1}); err != nil {
		t.Fatal(err)
	}
	present("one of two VIPs removed", true)
	if ok, _ := h.HasAddr(v1.Addr()); ok {
		t.Error("the removed VIP is still on the interface")
	}
	// A VIP the manager does not hold leaves it holding v2.
	if err := m.RemoveVIPs(ctx, []netip.Prefix{other}); err != nil {
		t.Fatal(err)
	}
	present("a VIP not held removed", true)
	if err := m.RemoveVIPs(ctx, []netip.Prefix{v2}); err != nil {
		t.Fatal(err)
	}
	present("the last VIP removed", false)
	if ok, _ := h.HasAddr(v2.Addr()); ok {
		t.Error("the last VIP is still on the interface")
	}

	// A previous run left its VIPs, routes and rules (it crashed: no
	// RemoveVIPs). A new manager holding nothing removes them all at
	// start, as a router entering BACKUP does.
	if err := m.AddVIPs(ctx, []netip.Prefix{v1, v2}, true); err != nil {
		t.Fatal(err)
	}
	m.Close()
	present("the previous run's leftovers", true)
	m2, err := netlink.NewAddrManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if err := m2.RemoveVIPs(ctx, []netip.Prefix{v1, v2}); err != nil {
		t.Fatal(err)
	}
	present("removal at start", false)
	for _, v := range []netip.Prefix{v1, v2} {
		if ok, _ := h.HasAddr(v.Addr()); ok {
			t.Errorf("leftover VIP %v not removed at start", v)
		}
	}
}

// changeMonitor records the route and rule changes the kernel announces
// in a namespace, as "+route DST", "-route DST", "+rule PRIORITY" and
// "-rule PRIORITY".
type changeMonitor struct {
	h *nstest.Host
	s *nl.NetlinkSocket
}

// sentinel is the route whose addition ends a changeMonitor's read.
const sentinel = "100.64.99.0/24"

func monitorChanges(t *testing.T, h *nstest.Host) *changeMonitor {
	t.Helper()
	var s *nl.NetlinkSocket
	err := netlink.InNamespace(nsPath(h), func() (err error) {
		s, err = nl.Subscribe(unix.NETLINK_ROUTE, unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE,
			unix.RTNLGRP_IPV4_RULE, unix.RTNLGRP_IPV6_RULE)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.SetReceiveTimeout(&unix.Timeval{Sec: 5}); err != nil {
		t.Fatal(err)
	}
	return &changeMonitor{h: h, s: s}
}

// changes adds the sentinel route with ip(8) and returns the changes
// announced before it, those naming a route destination or rule priority
// in keys only.
func (c *changeMonitor) changes(t *testing.T, keys ...string) []string {
	t.Helper()
	ip(t, c.h, "route", "add", sentinel, "dev", "eth0")
	defer ip(t, c.h, "route", "del", sentinel, "dev", "eth0")
	var out []string
	for {
		msgs, _, err := c.s.Receive()
		if err != nil {
			t.Fatalf("reading route and rule changes (seen %q): %v", out, err)
		}
		for _, msg := range msgs {
			ch := describeChange(msg)
			if ch == "+route "+sentinel {
				return out
			}
			if _, key, _ := strings.Cut(ch, " "); slices.Contains(keys, key) {
				out = append(out, ch)
			}
		}
	}
}

// describeChange describes a route or rule message (both start with a
// 12-byte header whose first bytes are the family and destination
// length), or returns "".
func describeChange(msg syscall.NetlinkMessage) string {
	var sign, kind string
	switch msg.Header.Type {
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
		kind = "route"
	case unix.RTM_NEWRULE, unix.RTM_DELRULE:
		kind = "rule"
	default:
		return ""
	}
	if msg.Header.Type == unix.RTM_NEWROUTE || msg.Header.Type == unix.RTM_NEWRULE {
		sign = "+"
	} else {
		sign = "-"
	}
	if len(msg.Data) < unix.SizeofRtMsg {
		return ""
	}
	hdr := nl.DeserializeRtMsg(msg.Data)
	attrs, err := nl.ParseRouteAttr(msg.Data[unix.SizeofRtMsg:])
	if err != nil {
		return ""
	}
	for _, a := range attrs {
		switch {
		case kind == "route" && a.Attr.Type == unix.RTA_DST:
			if ip, ok := netip.AddrFromSlice(a.Value); ok {
				return sign + "route " + netip.PrefixFrom(ip, int(hdr.Dst_len)).String()
			}
		case kind == "rule" && a.Attr.Type == unix.FRA_PRIORITY:
			return sign + "rule " + strconv.Itoa(int(binary.NativeEndian.Uint32(a.Value)))
		}
	}
	return ""
}

// Routes and rules B and C: with reloadRoute and reloadRule (A), the
// reloads below keep A, drop B and add C.
var (
	routeB = netlink.Route{Dst: pfx("203.0.113.0/24"), Src: addr("192.0.2.100"), Table: 100}
	routeC = netlink.Route{Dst: pfx("198.18.0.0/15"), Type: netlink.RouteBlackhole, Metric: 7}
	ruleB  = netlink.Rule{From: pfx("192.0.2.101/32"), Table: 101, Priority: 1001}
	ruleC  = netlink.Rule{To: pfx("198.51.100.0/24"), Table: 102, Priority: 1002}
	// keys are what changeMonitor names them by.
	reloadKeys = []string{"198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15", "1000", "1001", "1002"}
)

const (
	routeBShown = "203.0.113.0/24 dev eth0 table 100 scope link src 192.0.2.100"
	routeCShown = "blackhole 198.18.0.0/15 metric 7"
	ruleBShown  = "1001:\tfrom 192.0.2.101 lookup 101"
	ruleCShown  = "1002:\tfrom all to 198.51.100.0/24 lookup 102"
)

// reloadManager makes a one-host segment and a manager on its eth0 with
// label, routes A and B and rules A and B; the manager is closed at
// cleanup.
func reloadManager(t *testing.T, label string) (*nstest.Host, netlink.AddrConfig, *netlink.AddrManager) {
	t.Helper()
	h := nstest.NewSegment(t, 1).Hosts[0]
	cfg := netlink.AddrConfig{Interface: "eth0", Netns: nsPath(h), Label: label,
		Routes: []netlink.Route{reloadRoute, routeB}, Rules: []netlink.Rule{reloadRule, ruleB}}
	m, err := netlink.NewAddrManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return h, cfg, m
}

// A reload of a master: the routes and rules it keeps are not touched,
// the dropped ones are removed, the new ones added; the new label is for
// the VIPs added from then on.
func TestAddrManagerReconfigureHolding(t *testing.T) {
	h, cfg, m := reloadManager(t, "eth0:a")
	ctx := t.Context()
	v1, v2 := pfx("192.0.2.100/24"), pfx("192.0.2.101/24")
	if err := m.AddVIPs(ctx, []netip.Prefix{v1}, true); err != nil {
		t.Fatal(err)
	}
	routeRulePresent(t, h, "before the reload (A)", true, reloadRouteShown, reloadRuleShown)
	routeRulePresent(t, h, "before the reload (B)", true, routeBShown, ruleBShown)

	mon := monitorChanges(t, h)
	cfg.Label = "eth0:b"
	cfg.Routes = []netlink.Route{routeC, reloadRoute} // the order does not matter
	cfg.Rules = []netlink.Rule{ruleC, reloadRule}
	if err := m.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	want := []string{"-rule 1001", "-route 203.0.113.0/24", "+route 198.18.0.0/15", "+rule 1002"}
	if got := mon.changes(t, reloadKeys...); !slices.Equal(got, want) {
		t.Errorf("changes of the reload: %q, want %q (A untouched)", got, want)
	}
	routeRulePresent(t, h, "after the reload (A)", true, reloadRouteShown, reloadRuleShown)
	routeRulePresent(t, h, "after the reload (B)", false, routeBShown, ruleBShown)
	routeRulePresent(t, h, "after the reload (C)", true, routeCShown, ruleCShown)

	if err := m.AddVIPs(ctx, []netip.Prefix{v2}, true); err != nil {
		t.Fatal(err)
	}
	for label, want := range map[string]string{"eth0:a": "inet 192.0.2.100/24", "eth0:b": "inet 192.0.2.101/24"} {
		if out := ip(t, h, "-4", "-o", "addr", "show", "dev", "eth0", "label", label); !strings.Contains(out, want) {
			t.Errorf("label %s: want %q, got:\n%s", label, want, out)
		}
	}
	// Leaving master removes the new set.
	if err := m.RemoveVIPs(ctx, []netip.Prefix{v1, v2}); err != nil {
		t.Fatal(err)
	}
	routeRulePresent(t, h, "after the last VIP (A)", false, reloadRouteShown, reloadRuleShown)
	routeRulePresent(t, h, "after the last VIP (C)", false, routeCShown, ruleCShown)
}

// A reload of a router holding no VIP (a backup) writes nothing; the next
// AddVIPs installs the new routes and rules.
func TestAddrManagerReconfigureNotHolding(t *testing.T) {
	h, cfg, m := reloadManager(t, "")
	ctx := t.Context()
	vip := pfx("192.0.2.100/24")
	// Held, then let go of: the manager holds nothing.
	if err := m.AddVIPs(ctx, []netip.Prefix{vip}, true); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveVIPs(ctx, []netip.Prefix{vip}); err != nil {
		t.Fatal(err)
	}

	mon := monitorChanges(t, h)
	cfg.Routes = []netlink.Route{reloadRoute, routeC}
	cfg.Rules = []netlink.Rule{reloadRule, ruleC}
	if err := m.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if got := mon.changes(t, reloadKeys...); len(got) != 0 {
		t.Errorf("a reload holding no VIP changed %q", got)
	}
	for _, shown := range [][2]string{{reloadRouteShown, reloadRuleShown}, {routeBShown, ruleBShown}, {routeCShown, ruleCShown}} {
		routeRulePresent(t, h, "after the reload", false, shown[0], shown[1])
	}

	if err := m.AddVIPs(ctx, []netip.Prefix{vip}, true); err != nil {
		t.Fatal(err)
	}
	routeRulePresent(t, h, "master again (A)", true, reloadRouteShown, reloadRuleShown)
	routeRulePresent(t, h, "master again (B)", false, routeBShown, ruleBShown)
	routeRulePresent(t, h, "master again (C)", true, routeCShown, ruleCShown)
}

// A reload that changes the interface or the namespace, or is invalid, is
// refused and changes nothing; after Close it is ErrClosed.
func TestAddrManagerReconfigureErrors(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	ns := nsPath(h)
	cfg := netlink.AddrConfig{Interface: "eth0", Netns: ns, Routes: []netlink.Route{reloadRoute}}
	m, err := netlink.NewAddrManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	bad := cfg
	bad.Interface, bad.Routes = "eth1", []netlink.Route{routeC}
	wantField(t, m.Reconfigure(bad), "Interface",
		`netlink: address manager on eth0: Interface: "eth0" cannot change to "eth1" while the manager exists`)
	bad = cfg
	bad.Netns, bad.Routes = "/proc/self/ns/net", []netlink.Route{routeC}
	wantField(t, m.Reconfigure(bad), "Netns",
		`netlink: address manager on eth0: Netns: "`+ns+`" cannot change to "/proc/self/ns/net" while the manager exists`)
	bad = cfg
	bad.Routes, bad.Rules = []netlink.Route{routeC}, []netlink.Rule{{Table: 1}}
	wantField(t, m.Reconfigure(bad), "From", "netlink: address manager on eth0: rule from all lookup 1: From: neither From nor To is set")

	// The configuration in force stayed: AddVIPs installs route A, not C.
	if err := m.AddVIPs(t.Context(), []netip.Prefix{pfx("192.0.2.100/24")}, true); err != nil {
		t.Fatal(err)
	}
	if out := ip(t, h, "route", "show", "table", "all"); !strings.Contains(out, reloadRouteShown) || strings.Contains(out, routeCShown) {
		t.Errorf("after refused reloads, want only the route in force:\n%s", out)
	}
	m.Close()
	if err := m.Reconfigure(cfg); !errors.Is(err, netlink.ErrClosed) {
		t.Errorf("Reconfigure after Close: %v, want ErrClosed", err)
	}
}

// A reload of a master whose interface is gone: the routes through it
// went with it, the others change, and a new one through it is an error
// wrapping ErrNoInterface.
func TestAddrManagerReconfigureNoInterface(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	ip(t, h, "link", "add", "vip0", "type", "veth", "peer", "name", "vip1")
	ip(t, h, "link", "set", "vip0", "up")
	ip(t, h, "link", "set", "vip1", "up")
	onVip0 := netlink.Route{Dst: pfx("203.0.113.0/24")}
	cfg := netlink.AddrConfig{Interface: "vip0", Netns: nsPath(h), Routes: []netlink.Route{onVip0}}
	m, err := netlink.NewAddrManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.AddVIPs(t.Context(), []netip.Prefix{pfx("192.0.2.100/24")}, true); err != nil {
		t.Fatal(err)
	}
	ip(t, h, "link", "del", "vip0")
	cfg.Routes = []netlink.Route{routeC}
	if err := m.Reconfigure(cfg); err != nil {
		t.Fatalf("dropping a route through the missing interface: %v", err)
	}
	if out := ip(t, h, "route", "show"); !strings.Contains(out, routeCShown) {
		t.Errorf("blackhole route not added without the interface:\n%s", out)
	}
	cfg.Routes = []netlink.Route{routeC, {Dst: pfx("198.51.100.0/24")}}
	if err := m.Reconfigure(cfg); !errors.Is(err, netlink.ErrNoInterface) || !strings.Contains(err.Error(), "vip0") {
		t.Errorf("adding a route through the missing interface: %v, want ErrNoInterface naming vip0", err)
	}
}

// ForgetVIPs: a VIP another holder keeps stays on the interface, and the
// manager's routes and rules go when it holds nothing more.
func TestAddrManagerForgetVIPs(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	m, err := netlink.NewAddrManager(netlink.AddrConfig{Interface: "eth0", Netns: nsPath(h),
		Routes: []netlink.Route{reloadRoute}, Rules: []netlink.Rule{reloadRule}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := t.Context()
	v1, v2 := pfx("192.0.2.100/24"), pfx("192.0.2.101/24")
	if err := m.AddVIPs(ctx, []netip.Prefix{v1, v2}, true); err != nil {
		t.Fatal(err)
	}
	if err := m.ForgetVIPs(ctx, []netip.Prefix{v1}); err != nil {
		t.Fatal(err)
	}
	routeRulePresent(t, h, "one VIP forgotten", true, reloadRouteShown, reloadRuleShown)
	if err := m.ForgetVIPs(ctx, []netip.Prefix{v2}); err != nil {
		t.Fatal(err)
	}
	routeRulePresent(t, h, "every VIP forgotten", false, reloadRouteShown, reloadRuleShown)
	for _, v := range []netip.Prefix{v1, v2} {
		if ok, _ := h.HasAddr(v.Addr()); !ok {
			t.Errorf("%v left the interface: ForgetVIPs must not remove it", v)
		}
	}
	// Nothing held: forgetting more writes nothing and fails nothing.
	if err := m.ForgetVIPs(ctx, []netip.Prefix{v1}); err != nil {
		t.Error(err)
	}
	m.Close()
	if err := m.ForgetVIPs(ctx, nil); !errors.Is(err, netlink.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
