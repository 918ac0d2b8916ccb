package config

import (
	"time"

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
}

// daemonGlobals adds to hs the global_defs keywords on the daemon
// around the Supervisor: the startup and shutdown scripts, ...
func (l *loader) daemonGlobals(hs map[string]handler) {
	g := &l.cfg.Global
	hs["startup_script"] = l.startStopScript(&g.StartupScript, &l.d.startTO, "startup")
	hs["startup_script_timeout"] = l.startStopTimeout(&g.StartupScript, &l.d.startTO)
	hs["shutdown_script"] = l.startStopScript(&g.ShutdownScript, &l.d.stopTO, "shutdown")
	hs["shutdown_script_timeout"] = l.startStopTimeout(&g.ShutdownScript, &l.d.stopTO)
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
