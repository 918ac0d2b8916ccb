//go:build linux

package netlink_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/netlink"
)

// TestAddrManagerOptions: the address options, the route options and an
// inverted rule reach the kernel, checked with ip(8); removing them
// leaves nothing.
func TestAddrManagerOptions(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	nstest.MustRun(t, "ip", "-n", h.Name, "link", "add", "dum0", "type", "veth", "peer", "name", "dum1")
	nstest.MustRun(t, "ip", "-n", h.Name, "link", "set", "dum0", "up")
	nstest.MustRun(t, "ip", "-n", h.Name, "link", "set", "dum1", "up")
	nstest.MustRun(t, "ip", "-n", h.Name, "addr", "add", "198.51.100.1/24", "dev", "dum0")
	m, err := netlink.NewAddrManager(netlink.AddrConfig{
		Interface: "eth0",
		Netns:     nsPath(h),
		Options: map[netip.Prefix]netlink.AddrOptions{
			pfx("203.0.113.100/24"): {Scope: netlink.ScopeLink, Broadcast: addr("203.0.113.255")},
			pfx("198.18.9.1/24"):    {NoPrefixRoute: true},
			pfx("2001:db8::100/64"): {PreferredLifetime: -1},
			pfx("2001:db8::101/64"): {PreferredLifetime: 300 * time.Second},
		},
		Routes: []netlink.Route{
			{Dst: pfx("198.18.0.0/24"), Gw: addr("198.19.0.254"), OnLink: true},
			{Dst: pfx("198.18.1.0/24"), Scope: netlink.ScopeHost},
			{Dst: pfx("198.18.2.0/24"), MultiPath: []netlink.Nexthop{
				{Gw: addr("192.0.2.254"), Weight: 2}, {Gw: addr("198.51.100.254"), Interface: "dum0"}}},
			{Dst: pfx("198.18.3.0/24"), Gw: addr("192.0.2.253"), Table: 100, Mode: netlink.RouteAppend},
			{Dst: pfx("198.18.5.0/24"), Gw: addr("198.51.100.254"), Interface: "dum0"},
		},
		Rules: []netlink.Rule{{From: pfx("198.18.4.0/24"), Table: 100, Priority: 1000, Invert: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// An existing route to 198.18.3.0/24 in table 100: append adds a
	// second one after it (add would fail with EEXIST and add none).
	nstest.MustRun(t, "ip", "-n", h.Name, "route", "add", "198.18.3.0/24", "via", "192.0.2.252", "table", "100")
	ctx := t.Context()
	vips := []netip.Prefix{pfx("203.0.113.100/24"), pfx("198.18.9.1/24"), pfx("2001:db8::100/64"), pfx("2001:db8::101/64")}
	if err := m.AddVIPs(ctx, vips, true); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"-4", "-o", "addr", "show", "dev", "eth0"}, "inet 203.0.113.100/24 brd 203.0.113.255 scope link"},
		{[]string{"-4", "-o", "addr", "show", "dev", "eth0"}, "inet 198.18.9.1/24 scope global noprefixroute"},
		{[]string{"-6", "-o", "addr", "show", "dev", "eth0"}, "inet6 2001:db8::100/64 scope global nodad deprecated"},
		{[]string{"-6", "-o", "addr", "show", "dev", "eth0"}, "preferred_lft 300sec"},
		{[]string{"route", "show", "198.18.0.0/24"}, "198.18.0.0/24 via 198.19.0.254 dev eth0 onlink"},
		{[]string{"route", "show", "198.18.1.0/24"}, "198.18.1.0/24 dev eth0 scope host"},
		{[]string{"route", "show", "198.18.2.0/24"}, "nexthop via 192.0.2.254 dev eth0 weight 2"},
		{[]string{"route", "show", "198.18.2.0/24"}, "nexthop via 198.51.100.254 dev dum0 weight 1"},
		{[]string{"route", "show", "198.18.5.0/24"}, "198.18.5.0/24 via 198.51.100.254 dev dum0"},
		{[]string{"route", "show", "table", "100", "198.18.3.0/24"}, "198.18.3.0/24 via 192.0.2.252 dev eth0 \n198.18.3.0/24 via 192.0.2.253 dev eth0"},
		{[]string{"rule", "show"}, "1000:\tnot from 198.18.4.0/24 lookup 100"},
	} {
		if out := ip(t, h, c.cmd...); !strings.Contains(out, c.want) {
			t.Errorf("ip %s: no %q in:\n%s", strings.Join(c.cmd, " "), c.want, out)
		}
	}
	// noprefixroute: no route to 198.18.9.0/24.
	if out := ip(t, h, "route", "show", "198.18.9.0/24"); out != "" {
		t.Errorf("prefix route of a noprefixroute address:\n%s", out)
	}
	if err := m.RemoveVIPs(ctx, vips); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{{"route", "show", "198.18.0.0/16"}, {"-6", "addr", "show", "dev", "eth0", "deprecated"}} {
		if out := ip(t, h, c...); out != "" {
			t.Errorf("ip %s after RemoveVIPs:\n%s", strings.Join(c, " "), out)
		}
	}
	if out := ip(t, h, "rule", "show"); strings.Contains(out, "198.18.4.0") {
		t.Errorf("rule left after RemoveVIPs:\n%s", out)
	}
	if out := ip(t, h, "route", "show", "table", "100"); strings.Contains(out, "192.0.2.253") || !strings.Contains(out, "192.0.2.252") {
		t.Errorf("table 100 after RemoveVIPs (the other route stays):\n%s", out)
	}
}
