//go:build linux

package vigil_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/vrrp"
)

// runHost runs a Host with cfg in ns until the test ends.
func runHost(t *testing.T, ns *nstest.Host, cfg vigil.HostConfig) *runningHost {
	t.Helper()
	cfg.Netns = ns.Path()
	h, err := vigil.NewHost(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rh := &runningHost{t: t, ns: ns, h: h, r: h.Routers()[0], cancel: cancel, done: make(chan error, 1)}
	go func() { rh.done <- h.Run(ctx) }()
	t.Cleanup(rh.stop)
	return rh
}

// TestHostStaleVIPAtBackupStart: a run that crashed left its VIP on the
// interface. Started again behind a live master of higher priority, the
// instance becomes BACKUP and the VIP is gone by then (keepalived removes
// its VIPs at start); the master keeps its VIP throughout. Both families.
func TestHostStaleVIPAtBackupStart(t *testing.T) {
	nstest.Require(t)
	for _, vip := range []netip.Prefix{vip4, netip.MustParsePrefix("2001:db8::100/64")} {
		t.Run(vip.String(), func(t *testing.T) {
			seg := nstest.NewSegment(t, 2)
			h1, h2 := seg.Hosts[0], seg.Hosts[1]
			a := startHost(t, h1, 200, []netip.Prefix{vip}, false)
			eventually(t, "h1 master with the VIP", 5*time.Second, func() bool {
				return a.r.State() == vrrp.Master && hasAddr(t, h1, vip.Addr())
			})
			// What a crash leaves behind.
			args := []string{"ip", "addr", "add", vip.String(), "dev", "eth0"}
			if vip.Addr().Is6() {
				args = append(args, "nodad")
			}
			if out, err := h2.Exec(args...); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if !hasAddr(t, h2, vip.Addr()) {
				t.Fatal("the stale VIP is not on h2")
			}
			b := startHost(t, h2, 100, []netip.Prefix{vip}, false)
			sub := b.r.Subscribe(8)
			defer sub.Close()
			var backupAt time.Time
			select {
			case e := <-sub.C():
				if e.To != vrrp.Backup {
					t.Fatalf("h2 entered %v, want BACKUP", e.To)
				}
				backupAt = time.Now()
			case <-time.After(5 * time.Second):
				if b.r.State() != vrrp.Backup {
					t.Fatalf("h2 in %v, want BACKUP", b.r.State())
				}
				backupAt = time.Now()
			}
			// Removed before the transition; allow one advert interval
			// for the check itself.
			eventually(t, "stale VIP gone from h2", ival, func() bool { return !hasAddr(t, h2, vip.Addr()) })
			t.Logf("stale VIP gone %v after h2 entered BACKUP", time.Since(backupAt).Round(time.Millisecond))
			// h2 stays backup, h1 master with its VIP, for 5 intervals.
			deadline := time.Now().Add(5 * ival)
			for time.Now().Before(deadline) {
				if b.r.State() != vrrp.Backup || hasAddr(t, h2, vip.Addr()) {
					t.Fatalf("h2 %v, VIP present %v: want BACKUP without it", b.r.State(), hasAddr(t, h2, vip.Addr()))
				}
				if a.r.State() != vrrp.Master || !hasAddr(t, h1, vip.Addr()) {
					t.Fatalf("h1 %v, VIP present %v: want MASTER with it", a.r.State(), hasAddr(t, h1, vip.Addr()))
				}
				time.Sleep(ival / 4)
			}
			if st := a.r.Stats(); st.Transitions != 2 {
				t.Errorf("h1 made %d transitions, want 2 (INIT→BACKUP→MASTER, then none)", st.Transitions)
			}
		})
	}
}

// TestHostAnnouncesAfterLinkFlap: a master with GARP/NA repeat 1 and no
// second burst. Its own interface goes down (FAULT) and up; when it is
// master again the one GARP and the one NA reach a witness. The same
// after the interface is deleted and created again (new index): the raw
// sockets are bound anew and the announcer's sockets reopened.
func TestHostAnnouncesAfterLinkFlap(t *testing.T) {
	nstest.Require(t)
	nstest.NeedTools(t, "tcpdump")
	seg := nstest.NewSegment(t, 2)
	h1, w := seg.Hosts[0], seg.Hosts[1]
	v4 := netip.MustParsePrefix("192.0.2.100/24")
	v6 := netip.MustParsePrefix("2001:db8::100/64")
	garp := netlink.AnnounceTiming{Repeat: 1, SecondDelay: -1}
	rh := runHost(t, h1, vigil.HostConfig{Instances: []vigil.InstanceConfig{
		{VRRP: vrrp.Config{Name: "v4", VRID: 51, Version: vrrp.V3, Priority: 200, Interval: ival, VIPs: []netip.Prefix{v4}},
			Interface: "eth0", GARP: garp},
		{VRRP: vrrp.Config{Name: "v6", VRID: 52, Version: vrrp.V3, Priority: 200, Interval: ival, VIPs: []netip.Prefix{v6}},
			Interface: "eth0", GARP: garp},
	}})
	routers := rh.h.Routers()
	masters := func() bool {
		return routers[0].State() == vrrp.Master && routers[1].State() == vrrp.Master &&
			hasAddr(t, h1, v4.Addr()) && hasAddr(t, h1, v6.Addr())
	}
	eventually(t, "both instances master", 5*time.Second, masters)

	// expectAnnouncements waits until the witness has seen one GARP for v4
	// and one NA for v6 from h1, and checks there is no more than one.
	expectAnnouncements := func(what string, frames func() []gopacket.Packet) {
		t.Helper()
		count := func() (int, int) {
			pkts := frames()
			return garps(pkts, v4.Addr(), h1.MAC.String()), nas(pkts, v6.Addr(), h1.MAC.String())
		}
		eventually(t, what+": one GARP and one NA at the witness", 3*time.Second, func() bool {
			g, n := count()
			return g >= 1 && n >= 1
		})
		if g, n := count(); g != 1 || n != 1 {
			t.Errorf("%s: witness saw %d GARPs and %d NAs, want 1 and 1", what, g, n)
		}
	}

	frames := capture(t, w, "arp or icmp6")
	if err := h1.SetLink(false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both in FAULT", 5*time.Second, func() bool {
		return routers[0].State() == vrrp.Fault && routers[1].State() == vrrp.Fault
	})
	if err := h1.SetLink(true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both master again after the flap", 5*time.Second, masters)
	expectAnnouncements("after the flap", frames)

	frames = capture(t, w, "arp or icmp6")
	if err := h1.Recreate(nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both master again after the re-creation", 5*time.Second, masters)
	expectAnnouncements("after the re-creation", frames)
}

// TestHostAdvertsAfterRecreate: after its interface is deleted and
// created again, a master's adverts reach the segment again (both
// families), and a backup hears the master again (its socket was bound to
// the old index) instead of taking over.
func TestHostAdvertsAfterRecreate(t *testing.T) {
	nstest.Require(t)
	nstest.NeedTools(t, "tcpdump")
	seg := nstest.NewSegment(t, 3)
	h1, h2, w := seg.Hosts[0], seg.Hosts[1], seg.Hosts[2]
	inst := func(prio uint8) vigil.HostConfig {
		return vigil.HostConfig{Instances: []vigil.InstanceConfig{
			{VRRP: vrrp.Config{Name: "v4", VRID: 51, Version: vrrp.V3, Priority: prio, Interval: ival, VIPs: []netip.Prefix{vip4}}, Interface: "eth0"},
			{VRRP: vrrp.Config{Name: "v6", VRID: 52, Version: vrrp.V3, Priority: prio, Interval: ival,
				VIPs: []netip.Prefix{netip.MustParsePrefix("2001:db8::100/64")}}, Interface: "eth0"},
		}}
	}
	a := runHost(t, h1, inst(200))
	ra := a.h.Routers()
	eventually(t, "h1 master", 5*time.Second, func() bool { return ra[0].State() == vrrp.Master && ra[1].State() == vrrp.Master })
	b := runHost(t, h2, inst(100))
	rb := b.h.Routers()
	eventually(t, "h2 backup", 5*time.Second, func() bool { return rb[0].State() == vrrp.Backup && rb[1].State() == vrrp.Backup })

	// The backup's interface is re-created: it must keep hearing h1.
	if err := h2.Recreate(nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "h2 backup again", 5*time.Second, func() bool { return rb[0].State() == vrrp.Backup && rb[1].State() == vrrp.Backup })
	became := rb[0].Stats().BecameMaster + rb[1].Stats().BecameMaster
	time.Sleep(10 * ival) // > Master_Down_Interval (≈ 3.6 intervals): h2 would have taken over
	if n := rb[0].Stats().BecameMaster + rb[1].Stats().BecameMaster; n != became {
		t.Fatalf("h2 took over %d times after its interface was re-created: it no longer heard h1", n-became)
	}
	// The master's interface is re-created: its adverts reach the witness.
	frames := capture(t, w, "ip proto 112 or ip6 proto 112")
	if err := h1.Recreate(nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "h1 master again", 5*time.Second, func() bool { return ra[0].State() == vrrp.Master && ra[1].State() == vrrp.Master })
	eventually(t, "adverts from h1 in both families at the witness", 5*time.Second, func() bool {
		var n4, n6 int
		for _, p := range frames() {
			if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok && ip.Protocol == 112 && ip.SrcIP.Equal(h1.Addr4.Addr().AsSlice()) {
				n4++
			}
			if ip, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok && ip.NextHeader == 112 && ip.SrcIP.Equal(h1.LinkLocal.AsSlice()) {
				n6++
			}
		}
		return n4 > 0 && n6 > 0
	})
	eventually(t, "h2 back to BACKUP behind h1", 5*time.Second, func() bool {
		return rb[0].State() == vrrp.Backup && rb[1].State() == vrrp.Backup
	})
}

// nas counts unsolicited neighbour advertisements for ip from mac.
func nas(pkts []gopacket.Packet, ip netip.Addr, mac string) int {
	n := 0
	for _, p := range pkts {
		eth, ok := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		if !ok || !strings.EqualFold(netMAC(eth.SrcMAC), mac) {
			continue
		}
		na, ok := p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
		if !ok {
			continue
		}
		if target, _ := netip.AddrFromSlice(na.TargetAddress); target == ip {
			n++
		}
	}
	return n
}
