//go:build linux

package hostwire

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestSharedVIPs: two instances on one interface configure the same VIP
// X; A also has Y. While B holds X (master), A's removal (entering BACKUP
// or at start) removes only Y; X goes when its last holder lets go. On
// another interface the same address is another VIP.
func TestSharedVIPs(t *testing.T) {
	x, y := netip.MustParsePrefix("192.0.2.100/24"), netip.MustParsePrefix("192.0.2.101/24")
	table := &Table{}
	wa, wb, wc := vrrptest.NewAddrs(), vrrptest.NewAddrs(), vrrptest.NewAddrs()
	a := NewHeld(wa, "eth0", table, nil, nil)
	b := NewHeld(wb, "eth0", table, nil, nil)
	c := NewHeld(wc, "eth1", table, nil, nil)
	ctx := t.Context()
	last := func(w *vrrptest.Addrs) []netip.Prefix {
		ops := w.Ops()
		return ops[len(ops)-1].VIPs
	}

	// A starts as backup with nothing held: it removes both, whoever put
	// them there.
	if err := a.RemoveVIPs(ctx, []netip.Prefix{x, y}); err != nil {
		t.Fatal(err)
	}
	if got := last(wa); !slices.Equal(got, []netip.Prefix{x, y}) {
		t.Fatalf("start: A removed %v, want both", got)
	}
	if err := b.AddVIPs(ctx, []netip.Prefix{x}, true); err != nil {
		t.Fatal(err)
	}
	if err := b.AddVIPs(ctx, []netip.Prefix{x}, true); err != nil { // a re-add counts once
		t.Fatal(err)
	}
	if err := a.RemoveVIPs(ctx, []netip.Prefix{x, y}); err != nil {
		t.Fatal(err)
	}
	if got := last(wa); !slices.Equal(got, []netip.Prefix{y}) {
		t.Fatalf("B holds X: A removed %v, want only Y", got)
	}
	if err := c.RemoveVIPs(ctx, []netip.Prefix{x}); err != nil {
		t.Fatal(err)
	}
	if got := last(wc); !slices.Equal(got, []netip.Prefix{x}) {
		t.Fatalf("X on eth1: removed %v, want X (another interface)", got)
	}
	if err := a.AddVIPs(ctx, []netip.Prefix{x, y}, true); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveVIPs(ctx, []netip.Prefix{x}); err != nil {
		t.Fatal(err)
	}
	if got := last(wb); len(got) != 0 {
		t.Fatalf("A holds X: B removed %v, want nothing", got)
	}
	if err := a.RemoveVIPs(ctx, []netip.Prefix{x, y}); err != nil {
		t.Fatal(err)
	}
	if got := last(wa); !slices.Equal(got, []netip.Prefix{x, y}) {
		t.Fatalf("last holder: A removed %v, want both", got)
	}
	if len(table.held) != 0 {
		t.Errorf("table not empty at the end: %v", table.held)
	}
}

// A reload on a master removes some VIPs and adds others through the same
// AddrManager: the table follows each VIP, so a VIP it keeps stays held
// (another instance's removal leaves it) and, once the master lets go,
// is free.
func TestSharedVIPsReload(t *testing.T) {
	x, y, z := netip.MustParsePrefix("192.0.2.100/24"), netip.MustParsePrefix("192.0.2.101/24"), netip.MustParsePrefix("192.0.2.102/24")
	table := &Table{}
	wa, wb := vrrptest.NewAddrs(), vrrptest.NewAddrs()
	a := NewHeld(wa, "eth0", table, nil, nil)
	b := NewHeld(wb, "eth0", table, nil, nil)
	ctx := t.Context()
	removedByB := func(vips ...netip.Prefix) []netip.Prefix {
		t.Helper()
		if err := b.RemoveVIPs(ctx, vips); err != nil {
			t.Fatal(err)
		}
		ops := wb.Ops()
		return ops[len(ops)-1].VIPs
	}
	if err := a.AddVIPs(ctx, []netip.Prefix{x, y}, true); err != nil {
		t.Fatal(err)
	}
	// A's first reload: Y goes.
	if err := a.RemoveVIPs(ctx, []netip.Prefix{y}); err != nil {
		t.Fatal(err)
	}
	if got := removedByB(x, y); !slices.Equal(got, []netip.Prefix{y}) {
		t.Fatalf("B removed %v, want only Y (A holds X)", got)
	}
	// A leaves MASTER: X is free.
	if err := a.RemoveVIPs(ctx, []netip.Prefix{x}); err != nil {
		t.Fatal(err)
	}
	if got := removedByB(x); !slices.Equal(got, []netip.Prefix{x}) {
		t.Fatalf("B removed %v, want X (nobody holds it)", got)
	}
	// Master again, then a reload that only adds Z: X and Z held.
	if err := a.AddVIPs(ctx, []netip.Prefix{x}, true); err != nil {
		t.Fatal(err)
	}
	if err := a.AddVIPs(ctx, []netip.Prefix{z}, true); err != nil {
		t.Fatal(err)
	}
	if got := removedByB(x, z); len(got) != 0 {
		t.Fatalf("B removed %v, want nothing (A holds X and Z)", got)
	}
	if err := a.RemoveVIPs(ctx, []netip.Prefix{x, z}); err != nil {
		t.Fatal(err)
	}
	if len(table.held) != 0 {
		t.Errorf("table not empty at the end: %v", table.held)
	}
}
