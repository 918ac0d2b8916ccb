package vigildcmd

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/config"
	"github.com/vigil-ha/vigil/notify"
)

// Exit statuses: keepalived's (lib/scheduler.h: exit_code and, for -t,
// chk_exit_code).
const (
	ExitOK       = 0
	ExitFatal    = 1 // and a bad command line
	ExitConfig   = 2 // a configuration keepalived will not run
	ExitNoConfig = 6 // the configuration file is missing

	ExitTestCannotRun = 4 // -t: a fatal problem, or the file is missing
	ExitTestErrors    = 5 // -t: errors, but it would run
	ExitTestSecurity  = 6 // -t: scripts without enable_script_security
)

// securityViolation is keepalived's message for scripts configured
// without enable_script_security.
const securityViolation = "SECURITY VIOLATION - scripts are being executed but script_security not enabled."

// loaded is a configuration file read and mapped.
type loaded struct {
	cfg vigil.Config
	// diags are the warnings and the errors, warnings first.
	diags []*config.Error
	// missing: the file could not be found or opened (keepalived's
	// check_conf_file).
	missing error
	// other is a failure that is not a list of positioned problems.
	other    error
	fatal    bool // a problem keepalived will not run with
	errors   bool // problems keepalived runs with
	insecure bool // scripts without enable_script_security
}

// ok reports whether the configuration can be applied on a reload: no
// problem but warnings.
func (l *loaded) ok() bool {
	return l.missing == nil && l.other == nil && !l.fatal && !l.errors
}

// loadConfig reads o.ConfigFile as keepalived does: the file must
// exist, "@" lines follow the config ID, -e checks every include.
func loadConfig(o *Options, env *Env) *loaded {
	l := &loaded{}
	if _, err := os.Stat(o.ConfigFile); err != nil {
		l.missing = err
		return l
	}
	opts := config.LoadOptions{Read: config.Options{ConfigID: configID(o, env)}, LookupUser: env.LookupUser}
	if o.AllConfig {
		opts.Read.IncludeCheck = config.IncludeAll
	}
	cfg, warns, err := config.LoadFile(o.ConfigFile, opts)
	// vigild logs each transition itself, in keepalived's words
	// (logEvents): the routers' own line for it goes to Debug, so a
	// takeover formats and writes one line, not two.
	for i := range cfg.Instances {
		cfg.Instances[i].VRRP.TransitionLogLevel = slog.LevelDebug
	}
	l.cfg, l.diags = cfg, warns
	var list config.ErrorList
	switch {
	case err == nil:
	case errors.As(err, &list):
		l.diags = append(l.diags, list...)
		for _, e := range list {
			switch e.Severity {
			case config.SeverityFatal:
				l.fatal = true
			case config.SeverityError:
				l.errors = true
			}
		}
	default:
		l.other = err
	}
	l.insecure = !cfg.Global.ScriptSecurity.Enabled && hasScripts(&cfg)
	for _, e := range bgpModeProblems(o, &cfg) { // bgp.go
		l.diags = append(l.diags, e)
		l.fatal = l.fatal || e.Severity == config.SeverityFatal
	}
	return l
}

// configID is -i, or keepalived's default: the host name up to its
// first '.'.
func configID(o *Options, env *Env) string {
	if o.ConfigIDSet {
		return o.ConfigID
	}
	h, err := env.Hostname()
	if err != nil {
		return ""
	}
	h, _, _ = strings.Cut(h, ".")
	return h
}

