package config

import (
	"net/netip"
	"slices"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vrrp"
)

// instExtra is what the keywords of this file remember of an instance.
type instExtra struct {
	noVIPs    bool // no_virtual_ipaddress
	strict    bool // strict_mode, else vrrp_strict
	accept    *Statement
	preDelay  *Statement
	auth      *Statement
	excluded  []netip.Prefix // virtual_ipaddress_excluded
	exclOpts  []netlink.AddrOptions
	exclAt    []Pos
	exclBlock *Statement
	adv       advertSet // down_timer_adverts, ... (load_advert.go)

	xmitBase *Statement // vmac_xmit_base (load_vmac.go)
	promote  *Statement // promote_secondaries (load_vmac.go)
}

// instanceExtra adds to hs the vrrp_instance keywords of this file.
func (l *loader) instanceExtra(in *vigil.Instance, hs map[string]handler, obj string, devs *[]vipDev) *instExtra {
	ix := &instExtra{strict: l.x.strict}
	if l.x.vmacPrefix != nil {
		in.VMACPrefix = l.x.vmacPrefix.Words[1]
	}
	hs["virtual_ipaddress_excluded"] = func(s *Statement) {
		if !l.needBlock(s, 0, 0) {
			return
		}
		ix.exclBlock = s
		for i := range s.Block {
			e := &s.Block[i]
			p, ok := l.prefix(e, 0)
			if !ok {
				continue
			}
			o := l.addrOptions(e, "vrrp_instance/virtual_ipaddress_excluded", func(opt string, j int) {
				if opt == "dev" {
					*devs = append(*devs, vipDev{p, e.Words[j], e.WordPos(j - 1)})
					return
				}
				l.warnf(e.WordPos(j-1), "%s: label on an excluded address: the instance's label (of virtual_ipaddress) is used", obj)
			})
			ix.excluded = append(ix.excluded, p)
			ix.exclOpts = append(ix.exclOpts, o)
			ix.exclAt = append(ix.exclAt, e.Pos)
		}
	}
	hs["no_virtual_ipaddress"] = func(s *Statement) {
		if l.args(s, 0, 0) {
			ix.noVIPs = true
		}
	}
	l.routesAndRules(hs, &in.Routes, &in.Rules)
	hs["promote_secondaries"] = func(s *Statement) {
		if l.args(s, 0, 0) {
			in.PromoteSecondaries, ix.promote = true, s
		}
	}
	hs["unicast_fault_no_peer"] = func(s *Statement) {
		if l.args(s, 0, 0) {
			in.VRRP.UnicastFaultNoPeer = true
		}
	}
	hs["track_src_ip"] = func(s *Statement) {
		if l.args(s, 0, 0) {
			in.TrackSrcIP = true
		}
	}
	hs["strict_mode"] = func(s *Statement) {
		if v, ok := l.boolArg(s); ok {
			ix.strict = v
			l.cur.why = whyStrict
		}
	}
	hs["vmac_xmit_base"] = func(s *Statement) {
		if l.args(s, 0, 0) {
			in.VMACXmitBase, ix.xmitBase = true, s
		}
	}
	l.advertHandlers(hs, "")
	l.advertOptions(hs, "", &ix.adv)
	l.notifyHandlers(hs, map[string]**notify.Script{"notify_master_rx_lower_pri": &in.Notify.MasterRxLowerPri})
	wrap := func(kw string, dst **Statement) {
		h := hs[kw]
		hs[kw] = func(s *Statement) {
			h(s)
			*dst = s
		}
	}
	wrap("accept", &ix.accept)
	wrap("preempt_delay", &ix.preDelay)
	wrap("authentication", &ix.auth)
	return ix
}

// excludedVIPs sets the excluded addresses of the instance (see
// instanceExtra): held with its VIPs, not advertised, of either family.
func (l *loader) excludedVIPs(in *vigil.Instance, ix *instExtra, obj string) {
	v := &in.VRRP
	if len(ix.excluded) > 0 && len(v.VIPs) == 0 {
		l.errorf(ix.exclBlock.Pos, "%s: virtual_ipaddress_excluded without virtual_ipaddress: not supported: "+
			"vigil adds the excluded addresses with the virtual ones: ignored", obj)
		return
	}
	for i, p := range ix.excluded {
		dup := false
		for _, q := range slices.Concat(v.VIPs, in.ExcludedVIPs) {
			dup = dup || q.Addr() == p.Addr()
		}
		if dup {
			l.warnf(ix.exclAt[i], "%s: excluded address %s is also a virtual or excluded address: ignored", obj, p.Addr())
			continue
		}
		in.ExcludedVIPs = append(in.ExcludedVIPs, p)
		setAddrOptions(&in.InstanceConfig, p, ix.exclOpts[i])
	}
}

// setAddrOptions records the options o of address p of ic, if any.
func setAddrOptions(ic *vigil.InstanceConfig, p netip.Prefix, o netlink.AddrOptions) {
	if o == (netlink.AddrOptions{}) {
		return
	}
	if ic.AddrOptions == nil {
		ic.AddrOptions = map[netip.Prefix]netlink.AddrOptions{}
	}
	ic.AddrOptions[p] = o
}

// strictInstance applies vrrp_strict / strict_mode to a complete
// instance, as far as vigil can: see whyStrict.
func (l *loader) strictInstance(s *Statement, in *vigil.Instance, ix *instExtra, obj string) {
	if !ix.strict {
		return
	}
	v := &in.VRRP
	if v.Priority != vrrp.PriorityOwner {
		if ix.accept != nil {
			l.warnf(ix.accept.Pos, "%s: accept with strict mode and priority below 255: no_accept used", obj)
		}
		v.NoAccept = true
	}
	if len(v.Peers) > 0 {
		l.errorf(s.Pos, "%s: strict mode: unicast peers are not allowed: multicast used", obj)
		v.Peers = nil
	}
	if ix.auth != nil {
		l.errorf(ix.auth.Pos, "%s: strict mode: authentication is not allowed: ignored", obj)
		v.AuthType, v.AuthPass = vrrp.AuthNone, ""
	}
	if ix.preDelay != nil && v.PreemptDelay != 0 {
		l.errorf(ix.preDelay.Pos, "%s: strict mode: preempt_delay is not allowed: ignored", obj)
		v.PreemptDelay = 0
	}
	if len(v.VIPs) == 0 && !ix.noVIPs {
		l.fatalf(s.Pos, "%s: strict mode needs virtual_ipaddress", obj)
	}
}
