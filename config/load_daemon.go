package config

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/notify"
)

// defaultStartStopTimeout is keepalived's startup_script_timeout and
// shutdown_script_timeout when a script is given without one
// (startup_shutdown_script in keepalived/core/global_parser.c).
const defaultStartStopTimeout = 10 * time.Second

// daemonState is what the keywords of load_daemon.go remember across
// statements.
type daemonState struct {
	// startTO, stopTO: startup_script_timeout, shutdown_script_timeout
	// (zero: not given).
	startTO, stopTO time.Duration
	// logAll: checker_log_all_failures, on for every checker mapped
	// after it (keepalived ORs it with each checker's log_all_failures).
	logAll bool
}

// daemonGlobals adds to hs the global_defs keywords on the daemon
// around the Supervisor: the startup and shutdown scripts, ...
// and the defaults of other blocks (checker_log_all_failures).
func (l *loader) daemonGlobals(hs map[string]handler) {
	g := &l.cfg.Global
	hs["startup_script"] = l.startStopScript(&g.StartupScript, &l.d.startTO, "startup")
	hs["startup_script_timeout"] = l.startStopTimeout(&g.StartupScript, &l.d.startTO)
	hs["shutdown_script"] = l.startStopScript(&g.ShutdownScript, &l.d.stopTO, "shutdown")
	hs["shutdown_script_timeout"] = l.startStopTimeout(&g.ShutdownScript, &l.d.stopTO)
	hs["rs_init_notifies"] = func(s *Statement) {
		if v, ok := l.boolArg(s); ok {
			g.RSInitNotifies = v
		}
	}
	hs["random_seed"] = func(s *Statement) {
		if l.args(s, 1, 1) {
			// Applied by Read as the file is read (define.go).
			l.intArg(s, 1, 0, math.MaxUint32)
		}
	}
	hs["dynamic_interfaces"] = func(s *Statement) {
		if !l.args(s, 0, 1) {
			return
		}
		if len(s.Words) == 2 && s.Words[1] != "allow_if_changes" {
			l.errorf(s.WordPos(1), "dynamic_interfaces: unknown option %q ignored", s.Words[1])
		}
		l.cur.why = "always on, with allow_if_changes: vigil follows interfaces by name through netlink, " +
			"whether or not they exist at start and whatever their index"
	}
	hs["json_version"] = func(s *Statement) {
		// keepalived's json_version_handler: 1 or 2, else an error and
		// the version stays.
		if l.args(s, 1, 1) {
			if n, ok := l.intArg(s, 1, 1, 2); ok {
				g.Daemon.JSONVersion = n
			}
			l.cur.why = "keepalived.json in keepalived's format; vigild.json too"
		}
	}
	hs["fifo_write_vrrp_states_on_reload"] = func(s *Statement) {
		if l.args(s, 0, 0) {
			g.FIFOStatesOnReload = true
		}
	}
	hs["checker_log_all_failures"] = func(s *Statement) {
		if v, ok := l.boolArg(s); ok {
			l.d.logAll = v
		}
	}
}

// startStopScript maps startup_script or shutdown_script: "SCRIPT [USER
// [GROUP]]", given once, its timeout the one given before or after it,
// or 10 s.
func (l *loader) startStopScript(dst **notify.Script, to *time.Duration, what string) handler {
	return func(s *Statement) {
		if *dst != nil {
			l.errorf(s.Pos, "%s: %s script already specified: ignored", s.Words[0], what)
			return
		}
		sc, ok := l.script(s)
		if !ok {
			return
		}
		sc.Timeout = defaultStartStopTimeout
		if *to > 0 {
			sc.Timeout = *to
		}
		*dst = sc
	}
}

// startStopTimeout maps startup_script_timeout or
// shutdown_script_timeout: whole seconds, 1..1000.
func (l *loader) startStopTimeout(dst **notify.Script, to *time.Duration) handler {
	return func(s *Statement) {
		if !l.args(s, 1, 1) {
			return
		}
		n, ok := l.intArg(s, 1, 1, 1000)
		if !ok {
			return
		}
		*to = time.Duration(n) * time.Second
		if *dst != nil {
			(*dst).Timeout = *to
		}
	}
}

// initFile maps a track_file's "init_file [VALUE] [overwrite]", in
// either order, VALUE 0 by default, as keepalived's
// track_file_init_handler: an invalid VALUE is an error and 0 is used,
// one outside -254..254 an error but used.
func (l *loader) initFile(dst **vigil.FileInit) handler {
	return func(s *Statement) {
		if !l.args(s, 0, -1) {
			return
		}
		in := &vigil.FileInit{}
		for i, w := range s.Words[1:] {
			switch {
			case w == "overwrite":
				in.Overwrite = true
			case w != "" && (w[0] == '-' || (w[0] >= '0' && w[0] <= '9')):
				n, err := strconv.Atoi(w)
				if err != nil {
					l.errorf(s.WordPos(i+1), "init_file: invalid value %q: 0 used", w)
					n = 0
				} else if n < -254 || n > 254 {
					l.errorf(s.WordPos(i+1), "init_file: value %d outside -254..254", n)
				}
				in.Value = n
			default:
				l.errorf(s.WordPos(i+1), "init_file: unknown option %q ignored", w)
			}
		}
		*dst = in
	}
}

// daemonTop adds, with add, the top-level keywords on the process that
// runs the Supervisor (vigil.Global.Daemon): net_namespace, instance,
// use_pid_dir and child_wait_time, as keepalived's global_parser.c (a second
// net_namespace or instance is an error and ignored).
func (l *loader) daemonTop(add func(kw string, h handler)) {
	d := &l.cfg.Global.Daemon
	name := func(dst *string, what, why string) handler {
		return func(s *Statement) {
			if !l.args(s, 1, 1) {
				return
			}
			l.cur.why = why
			switch w := s.Words[1]; {
			case *dst != "":
				l.errorf(s.WordPos(1), "%s: duplicate %s definition %q ignored", s.Words[0], what, w)
			case w == "." || w == ".." || strings.Contains(w, "/"):
				l.errorf(s.WordPos(1), "%s: invalid %s %q ignored: a name without '/'", s.Words[0], what, w)
			default:
				*dst = w
			}
		}
	}
	add("net_namespace", name(&d.NetNamespace, "namespace", "as vigild's -s/--namespace NAME, which wins: instances, VIPs and IPVS in /run/netns/NAME, "+
		"pid files in /run/keepalived/NAME; health checks connect from vigild's own namespace"))
	add("instance", name(&d.Instance, "instance", "pid files /run/keepalived/keepalived_NAME.pid, vrrp_NAME.pid, checkers_NAME.pid"))
	add("child_wait_time", func(s *Statement) {
		// keepalived's child_wait_handler: unsigned seconds.
		if !l.args(s, 1, 1) {
			return
		}
		if n, ok := l.intArg(s, 1, 0, math.MaxUint32); ok {
			d.ChildWaitTime = time.Duration(n) * time.Second
			l.cur.why = "vigild --process-model=keepalived: how long the parent waits for a child to stop (vigil's default 70 s, keepalived's 5 s)"
		}
	})
	add("use_pid_dir", func(s *Statement) {
		if l.args(s, 0, 0) {
			d.UsePidDir = true
			l.cur.why = "pid files in /run/keepalived"
		}
	})
}
