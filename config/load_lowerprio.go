package config

import (
	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/netlink"
)

// lowerPrioDefaults returns the merged timing g of an instance that set t
// with keepalived's defaults for the lower-priority bursts: an instance
// that does not set garp_lower_prio_* takes the global
// vrrp_garp_lower_prio_*, which default to the global garp_master_*, not
// the instance's (vrrp.c: vrrp_complete_instance, global defaults).
// netlink's zero LowerPrio* mean the instance's own Repeat and
// SecondDelay, so they are set when the instance changed those.
func lowerPrioDefaults(g, t netlink.AnnounceTiming) netlink.AnnounceTiming {
	glob := g // g still holds the global values where t sets nothing
	if t.LowerPrioRepeat != 0 {
		g.LowerPrioRepeat = t.LowerPrioRepeat
	} else if glob.LowerPrioRepeat == 0 && t.Repeat != 0 {
		g.LowerPrioRepeat = netlink.DefaultRepeat
		if glob.Repeat != 0 {
			g.LowerPrioRepeat = glob.Repeat
		}
	}
	if t.LowerPrioDelay != 0 {
		g.LowerPrioDelay = t.LowerPrioDelay
	} else if glob.LowerPrioDelay == 0 && t.SecondDelay != 0 {
		g.LowerPrioDelay = netlink.DefaultSecondDelay
		if glob.SecondDelay != 0 {
			g.LowerPrioDelay = glob.SecondDelay
		}
	}
	return g
}

// strictLowerPrio applies strict mode to the lower-priority bursts of
// instance in (whose own garp_* keywords set t): keepalived sends none.
func (l *loader) strictLowerPrio(s *Statement, in *vigil.Instance, t netlink.AnnounceTiming) {
	if t.LowerPrioRepeat > 0 {
		l.errorf(s.Pos, "vrrp_instance %s: strict mode: garp_lower_prio_repeat must be 0: 0 used", in.VRRP.Name)
	}
	if in.GARP == (netlink.AnnounceTiming{}) {
		in.GARP = l.cfg.Global.GARP
	}
	in.GARP.LowerPrioRepeat = -1
}
