package netlink

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

// Ethernet and IPv6 constants of the announcement frames.
const (
	etherHeaderLen = 14
	ipv6HeaderLen  = 40
	protoICMPv6    = 58
	hopLimitND     = 255
)

// allNodes is ff02::1, the destination of unsolicited neighbour
// advertisements, and allNodesMAC its Ethernet multicast address.
var (
	allNodes    = netip.AddrFrom16([16]byte{0xff, 0x02, 15: 0x01})
	allNodesMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 0x01}
)

// GratuitousARP returns the Ethernet frame keepalived sends to announce ip:
// an ARP request to ff:ff:ff:ff:ff:ff with sender and target IP both ip,
// sender MAC mac and target MAC ff:ff:ff:ff:ff:ff. The frame is 42 bytes,
// as keepalived sends it; the NIC pads it on the wire.
func GratuitousARP(mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("netlink: gratuitous ARP for %v: bad MAC %q", ip, mac)
	}
	if !ip.Is4() {
		return nil, fmt.Errorf("netlink: gratuitous ARP for %v: not an IPv4 address", ip)
	}
	p, err := arp.NewPacket(arp.OperationRequest, mac, ip, ethernet.Broadcast, ip)
	if err != nil {
		return nil, fmt.Errorf("netlink: gratuitous ARP for %v: %w", ip, err)
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("netlink: gratuitous ARP for %v: %w", ip, err)
	}
	f := ethernet.Frame{Destination: ethernet.Broadcast, Source: mac, EtherType: ethernet.EtherTypeARP, Payload: pb}
	b, err := f.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("netlink: gratuitous ARP for %v: %w", ip, err)
	}
	// ethernet.Frame pads to the 60-byte minimum; keepalived does not.
	return b[:etherHeaderLen+len(pb)], nil
}

// UnsolicitedNA returns the Ethernet frame keepalived sends to announce the
// IPv6 address ip: a neighbour advertisement from ip to ff02::1 with hop
// limit 255, flow label 0, the Override flag set (Solicited and Router
// clear), target ip and a target link-layer address option carrying mac.
func UnsolicitedNA(mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("netlink: neighbour advertisement for %v: bad MAC %q", ip, mac)
	}
	if !ip.Is6() || ip.Is4In6() || ip.IsUnspecified() || ip.IsMulticast() {
		return nil, fmt.Errorf("netlink: neighbour advertisement for %v: not an IPv6 unicast address", ip)
	}
	ip = ip.WithZone("")
	na := &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: ip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}},
	}
	icmp, err := ndp.MarshalMessageChecksum(na, ip, allNodes)
	if err != nil {
		return nil, fmt.Errorf("netlink: neighbour advertisement for %v: %w", ip, err)
	}
	b := make([]byte, etherHeaderLen+ipv6HeaderLen, etherHeaderLen+ipv6HeaderLen+len(icmp))
	copy(b[0:6], allNodesMAC)
	copy(b[6:12], mac)
	binary.BigEndian.PutUint16(b[12:14], uint16(ethernet.EtherTypeIPv6))
	h := b[etherHeaderLen:]
	h[0] = 6 << 4 // version 6, traffic class 0, flow label 0
	binary.BigEndian.PutUint16(h[4:6], uint16(len(icmp)))
	h[6] = protoICMPv6
	h[7] = hopLimitND
	src, dst := ip.As16(), allNodes.As16()
	copy(h[8:24], src[:])
	copy(h[24:40], dst[:])
	return append(b, icmp...), nil
}

// announcement returns the frame announcing ip from mac: a gratuitous ARP
// for IPv4, an unsolicited neighbour advertisement for IPv6.
func announcement(mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	ip = ip.Unmap()
	if ip.Is4() {
		return GratuitousARP(mac, ip)
	}
	return UnsolicitedNA(mac, ip)
}
