package config

import (
	"strings"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/process"
	"github.com/vigil-ha/vigil/vrrp"
)

// globalDefs maps the global_defs keywords the VRRP side uses.
func (l *loader) globalDefs(s *Statement) {
	if !l.needBlock(s, 0, 0) {
		return
	}
	g := &l.cfg.Global
	garp := func(f func(s *Statement) bool) handler {
		return func(s *Statement) {
			if f(s) {
				l.garpSet = true
			}
		}
	}
	var scriptUser *Statement
	fifo := func(dst **notify.FIFOConfig) handler {
		return func(s *Statement) {
			if !l.args(s, 1, 3) {
				return
			}
			if *dst == nil {
				*dst = &notify.FIFOConfig{}
			}
			(*dst).Path = s.Words[1]
			if len(s.Words) > 2 {
				if u, ok := l.user(s.Pos, s.Words[2:]); ok {
					(*dst).User = u
				}
			}
		}
	}
	fifoScript := func(dst **notify.FIFOConfig) handler {
		return func(s *Statement) {
			sc, ok := l.script(s)
			if !ok {
				return
			}
			if *dst == nil {
				*dst = &notify.FIFOConfig{}
			}
			(*dst).Script = sc
		}
	}
	hs := map[string]handler{
		"router_id": func(s *Statement) {
			if l.args(s, 1, 1) {
				g.RouterID = s.Words[1]
			}
		},
		"script_user": func(s *Statement) {
			if l.args(s, 1, 2) {
				scriptUser = s
			}
		},
		"set_supplementary_groups": func(s *Statement) {
			if v, ok := l.boolArg(s); ok {
				l.supp = v
			}
		},
		"enable_script_security": func(s *Statement) {
			if l.args(s, 0, 0) {
				g.ScriptSecurity.Enabled = true
			}
		},
		"use_symlink_paths": func(s *Statement) {
			if v, ok := l.boolArg(s); ok {
				g.ScriptSecurity.SymlinkPaths = v
			}
		},
		"default_interface": func(s *Statement) {
			if l.args(s, 1, 1) {
				l.defIface = s.Words[1]
			}
		},
		"vrrp_version": func(s *Statement) {
			if !l.args(s, 1, 1) {
				return
			}
			if v, ok := l.intArg(s, 1, 2, 3); ok {
				l.version = vrrp.Version(v)
			}
		},
		"vrrp_notify_priority_changes": func(s *Statement) {
			if v, ok := l.boolArg(s); ok {
				g.NotifyPriorityChanges = v
			}
		},
		"notify_fifo":             fifo(&g.NotifyFIFO),
		"notify_fifo_script":      fifoScript(&g.NotifyFIFO),
		"vrrp_notify_fifo":        fifo(&g.VRRPNotifyFIFO),
		"vrrp_notify_fifo_script": fifoScript(&g.VRRPNotifyFIFO),
		"lvs_notify_fifo":         fifo(&g.LVSNotifyFIFO),
		"lvs_notify_fifo_script":  fifoScript(&g.LVSNotifyFIFO),
		"vrrp_min_garp": garp(func(s *Statement) bool {
			v, ok := l.boolArg(s)
			if ok && v {
				g.GARP.Repeat, g.GARP.SecondDelay, g.GARP.RefreshInterval = 1, -1, -1
			}
			return ok
		}),
	}
	for kw, f := range garpKeywords(func() *netlink.AnnounceTiming { return &g.GARP }, l) {
		hs["vrrp_"+kw] = garp(f)
	}
	hs["vrrp_gna_interval"] = hs["vrrp_garp_interval"]
	l.globalExtra(hs)
	l.block("global_defs", s.Block, hs, globalIgnored)
	if scriptUser != nil {
		if u, ok := l.user(scriptUser.Pos, scriptUser.Words[1:]); ok {
			g.ScriptUser = u
		}
	}
	for _, f := range []*notify.FIFOConfig{g.NotifyFIFO, g.VRRPNotifyFIFO, g.LVSNotifyFIFO} {
		if f != nil && f.Path == "" {
			l.warnf(s.Pos, "global_defs: a FIFO script without its FIFO: ignored")
		}
	}
	for _, p := range []**notify.FIFOConfig{&g.NotifyFIFO, &g.VRRPNotifyFIFO, &g.LVSNotifyFIFO} {
		if *p != nil && (*p).Path == "" {
			*p = nil
		}
	}
}

// defTracker records a tracker definition; a second definition of a
// name is an error (the first is kept).
func (l *loader) defTracker(s *Statement, kind trackerKind, t vigil.Tracker) {
	if d, ok := l.trackers[t.Name]; ok {
		l.errorf(s.Pos, "%s %s: already defined at %s: ignored", kind, t.Name, d.pos)
		return
	}
	l.trackers[t.Name] = &trackerDef{kind: kind, pos: s.Pos, t: t}
	l.order = append(l.order, t.Name)
	l.objPos["tracker "+t.Name] = s.Pos
}

