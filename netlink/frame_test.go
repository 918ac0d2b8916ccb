package netlink

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
	"github.com/mdlayher/ndp"
)

// captureFrames returns the frames of testdata/name, numbered from 1.
func captureFrames(t testing.TB, name string) map[int][]byte {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := map[int][]byte{}
	for n := 1; ; n++ {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s frame %d: %v", name, n, err)
		}
		out[n] = bytes.Clone(data)
	}
}

func mustMAC(t testing.TB, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFramesMatchKeepalived builds each announcement keepalived sent in the
// captures and compares the bytes.
func TestFramesMatchKeepalived(t *testing.T) {
	a := captureFrames(t, "a-v2-ipv4-mcast.pcap")
	d := captureFrames(t, "d-v3-ipv6.pcap")
	g := captureFrames(t, "g-v2-ipv4-vmac.pcap")
	ka1 := mustMAC(t, "02:00:00:00:01:01")
	cases := []struct {
		name string
		want []byte
		mac  net.HardwareAddr
		ip   string
	}{
		{"a#4 GARP .100", a[4], ka1, "192.0.2.100"},
		{"a#5 GARP .101", a[5], ka1, "192.0.2.101"},
		{"a#12 GARP .100 (5th round)", a[12], ka1, "192.0.2.100"},
		{"d#4 NA fe80::100", d[4], ka1, "fe80::100"},
		{"d#5 NA 2001:db8::100", d[5], ka1, "2001:db8::100"},
		{"d#32 NA from ka2", d[32], mustMAC(t, "02:00:00:00:01:02"), "fe80::100"},
		{"g#6 GARP from VMAC", g[6], VMACAddr(56, false), "192.0.2.100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.want == nil {
				t.Fatal("frame missing from capture")
			}
			got, err := announcement(c.mac, netip.MustParseAddr(c.ip))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.want) {
				t.Errorf("frame differs from keepalived's\n got %x\nwant %x", got, c.want)
			}
		})
	}
}

// TestNAFields decodes our NA as a receiver would.
func TestNAFields(t *testing.T) {
	mac := mustMAC(t, "02:00:00:00:01:07")
	vip := netip.MustParseAddr("2001:db8::100")
	b, err := UnsolicitedNA(mac, vip)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 86 {
		t.Fatalf("len %d, want 86", len(b))
	}
	if got := net.HardwareAddr(b[0:6]).String(); got != "33:33:00:00:00:01" {
		t.Errorf("destination MAC %s", got)
	}
	ip6 := b[14:54]
	if ip6[7] != 255 {
		t.Errorf("hop limit %d, want 255", ip6[7])
	}
	if src := netip.AddrFrom16([16]byte(ip6[8:24])); src != vip {
		t.Errorf("source %v, want the VIP", src)
	}
	if dst := netip.AddrFrom16([16]byte(ip6[24:40])); dst != allNodes {
		t.Errorf("destination %v, want ff02::1", dst)
	}
	m, err := ndp.ParseMessage(b[54:])
	if err != nil {
		t.Fatal(err)
	}
	na, ok := m.(*ndp.NeighborAdvertisement)
	if !ok {
		t.Fatalf("%T, want NA", m)
	}
	if !na.Override || na.Solicited || na.Router || na.TargetAddress != vip {
		t.Errorf("NA %+v: want Override only, target %v", na, vip)
	}
	if len(na.Options) != 1 {
		t.Fatalf("options %v", na.Options)
	}
	if lla, ok := na.Options[0].(*ndp.LinkLayerAddress); !ok || lla.Direction != ndp.Target || !bytes.Equal(lla.Addr, mac) {
		t.Errorf("option %+v, want target link-layer address %v", na.Options[0], mac)
	}
}

func TestFrameErrors(t *testing.T) {
	mac := mustMAC(t, "02:00:00:00:01:07")
	for _, c := range []struct {
		mac net.HardwareAddr
		ip  netip.Addr
	}{
		{mac, netip.Addr{}},
		{mac, netip.MustParseAddr("::")},
		{mac, netip.MustParseAddr("ff02::1")},
		{net.HardwareAddr{1, 2, 3}, netip.MustParseAddr("192.0.2.1")},
		{nil, netip.MustParseAddr("2001:db8::1")},
	} {
		if b, err := announcement(c.mac, c.ip); err == nil {
			t.Errorf("announcement(%v, %v) = %x, want an error", c.mac, c.ip, b)
		}
	}
	if _, err := GratuitousARP(mac, netip.MustParseAddr("2001:db8::1")); err == nil {
		t.Error("GratuitousARP accepted an IPv6 address")
	}
	if _, err := UnsolicitedNA(mac, netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Error("UnsolicitedNA accepted an IPv4 address")
	}
	// A v4-mapped address is announced as IPv4.
	b, err := announcement(mac, netip.MustParseAddr("::ffff:192.0.2.9"))
	if err != nil || len(b) != 42 {
		t.Errorf("v4-mapped: %x, %v; want a 42-byte GARP", b, err)
	}
}

func TestVMACAddr(t *testing.T) {
	if got := VMACAddr(51, false).String(); got != "00:00:5e:00:01:33" {
		t.Errorf("IPv4 VMAC of 51 = %s", got)
	}
	if got := VMACAddr(255, true).String(); got != "00:00:5e:00:02:ff" {
		t.Errorf("IPv6 VMAC of 255 = %s", got)
	}
}

func BenchmarkGratuitousARP(b *testing.B) {
	mac := net.HardwareAddr{2, 0, 0, 0, 1, 1}
	ip := netip.MustParseAddr("192.0.2.100")
	for b.Loop() {
		if _, err := GratuitousARP(mac, ip); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnsolicitedNA(b *testing.B) {
	mac := net.HardwareAddr{2, 0, 0, 0, 1, 1}
	ip := netip.MustParseAddr("2001:db8::100")
	for b.Loop() {
		if _, err := UnsolicitedNA(mac, ip); err != nil {
			b.Fatal(err)
		}
	}
}
