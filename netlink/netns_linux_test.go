package netlink_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.uber.org/goleak"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/vrrp"
)

var (
	_ vrrp.AddrManager = (*netlink.AddrManager)(nil)
	_ vrrp.Announcer   = (*netlink.Announcer)(nil)
)

// noLeaks checks, after everything else the test cleans up, that it left
// no goroutine behind.
func noLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// nsHandle opens h's namespace for the test.
func nsHandle(t *testing.T, h *nstest.Host) *netns.NsHandle {
	t.Helper()
	ns, err := h.Handle()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return &ns
}

// nlHandle opens a netlink handle in h's namespace for the test.
func nlHandle(t *testing.T, h *nstest.Host) *vnl.Handle {
	t.Helper()
	vh, err := vnl.NewHandleAt(*nsHandle(t, h))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vh.Close)
	return vh
}

// ip runs ip(8) in h's namespace.
func ip(t *testing.T, h *nstest.Host, args ...string) string {
	t.Helper()
	return nstest.MustRun(t, append([]string{"ip", "-n", h.Name}, args...)...)
}

func sysctl(t *testing.T, h *nstest.Host, kv string) {
	t.Helper()
	k, v, _ := strings.Cut(kv, "=")
	if err := h.Sysctl(k, v); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond every 20 ms until it holds, failing after 5 s.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last: %s", what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

// TestAddrManager adds and removes IPv4 and IPv6 VIPs with routes and
// rules, checked with ip(8) as the independent witness.
func TestAddrManager(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	m, err := netlink.NewAddrManager(netlink.AddrConfig{
		Link:   "eth0",
		Handle: nlHandle(t, h),
		Label:  "eth0:vip",
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

	// no_accept is not enforced but not an error; the VIP still goes up.
	if err := m.AddVIPs(ctx, vips[:1], false); err != nil {
		t.Fatalf("AddVIPs with accept=false: %v", err)
	}
	if ok, _ := h.HasAddr(addr("192.0.2.100")); !ok {
		t.Error("VIP not added with accept=false")
	}
}

func TestAddrManagerErrors(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	vh := nlHandle(t, seg.Hosts[0])
	ctx := t.Context()
	if _, err := netlink.NewAddrManager(netlink.AddrConfig{Link: "eth0", Handle: vh, Label: "vip0"}); err == nil {
		t.Error("label not starting with the link name accepted")
	}
	if _, err := netlink.NewAddrManager(netlink.AddrConfig{Link: "eth0", Handle: vh, Rules: []netlink.Rule{{Table: 1}}}); err == nil {
		t.Error("rule without From or To accepted")
	}
	m, err := netlink.NewAddrManager(netlink.AddrConfig{Link: "eth9", Handle: vh})
	if err != nil {
		t.Fatal(err)
	}
	err = m.AddVIPs(ctx, []netip.Prefix{pfx("192.0.2.100/24")}, true)
	if !errors.Is(err, netlink.ErrLinkNotFound) || !strings.Contains(err.Error(), "eth9") {
		t.Errorf("AddVIPs on a missing link: %v; want ErrLinkNotFound naming eth9", err)
	}
	if err := m.RemoveVIPs(ctx, []netip.Prefix{pfx("192.0.2.100/24")}); err != nil {
		t.Errorf("RemoveVIPs on a missing link: %v; want nil (nothing to remove)", err)
	}

	m, err = netlink.NewAddrManager(netlink.AddrConfig{Link: "eth0", Handle: vh,
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

// frame is one frame a sniffer saw.
type frame struct {
	at time.Time
	b  []byte
}

// sniff captures every ARP and ICMPv6 neighbour advertisement frame
// arriving on h's eth0 until the test ends.
func sniff(t *testing.T, h *nstest.Host) func() []frame {
	t.Helper()
	var c *packet.Conn
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName(h.Link)
		if err != nil {
			return err
		}
		c, err = packet.Listen(ifi, packet.Raw, 0x0003 /* ETH_P_ALL */, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var frames []frame
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			now := time.Now()
			b := buf[:n]
			if n < 14 {
				continue
			}
			switch binary.BigEndian.Uint16(b[12:14]) {
			case 0x0806:
			case 0x86dd:
				if n < 55 || b[20] != 58 || b[54] != 136 {
					continue
				}
			default:
				continue
			}
			mu.Lock()
			frames = append(frames, frame{at: now, b: bytes.Clone(b)})
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return func() []frame {
		mu.Lock()
		defer mu.Unlock()
		return append([]frame(nil), frames...)
	}
}

// waitFrames waits (bounded) until the sniffer has n frames.
func waitFrames(t *testing.T, got func() []frame, n int) []frame {
	t.Helper()
	eventually(t, fmt.Sprintf("%d frames", n), func() (bool, string) {
		return len(got()) >= n, fmt.Sprintf("%d frames", len(got()))
	})
	return got()
}

// checkGARP decodes f as keepalived's gratuitous ARP for vip from mac.
func checkGARP(t *testing.T, f []byte, mac net.HardwareAddr, vip netip.Addr) {
	t.Helper()
	var ef ethernet.Frame
	if err := ef.UnmarshalBinary(f); err != nil {
		t.Fatal(err)
	}
	var p arp.Packet
	if ef.EtherType != ethernet.EtherTypeARP {
		t.Fatalf("ethertype %v, want ARP", ef.EtherType)
	}
	if err := p.UnmarshalBinary(ef.Payload); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ef.Destination, ethernet.Broadcast) || !bytes.Equal(ef.Source, mac) ||
		p.Operation != arp.OperationRequest || !bytes.Equal(p.SenderHardwareAddr, mac) ||
		p.SenderIP != vip || p.TargetIP != vip || !bytes.Equal(p.TargetHardwareAddr, ethernet.Broadcast) {
		t.Errorf("ARP %v -> %v: %+v; want a request %v/%v -> ff:ff:ff:ff:ff:ff/%v", ef.Source, ef.Destination, p, mac, vip, vip)
	}
}

// checkNA decodes f as an unsolicited NA for vip from mac.
func checkNA(t *testing.T, f []byte, mac net.HardwareAddr, vip netip.Addr) {
	t.Helper()
	if len(f) < 54 || binary.BigEndian.Uint16(f[12:14]) != 0x86dd {
		t.Fatalf("not IPv6: %x", f)
	}
	if !bytes.Equal(f[0:6], []byte{0x33, 0x33, 0, 0, 0, 1}) || !bytes.Equal(f[6:12], mac) {
		t.Errorf("NA MACs %v -> %v, want %v -> 33:33:00:00:00:01", net.HardwareAddr(f[6:12]), net.HardwareAddr(f[0:6]), mac)
	}
	if f[14+7] != 255 {
		t.Errorf("hop limit %d", f[14+7])
	}
	if dst := netip.AddrFrom16([16]byte(f[14+24 : 14+40])); dst != addr("ff02::1") {
		t.Errorf("NA to %v, want ff02::1", dst)
	}
	m, err := ndp.ParseMessage(f[54:])
	if err != nil {
		t.Fatal(err)
	}
	na, ok := m.(*ndp.NeighborAdvertisement)
	if !ok {
		t.Fatalf("%T", m)
	}
	if !na.Override || na.Solicited || na.Router || na.TargetAddress != vip || len(na.Options) != 1 {
		t.Errorf("NA %+v, want Override, target %v, one option", na, vip)
		return
	}
	if lla, ok := na.Options[0].(*ndp.LinkLayerAddress); !ok || lla.Direction != ndp.Target || !bytes.Equal(lla.Addr, mac) {
		t.Errorf("NA option %+v, want target link-layer address %v", na.Options[0], mac)
	}
}

// neighMAC returns the link-layer address h's neighbour table holds for a.
func neighMAC(t *testing.T, h *nstest.Host, a netip.Addr) string {
	out := ip(t, h, "neigh", "show", a.String(), "dev", "eth0")
	f := strings.Fields(out)
	for i := range f {
		if f[i] == "lladdr" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return out
}

// TestAnnouncer: the announcer in host 1 sends two spaced bursts of GARPs
// and NAs; host 2 sees the exact frames, in order, and moves its
// neighbour entries for the VIPs to host 1's MAC.
func TestAnnouncer(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 2)
	h1, h2 := seg.Hosts[0], seg.Hosts[1]
	v4, v6 := addr("192.0.2.100"), addr("2001:db8::100")

	// The witness believes the VIPs are at another MAC (the old master).
	const oldMAC = "02:00:00:00:01:63"
	sysctl(t, h2, "net.ipv4.neigh.eth0.locktime=0")
	ip(t, h2, "neigh", "add", v4.String(), "lladdr", oldMAC, "dev", "eth0", "nud", "stale")
	ip(t, h2, "neigh", "add", v6.String(), "lladdr", oldMAC, "dev", "eth0", "nud", "stale")
	got := sniff(t, h2)

	ip(t, h1, "addr", "add", "192.0.2.100/24", "dev", "eth0")
	ip(t, h1, "addr", "add", "2001:db8::100/64", "dev", "eth0", "nodad")
	const interval, second = 20 * time.Millisecond, 300 * time.Millisecond
	a, err := netlink.NewAnnouncer(netlink.AnnouncerConfig{
		Link: "eth0", Namespace: nsHandle(t, h1),
		Timing: netlink.Timing{Repeat: 3, Interval: interval, SecondDelay: second},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !bytes.Equal(a.MAC(), h1.MAC) {
		t.Errorf("announcer MAC %v, want eth0's %v", a.MAC(), h1.MAC)
	}
	start := time.Now()
	if err := a.Announce(t.Context(), []netip.Addr{v4, v6}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("Announce took %v; it must return at once", d)
	}
	a.Wait() // no refresh: the schedule ends after the second burst
	if st := a.Stats(); st.ARPSent != 6 || st.NASent != 6 || st.Errors != 0 || st.Bursts != 2 {
		t.Errorf("stats %+v, want 6 ARP, 6 NA, 2 bursts, no errors", st)
	}
	frames := waitFrames(t, got, 12)
	if len(frames) != 12 {
		t.Fatalf("sniffed %d frames, want 12", len(frames))
	}
	for i, f := range frames {
		if i%2 == 0 {
			checkGARP(t, f.b, h1.MAC, v4)
		} else {
			checkNA(t, f.b, h1.MAC, v6)
		}
	}
	// Spacing, with generous bounds: packets within a burst at least
	// about Interval apart; the second burst Second after the first.
	for i := 1; i < 12; i++ {
		if i == 6 {
			continue
		}
		if gap := frames[i].at.Sub(frames[i-1].at); gap < interval/2 {
			t.Errorf("frames %d and %d only %v apart, want about %v", i-1, i, gap, interval)
		}
	}
	if d := frames[6].at.Sub(frames[0].at); d < second*3/4 || d > 10*second {
		t.Errorf("second burst %v after the first, want about %v", d, second)
	}
	t.Logf("burst spacing %v..., second burst after %v", frames[1].at.Sub(frames[0].at), frames[6].at.Sub(frames[0].at))

	// The witness now sends to host 1.
	for _, v := range []netip.Addr{v4, v6} {
		eventually(t, fmt.Sprintf("%s neighbour %v at %v", h2.Name, v, h1.MAC), func() (bool, string) {
			mac := neighMAC(t, h2, v)
			return mac == h1.MAC.String(), mac
		})
	}

	// Cancelling an announcement with a refresh ends its goroutine.
	ctx, cancel := context.WithCancel(t.Context())
	b, err := netlink.NewAnnouncer(netlink.AnnouncerConfig{Link: "eth0", Namespace: nsHandle(t, h1),
		Timing: netlink.Timing{RefreshInterval: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Announce(ctx, []netip.Addr{v4}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refreshes", func() (bool, string) {
		st := b.Stats()
		return st.Bursts >= 3, fmt.Sprintf("%+v", st)
	})
	cancel()
	b.Wait()
	if err := b.Close(); err != nil {
		t.Error(err)
	}
	if err := b.Announce(t.Context(), []netip.Addr{v4}); !errors.Is(err, netlink.ErrClosed) {
		t.Errorf("Announce after Close: %v", err)
	}
}

func TestAnnouncerErrors(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	ns := nsHandle(t, seg.Hosts[0])
	if _, err := netlink.NewAnnouncer(netlink.AnnouncerConfig{Link: "eth9", Namespace: ns}); err == nil || !strings.Contains(err.Error(), "eth9") {
		t.Errorf("missing link: %v", err)
	}
	if _, err := netlink.NewAnnouncer(netlink.AnnouncerConfig{Link: "lo", Namespace: ns}); err == nil {
		t.Error("loopback (no MAC) accepted")
	}
	if _, err := netlink.NewAnnouncer(netlink.AnnouncerConfig{Link: "eth0", Namespace: ns, Timing: netlink.Timing{Repeat: -1}}); err == nil {
		t.Error("negative repeat accepted")
	}
}

// TestVMAC creates keepalived's vrrp.{VRID} macvlan, reuses it, refuses a
// conflicting one, announces from its MAC, and removes it.
func TestVMAC(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 2)
	h1, h2 := seg.Hosts[0], seg.Hosts[1]
	vh := nlHandle(t, h1)
	v, err := netlink.CreateVMAC(netlink.VMACConfig{Parent: "eth0", VRID: 51, Handle: vh})
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
	v2, err := netlink.CreateVMAC(netlink.VMACConfig{Parent: "eth0", VRID: 51, Handle: vh})
	if err != nil {
		t.Fatalf("second CreateVMAC: %v", err)
	}
	if v2.Created() || v2.Index() != v.Index() {
		t.Errorf("second CreateVMAC: created=%t index %d, want reuse of %d", v2.Created(), v2.Index(), v.Index())
	}
	// A link of that name with another MAC is a conflict, left alone.
	ip(t, h1, "link", "add", "link", "eth0", "name", "vrrp.52", "address", "02:00:00:00:00:52", "type", "macvlan", "mode", "private")
	if _, err := netlink.CreateVMAC(netlink.VMACConfig{Parent: "eth0", VRID: 52, Handle: vh}); !errors.Is(err, netlink.ErrVMACConflict) {
		t.Errorf("conflicting link: %v, want ErrVMACConflict", err)
	}
	if _, err := netlink.CreateVMAC(netlink.VMACConfig{Parent: "eth9", VRID: 53, Handle: vh}); !errors.Is(err, netlink.ErrLinkNotFound) {
		t.Errorf("missing parent: %v, want ErrLinkNotFound", err)
	}

	// Announcements sent on the VMAC carry the virtual MAC (as keepalived's
	// capture g). The announcer is opened from inside the namespace.
	got := sniff(t, h2)
	var a *netlink.Announcer
	if err := h1.Do(func() error {
		var err error
		a, err = netlink.NewAnnouncer(netlink.AnnouncerConfig{Link: v.Name(), Timing: netlink.Timing{Repeat: 2, SecondDelay: -1}})
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
	v6, err := netlink.CreateVMAC(netlink.VMACConfig{Parent: "eth0", VRID: 53, IPv6: true, Name: "vmac6", Handle: vh})
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

// watch runs a Watcher for the test and returns a function reading its
// next event matching want (bounded wait). Events read past are recorded
// for the failure message.
func watch(t *testing.T, cfg netlink.WatcherConfig, hook func()) (*netlink.Watcher, func(what string, want func(netlink.Event) bool) netlink.Event) {
	t.Helper()
	w, err := netlink.NewWatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		w.SetResubscribeHook(hook)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
		for range w.Events() { // closed when Run returned
		}
		if err := w.Run(context.Background()); !errors.Is(err, netlink.ErrRan) {
			t.Errorf("second Run: %v, want ErrRan", err)
		}
	})
	next := func(what string, want func(netlink.Event) bool) netlink.Event {
		t.Helper()
		var seen []string
		timeout := time.After(10 * time.Second)
		for {
			select {
			case e, ok := <-w.Events():
				if !ok {
					t.Fatalf("events closed waiting for %s", what)
				}
				if want(e) {
					return e
				}
				seen = append(seen, e.String())
			case <-timeout:
				t.Fatalf("timed out waiting for %s; saw %q", what, seen)
			}
		}
	}
	return w, next
}

func is(k netlink.EventKind, sync bool) func(netlink.Event) bool {
	return func(e netlink.Event) bool { return e.Kind == k && e.Sync == sync }
}

func isAddr(k netlink.EventKind, p netip.Prefix, sync bool) func(netlink.Event) bool {
	return func(e netlink.Event) bool { return e.Kind == k && e.Addr == p && e.Sync == sync }
}

// TestWatcher: link down/up and an address removed by hand are reported
// for the watched link; the VIP is then put back.
func TestWatcher(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	var (
		mu   sync.Mutex
		seen []netlink.Event
	)
	_, next := watch(t, netlink.WatcherConfig{Namespace: nsHandle(t, h), Link: "eth0"}, nil)
	record := func(what string, want func(netlink.Event) bool) netlink.Event {
		t.Helper()
		e := next(what, func(e netlink.Event) bool {
			mu.Lock()
			seen = append(seen, e)
			mu.Unlock()
			return want(e)
		})
		return e
	}

	e := record("initial eth0", is(netlink.LinkAdded, true))
	if e.Link != "eth0" || !e.Up {
		t.Errorf("initial link event %v, want eth0 up", e)
	}
	record("initial address", isAddr(netlink.AddrAdded, h.Addr4, true))
	record("initial sync", is(netlink.Synced, true))

	ip(t, h, "link", "set", "eth0", "down")
	e = record("link down", is(netlink.LinkDown, false))
	if e.Link != "eth0" || e.Up {
		t.Errorf("%v", e)
	}
	ip(t, h, "link", "set", "eth0", "up")
	record("link up", is(netlink.LinkUp, false))

	m, err := netlink.NewAddrManager(netlink.AddrConfig{Link: "eth0", Handle: nlHandle(t, h)})
	if err != nil {
		t.Fatal(err)
	}
	vip := pfx("192.0.2.100/24")
	if err := m.AddVIPs(t.Context(), []netip.Prefix{vip}, true); err != nil {
		t.Fatal(err)
	}
	record("VIP added", isAddr(netlink.AddrAdded, vip, false))
	ip(t, h, "addr", "del", vip.String(), "dev", "eth0")
	record("VIP removed by hand", isAddr(netlink.AddrRemoved, vip, false))
	// What the supervisor does: see it missing, put it back.
	if has, err := m.Has(t.Context(), vip); err != nil || has {
		t.Fatalf("Has after removal: %t, %v", has, err)
	}
	if err := m.AddVIPs(t.Context(), []netip.Prefix{vip}, true); err != nil {
		t.Fatal(err)
	}
	record("VIP back", isAddr(netlink.AddrAdded, vip, false))

	mu.Lock()
	defer mu.Unlock()
	for _, e := range seen {
		if e.Kind != netlink.Synced && e.Link != "eth0" {
			t.Errorf("event for another link despite the filter: %v", e)
		}
	}
}

// TestWatcherDADFailure: host 2 adds an address host 1 already has, with
// duplicate address detection on; the watcher reports the failure.
func TestWatcherDADFailure(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 2)
	h1, h2 := seg.Hosts[0], seg.Hosts[1]
	dup := pfx("2001:db8::55/64")
	ip(t, h1, "addr", "add", dup.String(), "dev", "eth0", "nodad")
	sysctl(t, h2, "net.ipv6.conf.eth0.accept_dad=1")
	_, next := watch(t, netlink.WatcherConfig{Namespace: nsHandle(t, h2), Link: "eth0"}, nil)
	next("initial sync", is(netlink.Synced, true))
	ip(t, h2, "addr", "add", dup.String(), "dev", "eth0")
	e := next("tentative address", isAddr(netlink.AddrAdded, dup, false))
	if !e.Flags.Tentative() {
		t.Errorf("added %v not tentative", e)
	}
	e = next("DAD failure", isAddr(netlink.AddrDADFailed, dup, false))
	if !e.Flags.DADFailed() || e.Link != "eth0" {
		t.Errorf("%v", e)
	}
	if out := ip(t, h2, "-6", "addr", "show", "dev", "eth0"); !strings.Contains(out, "dadfailed") {
		t.Errorf("ip(8) does not show the DAD failure:\n%s", out)
	}
}

// TestWatcherResync: after a forced resubscription, changes made while
// unsubscribed are delivered as differences, marked Sync.
func TestWatcherResync(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	gone, kept, added := pfx("198.51.100.7/24"), h.Addr4, pfx("203.0.113.9/24")
	ip(t, h, "addr", "add", gone.String(), "dev", "eth0")
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	w, next := watch(t, netlink.WatcherConfig{Namespace: nsHandle(t, h)}, func() {
		once.Do(func() { // only the first resubscription waits
			close(entered)
			<-release
		})
	})
	next("initial sync", is(netlink.Synced, true))
	if st := w.Stats(); st.Subscriptions != 1 || st.Resyncs != 0 {
		t.Errorf("stats after start %+v", st)
	}

	w.Resync()
	<-entered // the subscriptions are closed; the watcher waits to resubscribe
	ip(t, h, "addr", "del", gone.String(), "dev", "eth0")
	ip(t, h, "addr", "add", added.String(), "dev", "eth0")
	ip(t, h, "link", "set", "eth0", "down")
	close(release)

	var evs []string
	for {
		e := next("resync events", func(netlink.Event) bool { return true })
		if !e.Sync {
			continue // notifications of the link going down, after the listing
		}
		if e.Kind == netlink.Synced {
			break
		}
		evs = append(evs, e.String())
	}
	want := []string{
		"link-down eth0(2) up=false (sync)",
		"addr-removed eth0(2) " + gone.String() + " [permanent] (sync)",
		"addr-added eth0(2) " + added.String() + " [permanent] (sync)",
	}
	// IPv6 addresses may also go with the link (keep_addr_on_down=0).
	var got []string
	for _, e := range evs {
		if !strings.Contains(e, "addr-removed eth0(2) 2001:db8:") && !strings.Contains(e, "addr-removed eth0(2) fe80:") {
			got = append(got, e)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("resync events\n got %q\nwant %q", got, want)
	}
	if ok, _ := h.HasAddr(kept.Addr()); !ok {
		t.Fatal("test setup: host address gone")
	}
	if st := w.Stats(); st.Subscriptions != 2 || st.Resyncs != 1 || st.Errors != 0 {
		t.Errorf("stats after resync %+v, want 2 subscriptions, 1 resync, no errors", st)
	}
}

// TestWatcherOverflow: with a tiny socket buffer and a reader that is not
// reading, a burst of 300 address changes overflows the subscription
// (ENOBUFS); the watcher resubscribes and still reports every address.
func TestWatcherOverflow(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	w, next := watch(t, netlink.WatcherConfig{Namespace: nsHandle(t, h), Link: "eth0", ReceiveBufferSize: 1, Buffer: 1}, nil)
	next("initial sync", is(netlink.Synced, true))

	var batch strings.Builder
	want := map[netip.Prefix]bool{}
	for i := range 300 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(1 + i/250), byte(1 + i%250)}), 32)
		want[p] = true
		fmt.Fprintf(&batch, "addr add %s dev eth0\n", p)
	}
	file := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(file, []byte(batch.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ip(t, h, "-batch", file) // meanwhile nobody reads the events

	var sawResync bool
	for len(want) > 0 || !sawResync {
		e := next(fmt.Sprintf("%d more addresses and a resync", len(want)), func(netlink.Event) bool { return true })
		switch {
		case e.Kind == netlink.AddrAdded:
			delete(want, e.Addr)
		case e.Kind == netlink.Synced && w.Stats().Resyncs > 0:
			sawResync = true
		}
	}
	st := w.Stats()
	if st.Overflows == 0 || st.Resyncs == 0 {
		t.Errorf("stats %+v, want an overflow and a resync", st)
	}
	t.Logf("stats %+v", st)
}

// TestWatcherStopsWhileBlocked: stopping a watcher whose reader stopped
// reading, with the subscriptions' goroutines blocked on full channels,
// still ends every goroutine.
func TestWatcherStopsWhileBlocked(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	w, next := watch(t, netlink.WatcherConfig{Namespace: nsHandle(t, h), Buffer: 1}, nil)
	next("initial sync", is(netlink.Synced, true))
	var batch strings.Builder
	for i := range 300 {
		fmt.Fprintf(&batch, "addr add 198.18.%d.%d/32 dev eth0\n", 1+i/250, 1+i%250)
	}
	file := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(file, []byte(batch.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ip(t, h, "-batch", file)
	// The watcher holds one event in the channel and one in hand; the
	// rest wait in the subscription. Stop it now (in watch's cleanup).
	if st := w.Stats(); st.Events > 10 {
		t.Errorf("%d events delivered to a reader that is not reading", st.Events)
	}
}

// TestWatcherPeriodicResync: with a short ResyncInterval, a quiet watcher
// resubscribes and re-lists on its own, and a listing that finds nothing
// new delivers only Synced.
func TestWatcherPeriodicResync(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	w, next := watch(t, netlink.WatcherConfig{Namespace: nsHandle(t, h), ResyncInterval: 50 * time.Millisecond}, nil)
	next("initial sync", is(netlink.Synced, true))
	for i := range 2 {
		e := next("a quiet resync", func(netlink.Event) bool { return true })
		if e.Kind != netlink.Synced {
			t.Errorf("resync %d delivered %v; nothing changed", i+1, e)
		}
	}
	if st := w.Stats(); st.Resyncs < 2 || st.Errors != 0 || st.Overflows != 0 {
		t.Errorf("stats %+v, want 2 or more resyncs and no errors", st)
	}
}
