package config

import (
	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/vrrp"
)

// advertSet is what global_defs or an instance says of the advert
// options: the values, and the statements that set them (nil: not set).
type advertSet struct {
	o                   vrrp.AdvertOptions
	down, lower, higher *Statement
	csumAsV2            *bool // v3_checksum_as_v2 (nil: not set)
}

// advertOptions adds to hs the keywords of vrrp.AdvertOptions, with
// prefix "vrrp_" in global_defs, recording them in set.
func (l *loader) advertOptions(hs map[string]handler, prefix string, set *advertSet) {
	hs[prefix+"down_timer_adverts"] = func(s *Statement) {
		if !l.args(s, 1, 1) {
			return
		}
		if n, ok := l.intArg(s, 1, 1, 100); ok {
			set.o.DownTimerAdverts, set.down = n, s
		}
	}
	hs[prefix+"lower_prio_no_advert"] = func(s *Statement) {
		if v, ok := l.boolArg(s); ok {
			set.o.LowerPrioNoAdvert, set.lower = v, s
		}
	}
	hs[prefix+"higher_prio_send_advert"] = func(s *Statement) {
		if v, ok := l.boolArg(s); ok {
			set.o.HigherPrioSendAdvert, set.higher = v, s
		}
	}
	hs["v3_checksum_as_v2"] = func(s *Statement) {
		if v, ok := l.boolArg(s); ok {
			set.csumAsV2 = &v
			l.cur.why = "adverts are accepted with either checksum; one of neither form is dropped (keepalived checks none)"
		}
	}
}

// advertInstance gives a read instance its advert options: its own, else
// global_defs', with strict mode's rules (vrrp.c: vrrp_complete_instance):
// down_timer_adverts is 3, lower_prio_no_advert on by default and
// required, higher_prio_send_advert off.
func (l *loader) advertInstance(in *vigil.Instance, ix *instExtra, obj string) {
	g, own := l.x.adv, ix.adv
	o := &in.VRRP.AdvertOptions
	*o = g.o
	down, lower, higher := g.down, g.lower, g.higher
	if own.down != nil {
		o.DownTimerAdverts, down = own.o.DownTimerAdverts, own.down
	}
	if own.lower != nil {
		o.LowerPrioNoAdvert, lower = own.o.LowerPrioNoAdvert, own.lower
	}
	if own.higher != nil {
		o.HigherPrioSendAdvert, higher = own.o.HigherPrioSendAdvert, own.higher
	}
	for _, v := range []*bool{g.csumAsV2, own.csumAsV2} {
		if v != nil {
			in.VRRP.V3ChecksumAsV2 = *v
		}
	}
	if !ix.strict {
		return
	}
	if o.DownTimerAdverts != 0 && o.DownTimerAdverts != vrrp.DefaultDownTimerAdverts {
		l.errorf(down.Pos, "%s: down_timer_adverts is incompatible with strict mode: %d used", obj, vrrp.DefaultDownTimerAdverts)
		o.DownTimerAdverts = 0
	}
	if !o.LowerPrioNoAdvert && lower != nil && own.lower != nil {
		l.errorf(lower.Pos, "%s: strict mode requires lower_prio_no_advert: set", obj)
	}
	o.LowerPrioNoAdvert = true
	if o.HigherPrioSendAdvert && higher != nil && own.higher != nil {
		l.errorf(higher.Pos, "%s: strict mode requires higher_prio_send_advert to be off: cleared", obj)
	}
	o.HigherPrioSendAdvert = false
}
