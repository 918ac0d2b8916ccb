//go:build linux

package host

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/internal/hostwire"
	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/vrrp"
)

// TestLinuxAcceptMode: the Linux platform's address managers keep each
// instance's drops in the nftables table: the VIPs held with accept off,
// none with accept on or once removed or forgotten (another instance
// keeps them); an instance a reload replaced before the old one is
// released drops under a key of its own, which the old one's release
// leaves alone. The first Instance deletes a leftover table, Close the
// table; a platform without instances touches neither.
func TestLinuxAcceptMode(t *testing.T) {
	nstest.NeedTools(t, "nft")
	h := nstest.NewSegment(t, 1).Hosts[0]
	ruleset := func() string {
		t.Helper()
		return nstest.MustRun(t, "ip", "netns", "exec", h.Name, "nft", "list", "ruleset")
	}
	// A crashed run's table (or a VRRP process's), and someone else's.
	nstest.MustRun(t, "ip", "netns", "exec", h.Name, "nft", "add", "table", "inet", "vt")
	nstest.MustRun(t, "ip", "netns", "exec", h.Name, "nft", "add", "table", "ip", "other")
	cfg := LinuxConfig{Netns: h.Path(), NFTables: NFTables{Table: "vt"}}
	// A platform without instances (vigild's checker process next to
	// its VRRP process) leaves the table alone.
	checker, err := OpenLinux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := checker.Close(); err != nil {
		t.Fatal(err)
	}
	if rs := ruleset(); !strings.Contains(rs, "table inet vt") {
		t.Fatalf("a platform without instances deleted the table:\n%s", rs)
	}
	p, err := OpenLinux(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	x, y := netip.MustParsePrefix("192.0.2.100/24"), netip.MustParsePrefix("192.0.2.101/24")
	ic := InstanceConfig{VRRP: vrrp.Config{Name: "VI_1", VRID: 51, VIPs: []netip.Prefix{x, y}, NoAccept: true}, Interface: h.Link}
	old, err := p.Instance(ic)
	if err != nil {
		t.Fatal(err)
	}
	if rs := ruleset(); strings.Contains(rs, "table inet vt") || !strings.Contains(rs, "table ip other") {
		t.Fatalf("after the first Instance:\n%s\nwant the leftover table gone, the other kept", rs)
	}
	ic.VRRP.VRID = 52 // a new identity: the reload replaces the instance
	repl, err := p.Instance(ic)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// elements returns the element lists of the table, in order.
	elements := func() []string {
		var out []string
		for _, l := range strings.Split(ruleset(), "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "set ") || strings.HasPrefix(l, "elements") {
				out = append(out, l)
			}
		}
		return out
	}
	// want checks the IPv4 set's elements ("" for none).
	want := func(what, elems string) {
		t.Helper()
		w := []string{"set vips4 {", "set vips6 {", "set vipsll {"}
		if elems != "" {
			w = slices.Insert(w, 1, "elements = { "+elems+" }")
		}
		if got := elements(); !slices.Equal(got, w) {
			t.Errorf("%s: sets %q, want %q", what, got, w)
		}
	}

	if err := old.Addrs.AddVIPs(ctx, []netip.Prefix{x, y}, false); err != nil {
		t.Fatal(err)
	}
	want("old master", "192.0.2.100, 192.0.2.101")
	if err := repl.Addrs.AddVIPs(ctx, []netip.Prefix{x}, false); err != nil {
		t.Fatal(err)
	}
	want("both masters", "192.0.2.100, 192.0.2.101")
	if err := old.Addrs.RemoveVIPs(ctx, []netip.Prefix{y}); err != nil {
		t.Fatal(err)
	}
	want("old master without Y", "192.0.2.100")
	if err := old.Release(); err != nil {
		t.Fatal(err)
	}
	want("old released: the new one's X stays", "192.0.2.100")
	f, ok := repl.Addrs.(hostwire.Forgetter)
	if !ok {
		t.Fatalf("%T is no hostwire.Forgetter: shared VIPs would keep their drops", repl.Addrs)
	}
	if err := f.ForgetVIPs(ctx, []netip.Prefix{x}); err != nil {
		t.Fatal(err)
	}
	want("X forgotten", "")
	if err := repl.Addrs.AddVIPs(ctx, []netip.Prefix{x, y}, false); err != nil {
		t.Fatal(err)
	}
	want("X and Y again", "192.0.2.100, 192.0.2.101")
	if err := repl.Addrs.AddVIPs(ctx, []netip.Prefix{x, y}, true); err != nil {
		t.Fatal(err)
	}
	want("accept", "")
	if err := repl.Addrs.AddVIPs(ctx, []netip.Prefix{x, y}, false); err != nil {
		t.Fatal(err)
	}
	if err := repl.Addrs.RemoveVIPs(ctx, []netip.Prefix{x, y}); err != nil {
		t.Fatal(err)
	}
	want("backup", "")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if rs := ruleset(); strings.Contains(rs, "table inet vt") || !strings.Contains(rs, "table ip other") {
		t.Errorf("after Close:\n%s\nwant no vt table, the other kept", rs)
	}
}
