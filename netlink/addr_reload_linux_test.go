//go:build linux

package netlink_test

import (
	"net/netip"
	"strings"
	"testing"

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
