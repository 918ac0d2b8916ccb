//go:build linux

package vigil_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/vrrp"
)

// promoteSecondaries reads net.ipv4.conf.IFACE.promote_secondaries in
// h's namespace.
func promoteSecondaries(t *testing.T, h *nstest.Host, iface string) string {
	t.Helper()
	out, err := h.Exec("cat", "/proc/sys/net/ipv4/conf/"+iface+"/promote_secondaries")
	if err != nil {
		t.Fatalf("%s: promote_secondaries of %s: %v\n%s", h.Name, iface, err, out)
	}
	return strings.TrimSpace(out)
}

// promote_secondaries: eth0's promote_secondaries is 1 while the host
// runs an instance with it, and 0 again after.
func TestHostPromoteSecondaries(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	h1 := seg.Hosts[0]
	if err := h1.Sysctl("net.ipv4.conf.eth0.promote_secondaries", "0"); err != nil {
		t.Fatal(err)
	}
	if got := promoteSecondaries(t, h1, "eth0"); got != "0" {
		t.Fatalf("before: %s, want 0", got)
	}
	ic := vigil.InstanceConfig{Interface: h1.Link, PromoteSecondaries: true,
		VRRP: vrrp.Config{Name: "VI_1@" + h1.Name, VRID: 51, Version: vrrp.V3, Priority: 150, Interval: ival, VIPs: []netip.Prefix{vip4}}}
	a := runHost(t, h1, vigil.HostConfig{Instances: []vigil.InstanceConfig{ic}})
	eventually(t, "h1 master", 5*time.Second, func() bool { return a.r.State() == vrrp.Master })
	if got := promoteSecondaries(t, h1, "eth0"); got != "1" {
		t.Errorf("while running: %s, want 1", got)
	}
	a.stop()
	if got := promoteSecondaries(t, h1, "eth0"); got != "0" {
		t.Errorf("after: %s, want 0 (restored)", got)
	}
}

// An IPv4 VMAC has promote_secondaries set, as keepalived sets it on
// its VMACs; the parent is left alone.
func TestHostVMACPromoteSecondaries(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	h1 := seg.Hosts[0]
	if err := h1.Sysctl("net.ipv4.conf.eth0.promote_secondaries", "0"); err != nil {
		t.Fatal(err)
	}
	a := runHost(t, h1, vigil.HostConfig{Instances: []vigil.InstanceConfig{vmacInstance(h1, 150)}})
	eventually(t, "h1 master", 5*time.Second, func() bool { return a.r.State() == vrrp.Master })
	if got := promoteSecondaries(t, h1, "vrrp.51"); got != "1" {
		t.Errorf("VMAC vrrp.51: %s, want 1", got)
	}
	if got := promoteSecondaries(t, h1, "eth0"); got != "0" {
		t.Errorf("parent eth0: %s, want 0", got)
	}
	a.stop()
	if got := promoteSecondaries(t, h1, "eth0"); got != "0" {
		t.Errorf("parent eth0 after: %s, want 0", got)
	}
}
