//go:build linux

package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The floor's gratuitous ARP is the frame the bench counts as B's
// announcement of the VIP: a broadcast ARP request from B's MAC whose
// sender and target are the VIP.
func TestGARPFrame(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0x5e, 0, 1, 7}
	vip := netip.MustParseAddr("198.18.0.7")
	p := gopacket.NewPacket(garpFrame(mac, vip), layers.LayerTypeEthernet, gopacket.Default)
	eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	arp, _ := p.Layer(layers.LayerTypeARP).(*layers.ARP)
	if eth == nil || arp == nil {
		t.Fatalf("not an Ethernet ARP frame: %v", p)
	}
	if !bytes.Equal(eth.DstMAC, layers.EthernetBroadcast) || !bytes.Equal(eth.SrcMAC, mac) {
		t.Errorf("Ethernet %v → %v, want %v → broadcast", eth.SrcMAC, eth.DstMAC, mac)
	}
	if arp.Operation != layers.ARPRequest || arp.AddrType != layers.LinkTypeEthernet || arp.Protocol != layers.EthernetTypeIPv4 {
		t.Errorf("ARP op %d, hardware %v, protocol %v; want a request for IPv4 over Ethernet", arp.Operation, arp.AddrType, arp.Protocol)
	}
	if !bytes.Equal(arp.SourceHwAddress, mac) || !bytes.Equal(arp.SourceProtAddress, vip.AsSlice()) || !bytes.Equal(arp.DstProtAddress, vip.AsSlice()) {
		t.Errorf("ARP %v/%v → %v, want %v/%v → %v", net.HardwareAddr(arp.SourceHwAddress), net.IP(arp.SourceProtAddress),
			net.IP(arp.DstProtAddress), mac, vip, vip)
	}
}

// The floor adds a VIP with the request vigil's netlink.AddrManager
// sends (its addrMessage: vishvananda/netlink's AddrAdd, no broadcast,
// no label), so that the kernel does the same work for both.
func TestAddAddrMessage(t *testing.T) {
	vip := netip.MustParsePrefix("198.18.0.9/15")
	req := nl.NewNetlinkRequest(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	msg := nl.NewIfAddrmsg(nl.FAMILY_V4)
	msg.Prefixlen, msg.Index = 15, 42
	req.AddData(msg)
	a := vip.Addr().AsSlice()
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, a))
	req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, a))
	want := req.Serialize()
	got := addAddrMessage(42, vip, 9)
	if len(got) != len(want) {
		t.Fatalf("%d bytes, want %d:\n got % x\nwant % x", len(got), len(want), got, want)
	}
	if s := binary.NativeEndian.Uint32(got[8:12]); s != 9 {
		t.Errorf("sequence number %d, want 9 (the VRID)", s)
	}
	// The library numbers its requests itself: compare all but that.
	copy(want[8:12], got[8:12])
	clear(want[12:16])
	if !bytes.Equal(got, want) {
		t.Errorf("\n got % x\nwant % x", got, want)
	}
}

// rxTime finds the kernel's receive time among other control messages.
func TestRxTime(t *testing.T) {
	ttl := make([]byte, unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&ttl[0]))
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_TTL
	h.SetLen(unix.CmsgLen(4))
	ttl[unix.CmsgLen(0)] = 255
	want := time.Unix(1_780_000_000, 123_456_789)
	tsz := int(unsafe.Sizeof(unix.Timespec{}))
	ts := make([]byte, unix.CmsgSpace(tsz))
	h = (*unix.Cmsghdr)(unsafe.Pointer(&ts[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
	h.SetLen(unix.CmsgLen(tsz))
	*(*unix.Timespec)(unsafe.Pointer(&ts[unix.CmsgLen(0)])) = unix.NsecToTimespec(want.UnixNano())
	if got, ok := rxTime(append(ttl, ts...)); !ok || !got.Equal(want) {
		t.Errorf("rxTime = %v, %v; want %v, true", got, ok, want)
	}
	if _, ok := rxTime(ttl); ok {
		t.Error("rxTime found a time in a TTL alone")
	}
	bad := append([]byte(nil), ttl...)
	(*unix.Cmsghdr)(unsafe.Pointer(&bad[0])).SetLen(len(bad) + 8) // longer than the data
	if _, ok := rxTime(bad); ok {
		t.Error("rxTime read past the control data")
	}
}

// The floor refuses flags it cannot honour, before it opens anything.
// (The interface does not exist: flags taken by mistake fail with 1 when
// it is looked up, and nothing is opened.)
func TestMassFloorFlags(t *testing.T) {
	const ifc = "vg-none0"
	for _, args := range [][]string{
		{"-interface", ifc, "-interval", "155ms"}, // not whole centiseconds
		{"-interface", ifc, "-interval", "1500ms"},
		{"-vrids", "200"}, // no interface
		{"-interface", ifc, "-vrids", "256"},
		{"-interface", ifc, "-priority", "255"},
		{"-interface", ifc, "-garps", "0"},
		{"-interface", ifc, "-approach", "200ms", "-interval", "100ms"},
		{"-interface", ifc, "extra"},
	} {
		code, ok := massFloorMain(append([]string{massFloorCmd}, args...), io.Discard, io.Discard)
		if !ok || code != 2 {
			t.Errorf("%q: code %d (ran: %v), want 2", args, code, ok)
		}
	}
	if _, ok := massFloorMain([]string{"-mass"}, io.Discard, io.Discard); ok {
		t.Error("the bench's own flags taken for the floor")
	}
	if code, _ := massFloorMain([]string{massFloorCmd, "-interface", ifc}, io.Discard, io.Discard); code != 1 {
		t.Errorf("good flags, no such interface: code %d, want 1", code)
	}
}
