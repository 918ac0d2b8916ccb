package netlink_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/netlink"
)

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
		Interface: "eth0", Netns: nsPath(h1),
		Timing: netlink.AnnounceTiming{Repeat: 3, Interval: interval, SecondDelay: second},
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
	b, err := netlink.NewAnnouncer(netlink.AnnouncerConfig{Interface: "eth0", Netns: nsPath(h1),
		Timing: netlink.AnnounceTiming{RefreshInterval: 10 * time.Millisecond}})
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
	ns := nsPath(seg.Hosts[0])
	if _, err := netlink.NewAnnouncer(netlink.AnnouncerConfig{Interface: "eth9", Netns: ns}); !errors.Is(err, netlink.ErrNoInterface) || !strings.Contains(err.Error(), "eth9") {
		t.Errorf("missing interface: %v, want ErrNoInterface naming eth9", err)
	}
	if _, err := netlink.NewAnnouncer(netlink.AnnouncerConfig{Interface: "lo", Netns: ns}); err == nil {
		t.Error("loopback (no MAC) accepted")
	}
	_, err := netlink.NewAnnouncer(netlink.AnnouncerConfig{Interface: "eth0", Netns: ns, MAC: net.HardwareAddr{1, 2}})
	wantField(t, err, "MAC", "netlink: announcer on eth0: MAC: 01:02 is not an Ethernet MAC (6 bytes)")
	if _, err := netlink.NewAnnouncer(netlink.AnnouncerConfig{Interface: "eth0", Netns: "/run/netns/vigil-none"}); err == nil ||
		!strings.Contains(err.Error(), "/run/netns/vigil-none") {
		t.Errorf("missing namespace: %v, want an error naming the path", err)
	}
}
