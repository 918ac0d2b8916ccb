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

// vmacInstance is a VRRPv3 VMAC instance of VRID 51 on ns's link.
func vmacInstance(ns *nstest.Host, prio uint8) vigil.InstanceConfig {
	return vigil.InstanceConfig{
		VRRP:      vrrp.Config{Name: "VI_1@" + ns.Name, VRID: 51, Version: vrrp.V3, Priority: prio, Interval: ival, VIPs: []netip.Prefix{vip4}},
		Interface: ns.Link, UseVMAC: true,
	}
}

// vmac_prefix: the VMAC is named PREFIX.VRID, the prefix cut to fit 15
// bytes, and holds the VIP; it is gone after the host stops.
func TestHostVMACPrefix(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	h1 := seg.Hosts[0]
	ic := vmacInstance(h1, 150)
	ic.VMACPrefix = "vigil-longprefix"
	a := runHost(t, h1, vigil.HostConfig{Instances: []vigil.InstanceConfig{ic}})
	eventually(t, "h1 master", 5*time.Second, func() bool { return a.r.State() == vrrp.Master })
	out, err := h1.Exec("ip", "-br", "addr", "show", "dev", "vigil-longpr.51")
	if err != nil || !strings.Contains(out, vip4.Addr().String()) {
		t.Errorf("VMAC vigil-longpr.51 without the VIP: %v\n%s", err, out)
	}
	a.stop()
	if out, _ := h1.Exec("ip", "link", "show"); strings.Contains(out, "vigil-longpr") {
		t.Errorf("VMAC left behind:\n%s", out)
	}
}