// weightArgs parses "weight W [reverse|noreverse]" from word i of s.
func (l *loader) weightArgs(s *Statement, i, lim int) (w int, rev, ok bool) {
	if len(s.Words) <= i+1 || s.Words[i] != "weight" {
		l.errorf(s.WordPos(i), "%s: expected \"weight W [reverse]\": ignored", s.Words[0])
		return 0, false, false
	}
	w, ok = l.intArg(s, i+1, -lim, lim)
	if !ok {
		return 0, false, false
	}
	if len(s.Words) > i+2 {
		switch s.Words[i+2] {
		case "reverse":
			rev = true
		case "noreverse":
		default:
			l.errorf(s.WordPos(i+2), "%s: %q ignored", s.Words[0], s.Words[i+2])
		}
		if len(s.Words) > i+3 {
			l.errorf(s.WordPos(i+3), "%s: extra argument %q ignored", s.Words[0], s.Words[i+3])
		}
	}
	return w, rev, true
}

// vrrpScript maps "vrrp_script NAME { ... }".
func (l *loader) vrrpScript(s *Statement) {
	if !l.needBlock(s, 1, 1) {
		return
	}
	ex := &check.Exec{}
	t := vigil.Tracker{Name: s.Words[1], Check: &vigil.TrackerCheck{Checker: ex}}
	pol := &t.Check.Policy
	pol.Interval = time.Second
	timeoutSet := false
	hasScript := false
	l.block("vrrp_script "+t.Name, s.Block, map[string]handler{
		"script": func(s *Statement) {
			sc, ok := l.scriptWords(s, false)
			if !ok {
				return
			}
			ex.Path, ex.Args, hasScript = sc.Args[0], sc.Args[1:], true
			if w, _ := SplitQuoted(s.Line, false); strings.HasPrefix(w[1], "</") {
				// keepalived runs "</dev/tcp/HOST/PORT" with system().
				ex.Path, ex.Args = "/bin/sh", []string{"-c", w[1]}
			}
		},
		"interval": func(s *Statement) {
			if l.args(s, 1, 1) {
				if d, ok := l.secsArg(s, 1, 0, 1<<31, time.Millisecond); ok {
					if d == 0 {
						d = time.Second
					}
					pol.Interval = d
				}
			}
		},
		"timeout": func(s *Statement) {
			if l.args(s, 1, 1) {
				if d, ok := l.secsArg(s, 1, 0, 1<<31, time.Millisecond); ok {
					pol.Timeout, timeoutSet = d, d != 0
				}
			}
		},
		"weight": func(s *Statement) {
			if w, rev, ok := l.weightArgs(s, 0, 253); ok {
				t.Weight, t.Reverse = w, rev
			}
		},
		"rise": func(s *Statement) {
			if l.args(s, 1, 1) {
				if n, ok := l.intArg(s, 1, 1, 1<<31-1); ok {
					pol.Rise = n
				}
			}
		},
		"fall": func(s *Statement) {
			if l.args(s, 1, 1) {
				if n, ok := l.intArg(s, 1, 1, 1<<31-1); ok {
					pol.Fall = n
				}
			}
		},
		"user": func(s *Statement) {
			if l.args(s, 1, 2) {
				ex.User = s.Words[1]
				if len(s.Words) > 2 {
					ex.Group = strings.TrimPrefix(s.Words[2], ":")
				}
			}
		},
		"init_fail": func(s *Statement) {
			if l.args(s, 0, 0) {
				pol.Alpha = true
			}
		},
	}, nil)
	if !timeoutSet {
		pol.Timeout = pol.Interval
	}
	if !hasScript {
		l.errorf(s.Pos, "vrrp_script %s: no script: ignored", t.Name)
		return
	}
	l.defTracker(s, kindScript, t)
}

// trackFile maps "track_file NAME { ... }" (and vrrp_track_file).
func (l *loader) trackFile(s *Statement) {
	if !l.needBlock(s, 1, 1) {
		return
	}
	if s.Words[0] == "vrrp_track_file" {
		l.warnf(s.Pos, "vrrp_track_file is deprecated: use track_file")
	}
	t := vigil.Tracker{Name: s.Words[1], File: &vigil.TrackerFile{}, Weight: 1}
	l.block("track_file "+t.Name, s.Block, map[string]handler{
		"file": func(s *Statement) {
			if l.args(s, 1, 1) {
				t.File.Path = s.Words[1]
			}
		},
		"weight": func(s *Statement) {
			if w, rev, ok := l.weightArgs(s, 0, 254); ok {
				t.Weight, t.Reverse = w, rev
			}
		},
		"init_file": l.initFile(&t.File.Init), // load_daemon.go
	}, nil)
	if t.File.Path == "" {
		l.errorf(s.Pos, "track_file %s: no file: ignored", t.Name)
		return
	}
	l.defTracker(s, kindFile, t)
}

