//go:build linux

package netlink

import (
	"encoding/json"
	"net"
	"net/netip"
	"testing"

	"github.com/vigil-ha/vigil/internal/nstest"
	"go.uber.org/goleak"
)

// A gratuitous ARP or unsolicited NA costs no allocation to send (a mass
// failover sends a thousand at once), and reaches the wire: the peer's
// interface receives every one.
func TestPacketSendNoAllocs(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	seg := nstest.NewSegment(t, 2)
	h := seg.Hosts[0]
	ns, err := openNetns("/run/netns/" + h.Name)
	if err != nil {
		t.Fatal(err)
	}
	ps := &packetSender{iface: "eth0", ns: ns}
	mac, err := ps.open()
	if err != nil {
		ns.Close()
		t.Fatal(err)
	}
	defer ps.close()
	rx0 := rxPackets(t, seg.Hosts[1])
	for _, ip := range []netip.Addr{netip.MustParseAddr("192.0.2.77"), netip.MustParseAddr("2001:db8::77")} {
		b, err := announcement(net.HardwareAddr(mac), ip)
		if err != nil {
			t.Fatal(err)
		}
		if err := ps.send(ip.Is6(), b); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() {
			if err := ps.send(ip.Is6(), b); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%v: %v allocations per frame, want 0", ip, n)
		}
	}
	// The peer's interface counts them (a capture by tcpdump loses the
	// tail of a burst sent just before it is stopped).
	if got := rxPackets(t, seg.Hosts[1]) - rx0; got < 204 {
		t.Errorf("the peer's eth0 received %d packets, want the 204 frames sent", got)
	}
}

// rxPackets returns the packets h's eth0 has received.
func rxPackets(t *testing.T, h *nstest.Host) uint64 {
	t.Helper()
	var links []struct {
		Stats64 struct {
			RX struct {
				Packets uint64 `json:"packets"`
			} `json:"rx"`
		} `json:"stats64"`
	}
	out := nstest.MustRun(t, "ip", "-n", h.Name, "-j", "-s", "link", "show", "eth0")
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j -s link: %v: %s", err, out)
	}
	return links[0].Stats64.RX.Packets
}
