//go:build linux

package vigil_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
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

// vmac_xmit_base: adverts leave from the base interface's own MAC, not
// the VMAC's, and the backup hears them there (it stays backup); the VIP
// is still answered for from the VMAC, on both sides of a failover.
func TestHostVMACXmitBase(t *testing.T) {
	nstest.NeedTools(t, "ping", "tcpdump")
	seg := nstest.NewSegment(t, 3)
	h1, h2, w := seg.Hosts[0], seg.Hosts[1], seg.Hosts[2]
	const vmac = "00:00:5e:00:01:33"
	frames := capture(t, w, "vrrp or arp")
	start := func(h *nstest.Host, prio uint8) *runningHost {
		ic := vmacInstance(h, prio)
		ic.VMACXmitBase = true
		return runHost(t, h, vigil.HostConfig{Instances: []vigil.InstanceConfig{ic}})
	}
	a := start(h1, 150)
	eventually(t, "h1 master", 5*time.Second, func() bool { return a.r.State() == vrrp.Master })
	b := start(h2, 100)
	eventually(t, "h2 backup", 5*time.Second, func() bool { return b.r.State() == vrrp.Backup })
	time.Sleep(10 * ival)
	if st := b.r.State(); st != vrrp.Backup {
		t.Fatalf("h2 %v beside a master of higher priority: it does not hear the adverts", st)
	}
	a.stop()
	eventually(t, "h2 master", 5*time.Second, func() bool { return b.r.State() == vrrp.Master })
	if out, err := w.Ping(t, vip4.Addr()); err != nil {
		t.Fatalf("witness cannot reach the VIP on h2: %v %s", err, out)
	}
	time.Sleep(3 * ival)
	base := map[string]string{} // source IP -> MAC of the host's eth0
	for _, h := range []*nstest.Host{h1, h2} {
		out, err := h.Exec("cat", "/sys/class/net/"+h.Link+"/address")
		if err != nil {
			t.Fatal(err)
		}
		base[h.Addr4.Addr().String()] = strings.TrimSpace(out)
	}
	pkts := frames()
	adverts := map[string]int{}
	for _, p := range pkts {
		ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if !ok || ip.Protocol != vrrp.Protocol {
			continue
		}
		eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		src := ip.SrcIP.String()
		adverts[src]++
		if got := netMAC(eth.SrcMAC); got != base[src] {
			t.Errorf("advert from %s sent from MAC %s, want the base interface's %s", src, got, base[src])
		}
	}
	if adverts[h1.Addr4.Addr().String()] == 0 || adverts[h2.Addr4.Addr().String()] == 0 {
		t.Errorf("adverts seen by source: %v, want both hosts'", adverts)
	}
	if n := garps(pkts, vip4.Addr(), vmac); n != 10 {
		t.Errorf("%d gratuitous ARPs from the VMAC, want two bursts of 5 (h1, then h2)", n)
	}
}
