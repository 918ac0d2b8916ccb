package config

import (
	"slices"
	"time"

	"github.com/vigil-ha/vigil"
)

// ifUpDownDelays maps "interface_up_down_delays { IF DOWN [UP] ... }" to
// vigil.Config.InterfaceDelays, as keepalived's alloc_if_up_down_delay:
// seconds with decimals (microseconds), 0..255, UP 0 when not given; a
// line without delays or with a bad one is ignored; a later line of an
// interface replaces an earlier one.
func (l *loader) ifUpDownDelays(s *Statement) {
	if !l.needBlock(s, 0, 0) {
		return
	}
	const maxSecs = float64(vigil.MaxInterfaceDelay / time.Second)
	for i := range s.Block {
		e := &s.Block[i]
		if len(e.Words) < 2 {
			l.errorf(e.Pos, "interface_up_down_delays: %s: no delays: ignored", e.Words[0])
			continue
		}
		if len(e.Words) > 3 {
			l.warnf(e.WordPos(3), "interface_up_down_delays: %s: extra argument %q: ignored", e.Words[0], e.Words[3])
		}
		d := vigil.InterfaceDelay{Interface: e.Words[0]}
		var ok bool
		if d.Down, ok = l.secsArg(e, 1, 0, maxSecs, time.Microsecond); !ok {
			continue
		}
		if len(e.Words) > 2 {
			if d.Up, ok = l.secsArg(e, 2, 0, maxSecs, time.Microsecond); !ok {
				continue
			}
		}
		ds := &l.cfg.InterfaceDelays
		*ds = slices.DeleteFunc(*ds, func(x vigil.InterfaceDelay) bool { return x.Interface == d.Interface })
		*ds = append(*ds, d)
	}
	l.cur.why = "an interface missing from the host is not an error (the file is loaded without the host); " +
		"delays are lowered for the configured advert intervals, not again for a master's shorter one"
}
