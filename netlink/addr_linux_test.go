//go:build linux

package netlink_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/netlink"
)

// The manager caches its link; when the link is deleted and created again
// (a new index), AddVIPs looks it up afresh instead of failing.
func TestAddrManagerLinkRecreated(t *testing.T) {
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
	m, err := netlink.NewAddrManager(netlink.AddrConfig{Link: "vip0", Handle: nlHandle(t, h)})
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
		t.Fatalf("AddVIPs after the link was recreated: %v", err)
	}
	out := nstest.MustRun(t, "ip", "-n", h.Name, "-o", "addr", "show", "dev", "vip0")
	if !strings.Contains(out, vip.String()) {
		t.Fatalf("VIP not on the new link:\n%s", out)
	}
}
