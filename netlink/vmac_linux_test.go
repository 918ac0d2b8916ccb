package netlink_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/netlink"
)

// TestVMAC creates keepalived's vrrp.{VRID} macvlan, reuses it, refuses a
// conflicting one, announces from its MAC, and removes it.
func TestVMAC(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 2)
	h1, h2 := seg.Hosts[0], seg.Hosts[1]
	ns := nsPath(h1)
	v, err := netlink.CreateVMAC(netlink.VMACConfig{Parent: "eth0", VRID: 51, Netns: ns})
	if err != nil {
		t.Fatal(err)
	}
	if v.Name() != "vrrp.51" || v.MAC().String() != "00:00:5e:00:01:33" || !v.Created() {
		t.Errorf("VMAC %s %v created=%t", v.Name(), v.MAC(), v.Created())
	}
	out := ip(t, h1, "-d", "link", "show", "vrrp.51")
	for _, want := range []string{"vrrp.51@eth0", ",UP,", "link/ether 00:00:5e:00:01:33", "macvlan mode private", "addrgenmode none"} {
		if !strings.Contains(out, want) {
			t.Errorf("ip link show vrrp.51: missing %q:\n%s", want, out)
		}
	}
	// Again: the existing one is reused.
	v2, err := netlink.CreateVMAC(netlink.VMACConfig{Parent: "eth0", VRID: 51, Netns: ns})
	if err != nil {
		t.Fatalf("second CreateVMAC: %v", err)
	}
	if v2.Created() || v2.Index() != v.Index() {
		t.Errorf("second CreateVMAC: created=%t index %d, want reuse of %d", v2.Created(), v2.Index(), v.Index())
	}
	// An interface of that name with another MAC is a conflict, left alone.
	ip(t, h1, "link", "add", "link", "eth0", "name", "vrrp.52", "address", "02:00:00:00:00:52", "type", "macvlan", "mode", "private")
	if _, err := netlink.CreateVMAC(netlink.VMACConfig{Parent: "eth0", VRID: 52, Netns: ns}); !errors.Is(err, netlink.ErrVMACConflict) {
		t.Errorf("conflicting interface: %v, want ErrVMACConflict", err)
	}
	if _, err := netlink.CreateVMAC(netlink.VMACConfig{Parent: "eth9", VRID: 53, Netns: ns}); !errors.Is(err, netlink.ErrNoInterface) {
		t.Errorf("missing parent: %v, want ErrNoInterface", err)
	}
	_, err = netlink.CreateVMAC(netlink.VMACConfig{Parent: "eth0", Netns: ns})
	wantField(t, err, "VRID", "netlink: vmac vrrp.0: VRID: 0, want 1..255")

	// Announcements sent on the VMAC carry the virtual MAC (as keepalived's
	// capture g). The announcer is opened from inside the namespace.
	got := sniff(t, h2)
	var a *netlink.Announcer
	if err := h1.Do(func() error {
		var err error
		a, err = netlink.NewAnnouncer(netlink.AnnouncerConfig{Interface: v.Name(), Timing: netlink.AnnounceTiming{Repeat: 2, SecondDelay: -1}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.Announce(t.Context(), []netip.Addr{addr("192.0.2.100")}); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	for _, f := range waitFrames(t, got, 2) {
		checkGARP(t, f.b, v.MAC(), addr("192.0.2.100"))
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	// IPv6 VMAC: its own MAC, and the parent's link-local address.
	v6, err := netlink.CreateVMAC(netlink.VMACConfig{Parent: "eth0", VRID: 53, IPv6: true, Name: "vmac6", Netns: ns})
	if err != nil {
		t.Fatal(err)
	}
	out = ip(t, h1, "-6", "addr", "show", "dev", "vmac6")
	if !strings.Contains(out, h1.LinkLocal.String()+"/64 scope link nodad") {
		t.Errorf("vmac6 lacks eth0's link-local %v (nodad):\n%s", h1.LinkLocal, out)
	}
	if v6.MAC().String() != "00:00:5e:00:02:35" {
		t.Errorf("IPv6 VMAC %v", v6.MAC())
	}

	for _, x := range []*netlink.VMAC{v, v6} {
		if err := x.Remove(); err != nil {
			t.Fatal(err)
		}
		if out, err := nstest.Run("ip", "-n", h1.Name, "link", "show", x.Name()); err == nil {
			t.Errorf("%s still there after Remove:\n%s", x.Name(), out)
		}
	}
	if err := v2.Remove(); err != nil {
		t.Errorf("Remove of a VMAC already gone: %v", err)
	}
	if err := v.Remove(); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}
