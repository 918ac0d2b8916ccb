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
	"github.com/vigil-ha/vigil/vrrp"
)

const ival = 100 * time.Millisecond

var (
	vip4 = netip.MustParsePrefix("192.0.2.100/24")
	vip6 = []netip.Prefix{netip.MustParsePrefix("fe80::100/64"), netip.MustParsePrefix("2001:db8::100/64")}
)

// runningHost is a vigil.Host running in a test namespace host.
type runningHost struct {
	t      *testing.T
	ns     *nstest.Host
	h      *vigil.Host
	r      *vrrp.Router
	cancel context.CancelFunc
	done   chan error
}

func startHost(t *testing.T, ns *nstest.Host, prio uint8, vips []netip.Prefix, vmac bool) *runningHost {
	t.Helper()
	h, err := vigil.NewHost(vigil.HostConfig{Netns: ns.Path(), Instances: []vigil.InstanceConfig{{
		VRRP: vrrp.Config{Name: "VI_1@" + ns.Name, VRID: 51, Version: vrrp.V3, Priority: prio, Interval: ival, VIPs: vips},
		// Short second burst so tests see it; repeat as keepalived.
		Interface: ns.Link, UseVMAC: vmac,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rh := &runningHost{t: t, ns: ns, h: h, r: h.Routers()[0], cancel: cancel, done: make(chan error, 1)}
	go func() { rh.done <- h.Run(ctx) }()
	t.Cleanup(rh.stop)
	return rh
}

func (rh *runningHost) stop() {
	if rh.cancel == nil {
		return
	}
	rh.cancel()
	if err := <-rh.done; err != nil {
		rh.t.Errorf("%s: Run: %v", rh.ns.Name, err)
	}
	rh.cancel = nil
}

// eventually polls cond (bounded) until it holds.
func eventually(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasAddr(t *testing.T, h *nstest.Host, a netip.Addr) bool {
	t.Helper()
	ok, err := h.HasAddr(a)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// neighMAC returns the MAC in h's neighbour cache for a, or "".
func neighMAC(h *nstest.Host, a netip.Addr) string {
	out, _ := h.Exec("ip", "neigh", "show", a.String())
	f := strings.Fields(out)
	for i, w := range f {
		if w == "lladdr" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

// capture runs tcpdump on h's eth0 until the returned function is called,
// which returns the frames seen, decoded.
func capture(t *testing.T, h *nstest.Host, filter string) func() []gopacket.Packet {
	t.Helper()
	frames := nstest.Capture(t, h, filter)
	return func() []gopacket.Packet {
		var out []gopacket.Packet
		for _, f := range frames() {
			out = append(out, gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default))
		}
		return out
	}
}

// garps counts gratuitous ARP requests for ip sent from mac.
func garps(pkts []gopacket.Packet, ip netip.Addr, mac string) int {
	n := 0
	for _, p := range pkts {
		a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP)
		if !ok || a.Operation != layers.ARPRequest {
			continue
		}
		src, _ := netip.AddrFromSlice(a.SourceProtAddress)
		dst, _ := netip.AddrFromSlice(a.DstProtAddress)
		if src == ip && dst == ip && strings.EqualFold(netMAC(a.SourceHwAddress), mac) {
			n++
		}
	}
	return n
}

func netMAC(b []byte) string {
	const hex = "0123456789abcdef"
	var s strings.Builder
	for i, x := range b {
		if i > 0 {
			s.WriteByte(':')
		}
		s.WriteByte(hex[x>>4])
		s.WriteByte(hex[x&15])
	}
	return s.String()
}

// The VIP follows the master over real sockets and netlink: it appears on
// the master and leaves the old one; a sniffer sees the GARP burst; a
// host's ARP cache follows; the link going down on the master puts it in
// FAULT and the backup takes over; link up brings it back by priority.
func TestHostFailoverIPv4(t *testing.T) {
	nstest.NeedTools(t, "ping", "tcpdump")
	seg := nstest.NewSegment(t, 3)
	h1, h2, w := seg.Hosts[0], seg.Hosts[1], seg.Hosts[2]
	a := startHost(t, h1, 150, []netip.Prefix{vip4}, false)
	eventually(t, "h1 master with the VIP", 5*time.Second, func() bool { return a.r.State() == vrrp.Master && hasAddr(t, h1, vip4.Addr()) })
	b := startHost(t, h2, 100, []netip.Prefix{vip4}, false)
	eventually(t, "h2 backup", 5*time.Second, func() bool { return b.r.State() == vrrp.Backup })
	if hasAddr(t, h2, vip4.Addr()) {
		t.Fatal("backup holds the VIP")
	}
	if out, err := w.Ping(t, vip4.Addr()); err != nil {
		t.Fatalf("witness cannot reach the VIP: %v %s", err, out)
	}
	if got := neighMAC(w, vip4.Addr()); got != h1.MAC.String() {
		t.Fatalf("witness resolves the VIP to %q, want h1 %v", got, h1.MAC)
	}

	// Link down on the master: FAULT, VIP removed, h2 takes over and
	// announces; the witness's cache follows without a new ping.
	frames := capture(t, w, "arp")
	if err := h1.SetLink(false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "h1 in FAULT without the VIP", 5*time.Second, func() bool {
		return a.r.State() == vrrp.Fault && !hasAddr(t, h1, vip4.Addr())
	})
	eventually(t, "h2 master with the VIP", 5*time.Second, func() bool { return b.r.State() == vrrp.Master && hasAddr(t, h2, vip4.Addr()) })
	eventually(t, "witness cache points at h2", 5*time.Second, func() bool { return neighMAC(w, vip4.Addr()) == h2.MAC.String() })
	time.Sleep(200 * time.Millisecond) // the rest of the burst
	if n := garps(frames(), vip4.Addr(), h2.MAC.String()); n != 5 {
		t.Errorf("sniffer saw %d gratuitous ARPs from h2 for the VIP, want a burst of 5", n)
	}

	// Link up: h1 goes Backup and preempts h2 (higher priority).
	if err := h1.SetLink(true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "h1 master again", 5*time.Second, func() bool { return a.r.State() == vrrp.Master && hasAddr(t, h1, vip4.Addr()) })
	eventually(t, "h2 backup without the VIP", 5*time.Second, func() bool { return b.r.State() == vrrp.Backup && !hasAddr(t, h2, vip4.Addr()) })

	// The VIP deleted by hand on the master is put back.
	if _, err := h1.Exec("ip", "addr", "del", vip4.String(), "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "VIP put back on h1", 5*time.Second, func() bool { return hasAddr(t, h1, vip4.Addr()) })
	if a.h.Restored() == 0 {
		t.Error("restore not counted")
	}

	// Graceful stop: priority 0, VIP removed at once, h2 takes over.
	a.stop()
	if hasAddr(t, h1, vip4.Addr()) {
		t.Error("h1 kept the VIP after stopping")
	}
	eventually(t, "h2 master after graceful stop", 5*time.Second, func() bool { return b.r.State() == vrrp.Master && hasAddr(t, h2, vip4.Addr()) })
	if b.r.Stats().PriorityZeroRx == 0 {
		t.Error("h2 heard no priority 0")
	}
}

// IPv6: adverts from link-locals to ff02::12, VIPs added without DAD (no
// tentative or dadfailed flags on either side), and the VIP moves.
func TestHostFailoverIPv6(t *testing.T) {
	nstest.NeedTools(t, "ping")
	seg := nstest.NewSegment(t, 3)
	h1, h2, w := seg.Hosts[0], seg.Hosts[1], seg.Hosts[2]
	// DAD on, as on a normal host: the VIPs must still not be tentative.
	for _, h := range []*nstest.Host{h1, h2} {
		if err := h.Sysctl("net.ipv6.conf.eth0.accept_dad", "1"); err != nil {
			t.Fatal(err)
		}
	}
	a := startHost(t, h1, 150, vip6, false)
	b := startHost(t, h2, 100, vip6, false)
	eventually(t, "h1 master with the VIPs", 5*time.Second, func() bool {
		return a.r.State() == vrrp.Master && hasAddr(t, h1, vip6[0].Addr()) && hasAddr(t, h1, vip6[1].Addr())
	})
	eventually(t, "h2 backup", 5*time.Second, func() bool { return b.r.State() == vrrp.Backup })
	out, _ := h1.Exec("ip", "-6", "addr", "show", "dev", "eth0")
	if strings.Contains(out, "tentative") || strings.Contains(out, "dadfailed") {
		t.Errorf("VIP under DAD:\n%s", out)
	}
	if st := b.r.Status(); st.Master != h1.LinkLocal {
		t.Errorf("h2 sees master %v, want h1's link-local %v", st.Master, h1.LinkLocal)
	}
	if out, err := w.Ping(t, vip6[1].Addr()); err != nil {
		t.Fatalf("witness cannot reach the IPv6 VIP: %v %s", err, out)
	}
	a.stop()
	eventually(t, "h2 master with the VIPs", 5*time.Second, func() bool {
		return b.r.State() == vrrp.Master && hasAddr(t, h2, vip6[1].Addr())
	})
	out, _ = h2.Exec("ip", "-6", "addr", "show", "dev", "eth0")
	if strings.Contains(out, "tentative") || strings.Contains(out, "dadfailed") {
		t.Errorf("VIP under DAD on the new master:\n%s", out)
	}
	if hasAddr(t, h1, vip6[1].Addr()) {
		t.Error("old master kept the VIP")
	}
}

// use_vmac: the instance runs on a macvlan with 00:00:5e:00:01:33. As with
// keepalived (capture g), adverts, gratuitous ARPs and ARP replies for the
// VIP come from the virtual MAC, on both sides of a failover.
func TestHostVMAC(t *testing.T) {
	nstest.NeedTools(t, "ping", "tcpdump")
	seg := nstest.NewSegment(t, 3)
	h1, h2, w := seg.Hosts[0], seg.Hosts[1], seg.Hosts[2]
	const vmac = "00:00:5e:00:01:33"
	frames := capture(t, w, "arp")
	a := startHost(t, h1, 150, []netip.Prefix{vip4}, true)
	eventually(t, "h1 master", 5*time.Second, func() bool { return a.r.State() == vrrp.Master })
	b := startHost(t, h2, 100, []netip.Prefix{vip4}, true)
	eventually(t, "h2 backup", 5*time.Second, func() bool { return b.r.State() == vrrp.Backup })
	if out, err := w.Ping(t, vip4.Addr()); err != nil {
		t.Fatalf("witness cannot reach the VIP: %v %s", err, out)
	}
	a.stop()
	eventually(t, "h2 master", 5*time.Second, func() bool { return b.r.State() == vrrp.Master })
	if out, err := w.Ping(t, vip4.Addr()); err != nil {
		t.Fatalf("witness cannot reach the VIP on h2: %v %s", err, out)
	}
	time.Sleep(100 * time.Millisecond)
	pkts := frames()
	if n := garps(pkts, vip4.Addr(), vmac); n != 10 {
		t.Errorf("%d gratuitous ARPs from the VMAC, want two bursts of 5 (h1, then h2)", n)
	}
	replies := 0
	for _, p := range pkts {
		if a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); ok && a.Operation == layers.ARPReply {
			if src, _ := netip.AddrFromSlice(a.SourceProtAddress); src == vip4.Addr() {
				replies++
				if got := netMAC(a.SourceHwAddress); got != vmac {
					t.Errorf("ARP reply for the VIP from %s, want the VMAC", got)
				}
			}
		}
	}
	if replies == 0 {
		t.Error("no ARP reply for the VIP seen")
	}
	if out, _ := h1.Exec("ip", "link", "show"); strings.Contains(out, "vrrp.51") {
		t.Errorf("h1's VMAC left behind:\n%s", out)
	}
}

func TestHostErrors(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	_, err := vigil.NewHost(vigil.HostConfig{Netns: seg.Hosts[0].Path(), Instances: []vigil.InstanceConfig{{
		VRRP:      vrrp.Config{Name: "VI_1", VRID: 51, Version: vrrp.V3, Priority: 100, Interval: ival, VIPs: []netip.Prefix{vip4}},
		Interface: "nosuch0",
	}}})
	if err == nil || !strings.Contains(err.Error(), "nosuch0") {
		t.Errorf("missing interface: %v", err)
	}
	if _, err := vigil.NewHost(vigil.HostConfig{Netns: "/run/netns/vigil-no-such-ns"}); err == nil {
		t.Error("missing namespace accepted")
	}
}

// The interface disappears under a running master: the instance goes to
// FAULT (sends fail and are counted), Run keeps going, and stops cleanly.
func TestHostInterfaceGone(t *testing.T) {
	seg := nstest.NewSegment(t, 2)
	h1 := seg.Hosts[0]
	a := startHost(t, h1, 150, []netip.Prefix{vip4}, false)
	eventually(t, "h1 master", 5*time.Second, func() bool { return a.r.State() == vrrp.Master })
	if _, err := h1.Exec("ip", "link", "del", "eth0"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "h1 in FAULT", 5*time.Second, func() bool { return a.r.State() == vrrp.Fault })
	select {
	case err := <-a.done:
		t.Fatalf("Run ended on its own: %v", err)
	case <-time.After(3 * ival):
	}
}
