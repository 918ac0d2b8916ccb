package config

import (
	"time"

	"github.com/vigil-ha/vigil/ipvs"
)

// lvsAdminGlobals adds to hs the global_defs keywords on the whole IPVS
// table: lvs_flush, lvs_flush_on_stop (and its old spelling
// lvs_flush_onstop) and lvs_timeouts.
func (l *loader) lvsAdminGlobals(hs map[string]handler) {
	g := &l.cfg.Global
	hs["lvs_flush"] = func(s *Statement) {
		if l.args(s, 0, 0) {
			g.LVSFlush = true
			l.cur.why = "the whole IPVS table is flushed when vigild starts, not on a reload (Global.LVSFlush)"
		}
	}
	flushOnStop := func(s *Statement) {
		if !l.args(s, 0, 1) {
			return
		}
		l.cur.why = "without an argument the whole IPVS table is flushed when vigild stops, if it has virtual servers " +
			"(Global.LVSFlushOnStop); VS, the default, removes only vigil's own (Global.KeepIPVSOnExit keeps them)"
		switch {
		case len(s.Words) == 1:
			g.LVSFlushOnStop = true
		case s.Words[1] == "VS":
			g.LVSFlushOnStop = false
		default:
			l.errorf(s.WordPos(1), "%s: unknown type %q (VS, or nothing for the whole table): ignored", s.Words[0], s.Words[1])
		}
	}
	hs["lvs_flush_on_stop"] = flushOnStop
	hs["lvs_flush_onstop"] = flushOnStop
	hs["lvs_timeouts"] = l.lvsTimeouts
}

// lvsTimeouts maps lvs_timeouts [tcp N] [tcpfin N] [udp N]: seconds,
// 0..ipvs.MaxTimeout (0 leaves the kernel's value). As keepalived, an
// unknown option, or an option without a valid value, is an error and
// ignored; the others apply.
func (l *loader) lvsTimeouts(s *Statement) {
	if s.HasBlock {
		l.errorf(s.Open, "%s takes no block: block ignored", s.Words[0])
	}
	if len(s.Words) < 3 {
		l.errorf(s.Pos, "lvs_timeouts requires at least one option and its value: ignored")
		return
	}
	l.cur.why = "set when vigild starts and at each reload, unset values from the kernel's originals; " +
		"a reload without lvs_timeouts and the stop restore the originals (Global.LVSTimeouts)"
	t := &l.cfg.Global.LVSTimeouts
	for i := 1; i < len(s.Words); i++ {
		var dst *time.Duration
		switch s.Words[i] {
		case "tcp":
			dst = &t.TCP
		case "tcpfin":
			dst = &t.TCPFin
		case "udp":
			dst = &t.UDP
		default:
			l.errorf(s.WordPos(i), "lvs_timeouts: unknown option %q: ignored", s.Words[i])
			continue
		}
		if i == len(s.Words)-1 {
			l.errorf(s.WordPos(i), "lvs_timeouts: no value for %s: ignored", s.Words[i])
			continue
		}
		i++
		if n, ok := l.intArg(s, i, 0, int(ipvs.MaxTimeout/time.Second)); ok {
			*dst = time.Duration(n) * time.Second
		}
	}
}
