package netlink

import (
	"net"
	"net/netip"
)

// ipNet converts p, keeping its address (not masked).
func ipNet(p netip.Prefix) *net.IPNet {
	a := p.Addr().Unmap()
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}

// prefixOf converts n, keeping its address.
func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, bits := n.Mask.Size()
	if bits != a.BitLen() {
		if bits == 128 && a.Is4() && ones >= 96 {
			ones -= 96
		} else {
			return netip.Prefix{}, false
		}
	}
	return netip.PrefixFrom(a, ones), true
}
