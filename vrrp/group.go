package vrrp

import "net/netip"

// mcastGroup is the multicast group adverts go to: g, or the family's
// default (GroupV4, GroupV6) when g is the zero value.
func mcastGroup(g netip.Addr, v6 bool) netip.Addr {
	switch {
	case g.IsValid():
		return g.Unmap()
	case v6:
		return GroupV6
	}
	return GroupV4
}
