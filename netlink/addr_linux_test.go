//go:build linux

package netlink_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/netlink"
)

// The manager caches its interface; when the interface is deleted and
// created again (a new index), AddVIPs looks it up afresh instead of
// failing.
func TestAddrManagerInterfaceRecreated(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	mk := func() {
		t.Helper()
		for _, args := range [][]string{
			{"ip", "-n", h.Name, "link", "add", "vip0", "type", "veth", "peer", "name", "vip1"},
			{"ip", "-n", h.Name, "link", "set", "vip0", "up"},
			{"ip", "-n", h.Name, "link", "set", "vip1", "up"},
		} {
			nstest.MustRun(t, args...)
		}
	}
	mk()
	m, err := netlink.NewAddrManager(netlink.AddrConfig{Interface: "vip0", Netns: nsPath(h)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	vip := netip.MustParsePrefix("203.0.113.10/24")
	if err := m.AddVIPs(context.Background(), []netip.Prefix{vip}, true); err != nil {
		t.Fatal(err)
	}
	nstest.MustRun(t, "ip", "-n", h.Name, "link", "del", "vip0")
	mk()
	if err := m.AddVIPs(context.Background(), []netip.Prefix{vip}, true); err != nil {
		t.Fatalf("AddVIPs after the interface was created again: %v", err)
	}
	out := nstest.MustRun(t, "ip", "-n", h.Name, "-o", "addr", "show", "dev", "vip0")
	if !strings.Contains(out, vip.String()) {
		t.Fatalf("VIP not on the new interface:\n%s", out)
	}
}

// TestAddrManager adds and removes IPv4 and IPv6 VIPs with routes and
// rules, checked with ip(8) as the independent witness.
func TestAddrManager(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	m, err := netlink.NewAddrManager(netlink.AddrConfig{
		Interface: "eth0",
		Netns:     nsPath(h),
		Label:     "eth0:vip",
		Routes: []netlink.Route{
			{Dst: pfx("198.51.100.0/24"), Gw: addr("192.0.2.254")},
			{Dst: pfx("203.0.113.0/24"), Src: addr("192.0.2.100"), Table: 100},
			{Dst: pfx("198.18.0.0/15"), Type: netlink.RouteBlackhole, Metric: 7},
			{Dst: pfx("2001:db8:1::/64"), Gw: addr("2001:db8::fe")},
		},
		Rules: []netlink.Rule{
			{From: pfx("192.0.2.100/32"), Table: 100, Priority: 1000},
			{From: pfx("2001:db8::100/128"), To: pfx("2001:db8:2::/64"), Table: 101},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := t.Context()
	vips := []netip.Prefix{pfx("192.0.2.100/24"), pfx("2001:db8::100/64"), pfx("fe80::100/64")}
	// With DAD on, only nodad keeps the IPv6 VIPs from being tentative.
	sysctl(t, h, "net.ipv6.conf.eth0.accept_dad=1")

	type witness struct {
		cmd  []string
		want string
	}
	checks := []witness{
		{[]string{"-4", "-o", "addr", "show", "dev", "eth0", "label", "eth0:vip"}, "inet 192.0.2.100/24"},
		{[]string{"-6", "-o", "addr", "show", "dev", "eth0"}, "inet6 2001:db8::100/64 scope global nodad"},
		{[]string{"-6", "-o", "addr", "show", "dev", "eth0"}, "inet6 fe80::100/64 scope link nodad"},
		{[]string{"route", "show", "198.51.100.0/24"}, "198.51.100.0/24 via 192.0.2.254 dev eth0"},
		{[]string{"route", "show", "table", "all", "203.0.113.0/24"}, "203.0.113.0/24 dev eth0 table 100 scope link src 192.0.2.100"},
		{[]string{"route", "show", "198.18.0.0/15"}, "blackhole 198.18.0.0/15 metric 7"},
		{[]string{"-6", "route", "show", "2001:db8:1::/64"}, "2001:db8:1::/64 via 2001:db8::fe dev eth0"},
		{[]string{"rule", "show"}, "1000:\tfrom 192.0.2.100 lookup 100"},
		{[]string{"-6", "rule", "show"}, "from 2001:db8::100 to 2001:db8:2::/64 lookup 101"},
	}
	present := func(want bool) {
		t.Helper()
		for _, c := range checks {
			out := ip(t, h, c.cmd...)
			if strings.Contains(out, c.want) != want {
				t.Errorf("ip %s: want %q present=%t, got:\n%s", strings.Join(c.cmd, " "), c.want, want, out)
			}
		}
		for _, v := range vips {
			has, err := m.Has(ctx, v)
			if err != nil || has != want {
				t.Errorf("Has(%v) = %t, %v; want %t", v, has, err, want)
			}
		}
	}

	present(false)
	for i := range 2 { // the second call finds everything in place
		if err := m.AddVIPs(ctx, vips, true); err != nil {
			t.Fatalf("AddVIPs #%d: %v", i+1, err)
		}
	}
	present(true)
	// The IPv6 VIP is usable at once: no duplicate address detection.
	if out := ip(t, h, "-6", "-o", "addr", "show", "dev", "eth0", "tentative"); out != "" {
		t.Errorf("tentative addresses after AddVIPs:\n%s", out)
	}
	list, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range append(vips, h.Addr4, h.Addr6) {
		found := false
		for _, p := range list {
			found = found || p == want
		}
		if !found {
			t.Errorf("List() = %v, missing %v", list, want)
		}
	}
	if has, _ := m.Has(ctx, pfx("192.0.2.100/32")); has {
		t.Error("Has matched a different prefix length")
	}
	for i := range 2 { // the second call finds nothing to remove
		if err := m.RemoveVIPs(ctx, vips); err != nil {
			t.Fatalf("RemoveVIPs #%d: %v", i+1, err)
		}
	}
	present(false)
	// The host's own addresses are untouched.
	for _, a := range []netip.Addr{h.Addr4.Addr(), h.Addr6.Addr()} {
		if ok, err := h.HasAddr(a); err != nil || !ok {
			t.Errorf("host address %v gone: %v", a, err)
		}
	}

	// accept=false changes nothing here (package acceptmode drops the
	// traffic); the VIP still goes up.
	if err := m.AddVIPs(ctx, vips[:1], false); err != nil {
		t.Fatalf("AddVIPs with accept=false: %v", err)
	}
	if ok, _ := h.HasAddr(addr("192.0.2.100")); !ok {
		t.Error("VIP not added with accept=false")
	}
}

func TestAddrManagerErrors(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	ns := nsPath(seg.Hosts[0])
	ctx := t.Context()
	_, err := netlink.NewAddrManager(netlink.AddrConfig{Interface: "eth0", Netns: ns, Label: "vip0"})
	wantField(t, err, "Label", `netlink: address manager on eth0: Label: "vip0" must start with the interface name "eth0" and be at most 15 bytes`)
	_, err = netlink.NewAddrManager(netlink.AddrConfig{Interface: "eth0", Netns: ns, Rules: []netlink.Rule{{Table: 1}}})
	wantField(t, err, "From", "netlink: address manager on eth0: rule from all lookup 1: From: neither From nor To is set")
	_, err = netlink.NewAddrManager(netlink.AddrConfig{Netns: ns})
	wantField(t, err, "Interface", "netlink: address manager: Interface: empty, want an interface name")
	if _, err := netlink.NewAddrManager(netlink.AddrConfig{Interface: "eth0", Netns: "/run/netns/vigil-none"}); err == nil ||
		errors.Is(err, netlink.ErrInvalid) || !strings.Contains(err.Error(), "/run/netns/vigil-none") {
		t.Errorf("missing namespace: %v, want an error naming the path", err)
	}
	if _, err := netlink.NewAddrManager(netlink.AddrConfig{Interface: "eth0", Netns: "/proc/self/ns/mnt"}); err == nil ||
		!strings.Contains(err.Error(), "not a network namespace") {
		t.Errorf("mount namespace as Netns: %v, want an error", err)
	}
	m, err := netlink.NewAddrManager(netlink.AddrConfig{Interface: "eth9", Netns: ns})
	if err != nil {
		t.Fatal(err)
	}
	err = m.AddVIPs(ctx, []netip.Prefix{pfx("192.0.2.100/24")}, true)
	if !errors.Is(err, netlink.ErrNoInterface) || !strings.Contains(err.Error(), "eth9") {
		t.Errorf("AddVIPs on a missing interface: %v; want ErrNoInterface naming eth9", err)
	}
	if err := m.RemoveVIPs(ctx, []netip.Prefix{pfx("192.0.2.100/24")}); err != nil {
		t.Errorf("RemoveVIPs on a missing interface: %v; want nil (nothing to remove)", err)
	}
	m.Close()

	m, err = netlink.NewAddrManager(netlink.AddrConfig{Interface: "eth0", Netns: ns,
		Routes: []netlink.Route{{Dst: pfx("198.51.100.0/24"), Gw: addr("203.0.113.1")}}}) // gateway not on-link
	if err != nil {
		t.Fatal(err)
	}
	err = m.AddVIPs(ctx, []netip.Prefix{pfx("192.0.2.100/24")}, true)
	if err == nil || !strings.Contains(err.Error(), "add route 198.51.100.0/24 via 203.0.113.1") {
		t.Errorf("AddVIPs with an unreachable gateway: %v; want the route's error", err)
	}
	if ok, _ := seg.Hosts[0].HasAddr(addr("192.0.2.100")); !ok {
		t.Error("a failing route stopped the VIP being added")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.AddVIPs(cctx, []netip.Prefix{pfx("192.0.2.101/24")}, true); !errors.Is(err, context.Canceled) {
		t.Errorf("AddVIPs with a cancelled context: %v", err)
	}
	m.Close()
	if err := m.RemoveVIPs(ctx, nil); !errors.Is(err, netlink.ErrClosed) {
		t.Errorf("RemoveVIPs after Close: %v, want ErrClosed", err)
	}
}