// trackProcess maps "vrrp_track_process NAME { ... }".
func (l *loader) trackProcess(s *Statement) {
	if !l.needBlock(s, 1, 1) {
		return
	}
	sp := &process.Spec{}
	t := vigil.Tracker{Name: s.Words[1], Process: sp}
	delay := func(dst ...*time.Duration) handler {
		return func(s *Statement) {
			if l.args(s, 1, 1) {
				if d, ok := l.secsArg(s, 1, 0.000001, 3600, time.Microsecond); ok {
					for _, p := range dst {
						*p = d
					}
				}
			}
		}
	}
	l.block("vrrp_track_process "+t.Name, s.Block, map[string]handler{
		"process": func(s *Statement) {
			if l.args(s, 1, -1) {
				sp.Process, sp.Params = s.Words[1], s.Words[2:]
			}
		},
		"param_match": func(s *Statement) {
			if !l.args(s, 0, 1) {
				return
			}
			sp.ParamMatch = process.ParamMatchExact
			if len(s.Words) > 1 {
				switch s.Words[1] {
				case "initial":
					sp.ParamMatch = process.ParamMatchInitial
				case "partial":
					sp.ParamMatch = process.ParamMatchPartial
				default:
					l.errorf(s.WordPos(1), "param_match: %q is not initial or partial: ignored", s.Words[1])
					sp.ParamMatch = process.ParamMatchDefault
				}
			}
		},
		"weight": func(s *Statement) {
			if w, rev, ok := l.weightArgs(s, 0, 254); ok {
				t.Weight, t.Reverse = w, rev
			}
		},
		"quorum": func(s *Statement) {
			if l.args(s, 1, 1) {
				if n, ok := l.intArg(s, 1, 1, 65535); ok {
					sp.Quorum = n
				}
			}
		},
		"quorum_max": func(s *Statement) {
			if l.args(s, 1, 1) {
				if n, ok := l.intArg(s, 1, 0, 65535); ok {
					sp.QuorumMax = n
					if n == 0 {
						sp.QuorumMax = -1
					}
				}
			}
		},
		"delay":           delay(&sp.ForkDelay, &sp.TerminateDelay),
		"fork_delay":      delay(&sp.ForkDelay),
		"terminate_delay": delay(&sp.TerminateDelay),
		"full_command": func(s *Statement) {
			if l.args(s, 0, 0) {
				sp.FullCommand = true
			}
		},
	}, nil)
	if sp.Process == "" {
		l.errorf(s.Pos, "vrrp_track_process %s: no process: ignored", t.Name)
		return
	}
	if sp.QuorumMax < 0 && sp.Quorum > 0 {
		// keepalived's quorum_max 0 with a quorum: never up.
		l.errorf(s.Pos, "vrrp_track_process %s: quorum_max 0 with quorum %d can never be met", t.Name, sp.Quorum)
	}
	if sp.QuorumMax < 0 {
		sp.Quorum = -1
	}
	l.defTracker(s, kindProcess, t)
}

// track maps one entry of track_script / track_file / track_process:
// "NAME [weight W [reverse|noreverse]]", naming a tracker of kind
// defined before (keepalived's rule).
func (l *loader) track(e *Statement, kind trackerKind, lim int) (vigil.Track, bool) {
	name := e.Words[0]
	d, ok := l.trackers[name]
	if !ok || d.kind != kind {
		l.errorf(e.Pos, "%s %s is not defined (before this use): ignored", kind, name)
		return vigil.Track{}, false
	}
	tr := vigil.Track{Tracker: name}
	if len(e.Words) > 1 {
		w, rev, ok := l.weightArgs(e, 1, lim)
		if !ok {
			return vigil.Track{}, false
		}
		tr.Weight, tr.Reverse, tr.WeightSet = w, rev, true
	}
	d.used = true
	return tr, true
}

// trackHandlers map the track_script, track_file, track_process and
// track_interface blocks of an instance or a sync group.
func (l *loader) trackHandlers(ts *[]vigil.Track, tis *[]vigil.TrackInterface) map[string]handler {
	list := func(kind trackerKind, lim int) handler {
		return func(s *Statement) {
			if !l.needBlock(s, 0, 0) {
				return
			}
			for i := range s.Block {
				if tr, ok := l.track(&s.Block[i], kind, lim); ok {
					*ts = append(*ts, tr)
				}
			}
		}
	}
	return map[string]handler{
		"track_script":  list(kindScript, 253),
		"track_file":    list(kindFile, 254),
		"track_process": list(kindProcess, 254),
		"track_interface": func(s *Statement) {
			if !l.needBlock(s, 0, 0) {
				return
			}
			for i := range s.Block {
				e := &s.Block[i]
				ti := vigil.TrackInterface{Interface: e.Words[0]}
				if len(e.Words) > 1 {
					w, rev, ok := l.weightArgs(e, 1, 253)
					if !ok {
						continue
					}
					ti.Weight, ti.Reverse = w, rev
				}
				*tis = append(*tis, ti)
			}
		},
	}
}