// hasScripts reports whether cfg runs any script: notify scripts,
// vrrp_script and MISC_CHECK programs, the FIFOs' scripts.
func hasScripts(cfg *vigil.Config) bool {
	scripts := func(ss ...*notify.Script) bool {
		for _, s := range ss {
			if s != nil {
				return true
			}
		}
		return false
	}
	isExec := func(c check.Checker) bool {
		_, ok := c.(*check.Exec)
		return ok
	}
	for _, f := range []*notify.FIFOConfig{cfg.Global.NotifyFIFO, cfg.Global.VRRPNotifyFIFO, cfg.Global.LVSNotifyFIFO} {
		if f != nil && f.Script != nil {
			return true
		}
	}
	if scripts(cfg.Global.StartupScript, cfg.Global.ShutdownScript) {
		return true
	}
	for _, t := range cfg.Trackers {
		if t.Check != nil && isExec(t.Check.Checker) {
			return true
		}
	}
	for _, i := range cfg.Instances {
		n := i.Notify
		if scripts(n.Master, n.Backup, n.Fault, n.Stop, n.Deleted, n.Any) {
			return true
		}
	}
	for _, g := range cfg.SyncGroups {
		n := g.Notify
		if scripts(n.Master, n.Backup, n.Fault, n.Stop, n.Any) {
			return true
		}
	}
	for _, vs := range cfg.VirtualServers {
		if scripts(vs.QuorumUp, vs.QuorumDown) {
			return true
		}
		for _, rs := range vs.RealServers {
			if scripts(rs.NotifyUp, rs.NotifyDown) {
				return true
			}
			for _, c := range rs.Checks {
				if isExec(c.Checker) {
					return true
				}
			}
		}
	}
	return false
}

// formatDiag formats a problem as "file:line:col: severity: message",
// with its include chain.
func formatDiag(e *config.Error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: %s", e.Pos, e.Severity, e.Msg)
	for p := e.Pos.IncludedFrom; p != nil; p = p.IncludedFrom {
		fmt.Fprintf(&b, " (included from %s)", p)
	}
	return b.String()
}

// configTest is -t: every problem to stderr (or to -t's file, appended),
// and keepalived's exit status.
func configTest(o *Options, env *Env) int {
	w := env.Stderr
	if o.ConfigTestFile != "" {
		f, err := os.OpenFile(o.ConfigTestFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
		if err != nil {
			fmt.Fprintf(env.Stderr, "Unable to open config-test log file %s - %v\n", o.ConfigTestFile, err)
			return ExitFatal
		}
		defer f.Close()
		w = f
	}
	l := loadConfig(o, env)
	return reportTest(w, o, l)
}

func reportTest(w io.Writer, o *Options, l *loaded) int {
	if l.missing != nil {
		fmt.Fprintf(w, "%s: fatal: configuration file missing: %v\n", o.ConfigFile, l.missing)
		return ExitTestCannotRun
	}
	// In file order: the loader finds some problems late (sync groups
	// are resolved at the end, Validate runs last).
	diags := slices.Clone(l.diags)
	slices.SortStableFunc(diags, func(a, b *config.Error) int {
		return cmp.Or(strings.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
	for _, e := range diags {
		fmt.Fprintln(w, formatDiag(e))
	}
	switch {
	case l.other != nil:
		fmt.Fprintf(w, "%s: fatal: %v\n", o.ConfigFile, l.other)
		return ExitTestCannotRun
	case l.fatal:
		return ExitTestCannotRun
	case l.errors:
		return ExitTestErrors
	case l.insecure:
		fmt.Fprintf(w, "%s: error: %s\n", o.ConfigFile, securityViolation)
		return ExitTestSecurity
	}
	return ExitOK
}

// filter keeps the side of cfg -P or -C runs: -P (VRRP only) drops the
// virtual servers, -C (checkers only) the instances, sync groups,
// trackers and static addresses, routes and rules.
func filter(cfg vigil.Config, o *Options) vigil.Config {
	if o.VRRPOnly {
		cfg.VirtualServers, cfg.VirtualServerGroups = nil, nil
	}
	if o.CheckOnly {
		cfg.Instances, cfg.SyncGroups, cfg.Trackers, cfg.Static = nil, nil, nil, vigil.Static{}
	}
	if o.DontReleaseIPVS {
		cfg.Global.KeepIPVSOnExit = true
	}
	return cfg
}
