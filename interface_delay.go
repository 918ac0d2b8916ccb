package vigil

import (
	"fmt"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// InterfaceDelay delays what an interface going down or up does to the
// instances that track it (their own interface, track_interface), as a
// line "IF DOWN [UP]" of keepalived's interface_up_down_delays: the
// change acts only once it has lasted its delay, and not at all if the
// interface is back first. A VMAC instance follows its parent's delays.
// The first up after the start, or after the interface was removed,
// acts at once, and a removal always does.
type InterfaceDelay struct {
	// Interface is the interface's name (required).
	Interface string
	// Down and Up are the delays of going down and coming up, at most
	// MaxInterfaceDelay; zero and negative mean none. As keepalived, each
	// instance on Interface lowers Down to just under (DownTimerAdverts -
	// 1) × its Interval (Up too when it equals Down), so that the
	// instance faults before its peers' Master_Down_Interval ends, and
	// DownTimerAdverts 1 turns both off.
	Down, Up time.Duration
}

// MaxInterfaceDelay is the longest InterfaceDelay.Down and Up.
const MaxInterfaceDelay = 255 * time.Second

// validateInterfaceDelays returns the problems of ds as *FieldErrors.
func validateInterfaceDelays(ds []InterfaceDelay) []error {
	var errs []error
	seen := map[string]bool{}
	for i, d := range ds {
		obj := "interface delay " + d.Interface
		switch {
		case d.Interface == "":
			errs = append(errs, invalid(fmt.Sprintf("interface delay #%d", i), "Interface", "empty"))
		case seen[d.Interface]:
			errs = append(errs, invalid(obj, "Interface", "given twice"))
		}
		seen[d.Interface] = true
		for _, f := range []struct {
			name string
			v    time.Duration
		}{{"Down", d.Down}, {"Up", d.Up}} {
			if f.v > MaxInterfaceDelay {
				errs = append(errs, invalid(obj, f.name, "%v is more than %v", f.v, MaxInterfaceDelay))
			}
		}
	}
	return errs
}

// interfaceDelays returns the delays of cfg by interface, lowered for
// the instances on each as keepalived's check_debounce_timers.
func interfaceDelays(cfg *Config) map[string]InterfaceDelay {
	out := map[string]InterfaceDelay{}
	for _, d := range cfg.InterfaceDelays {
		d.Down, d.Up = max(d.Down, 0), max(d.Up, 0)
		for i := range cfg.Instances {
			in := &cfg.Instances[i]
			if in.Interface != d.Interface {
				continue
			}
			n := in.VRRP.DownTimerAdverts
			if n == 0 {
				n = vrrp.DefaultDownTimerAdverts
			}
			adv := in.VRRP.Interval
			if adv == 0 {
				adv = vrrp.DefaultInterval
			}
			if n == 1 {
				d.Down, d.Up = 0, 0
				continue
			}
			// keepalived's timers count microseconds.
			limit := time.Duration(n-1)*adv - (adv/time.Microsecond/256)*time.Microsecond
			if d.Down > limit {
				if d.Up == d.Down {
					d.Up = limit
				}
				d.Down = limit
			}
		}
		if d.Down > 0 || d.Up > 0 {
			out[d.Interface] = d
		}
	}
	return out
}
