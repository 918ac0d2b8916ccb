package config

import (
	"net/netip"

	"github.com/vigil-ha/vigil"
)

// mcastGroup is the handler of vrrp_mcast_group4 (v6 false) and
// vrrp_mcast_group6: a multicast address of the family, kept in *dst
// for the instances (wireInstance).
func (l *loader) mcastGroup(dst *netip.Addr, v6 bool) handler {
	return func(s *Statement) {
		if !l.args(s, 1, 1) {
			return
		}
		if a, ok := l.groupArg(s, v6); ok {
			*dst = a
		}
	}
}

// groupArg parses word 1 of s as a multicast address of the family v6.
func (l *loader) groupArg(s *Statement, v6 bool) (netip.Addr, bool) {
	a, ok := l.addr(s, 1)
	if !ok {
		return a, false
	}
	if !a.IsMulticast() || a.Is6() != v6 {
		fam := "IPv4"
		if v6 {
			fam = "IPv6"
		}
		l.errorf(s.WordPos(1), "%s: %s is not an %s multicast address: ignored", s.Words[0], a, fam)
		return netip.Addr{}, false
	}
	return a, true
}

// wireExtra is what the keywords of this file remember of an instance.
type wireExtra struct {
	group  netip.Addr // mcast_dst_ip
	groupS *Statement
	ttlS   *Statement // unicast_ttl
}

// instanceWire adds to hs the vrrp_instance keywords on where adverts
// go and how: mcast_src_ip, mcast_dst_ip, unicast_ttl.
func (l *loader) instanceWire(in *vigil.Instance, hs map[string]handler) *wireExtra {
	wx := &wireExtra{}
	// keepalived's mcast_src_ip and unicast_src_ip set the one source
	// address (vrrp_srcip_handler).
	hs["mcast_src_ip"] = hs["unicast_src_ip"]
	hs["mcast_dst_ip"] = func(s *Statement) {
		if !l.args(s, 1, 1) {
			return
		}
		a, ok := l.addr(s, 1)
		if ok && !a.IsMulticast() {
			l.errorf(s.WordPos(1), "%s: %s is not a multicast address: ignored", s.Words[0], a)
			ok = false
		}
		if ok {
			wx.group, wx.groupS = a, s
		}
	}
	hs["unicast_ttl"] = func(s *Statement) {
		if !l.args(s, 1, 1) {
			return
		}
		if n, ok := l.intArg(s, 1, 1, 255); ok {
			in.UnicastTTL, wx.ttlS = n, s
		}
	}
	return wx
}

// wireInstance completes a read instance: its multicast group (its
// mcast_dst_ip, else the global group of its family) and the checks
// keepalived makes once the block is read.
func (l *loader) wireInstance(in *vigil.Instance, wx *wireExtra, obj string) {
	v6 := in.IPv6()
	if len(in.VRRP.Peers) == 0 {
		switch {
		case wx.group.IsValid() && wx.group.Is6() != v6:
			l.errorf(wx.groupS.WordPos(1), "%s: mcast_dst_ip %s is not of the instance's family: ignored", obj, wx.group)
		case wx.group.IsValid():
			in.VRRP.Group = wx.group
		case v6:
			in.VRRP.Group = l.x.group6
		default:
			in.VRRP.Group = l.x.group4
		}
	}
	if wx.ttlS != nil && len(in.VRRP.Peers) == 0 {
		// vrrp_end_handler: "Cannot use unicast_ttl without unicast peers".
		l.errorf(wx.ttlS.Pos, "%s: unicast_ttl without unicast_peer: ignored", obj)
		in.UnicastTTL = 0
	}
}
