package vigildcmd

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/vigil-ha/vigil/notify"
)

// Env is what vigild takes from its surroundings; a zero field means the
// real thing. Tests replace the privileged and the timed parts.
type Env struct {
	Stdout, Stderr io.Writer
	// Signals delivers the signals vigild acts on; nil means os/signal's
	// SIGHUP, SIGTERM, SIGINT, SIGUSR1, SIGUSR2 and JSONSignal.
	Signals <-chan os.Signal
	// Build makes the Supervisor; nil means Linux.
	Build Builder
	// Speaker makes the BGP speaker of a bgp block over the Supervisor;
	// nil means NewSpeaker (package bgp).
	Speaker SpeakerBuilder
	// Notify sends a state to systemd (sd_notify); nil means
	// sd_notify (go-systemd), which does nothing outside systemd.
	Notify func(state string) error
	// Now is the wall clock (status: since when); nil means time.Now.
	Now func() time.Time
	// Monotonic is CLOCK_MONOTONIC in µs, for sd_notify's
	// MONOTONIC_USEC; nil means the kernel's.
	Monotonic func() int64
	// DumpDir is where SIGUSR1 and SIGUSR2 write; empty means $TMPDIR,
	// or /tmp, as keepalived.
	DumpDir string
	// RunDir is where the pid files are by default (keepalived's
	// RUNSTATEDIR); empty means /run.
	RunDir string
	// Pid is vigild's pid for the pid files; zero means os.Getpid().
	Pid int
	// Proc looks processes up for the pid files; nil means /proc.
	Proc ProcLookup
	// Hostname gives the default config ID; nil means os.Hostname.
	Hostname func() (string, error)
	// LookupUser resolves scripts' users; nil means notify.LookupUser.
	LookupUser func(name, group string, supplementary bool) (*notify.User, error)
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(key string) string
	// WatchdogInterval is systemd's watchdog interval, for the parent of
	// --process-model=keepalived (a single process's Supervisor reads
	// WATCHDOG_USEC itself); zero means WATCHDOG_USEC's, negative none.
	WatchdogInterval time.Duration
	// Launch starts the children of --process-model=keepalived; nil
	// means re-executing this program (Linux).
	Launch launcher
	// Trim gives the idle heap back to the OS once a start, a reload or
	// a burst of transitions has settled (memtrim.DefaultDelay after the
	// last); nil means debug.FreeOSMemory.
	Trim func()
	// SetGCPercent sets the garbage collector's target, as
	// debug.SetGCPercent (nil) does: raised to SpellGCPercent from the
	// first transition of a spell until its trim, unless GOGC is set
	// (memtrim.Config.SpellGCPercent).
	SetGCPercent func(int) int
}

// SpellGCPercent is vigild's garbage collector target (GOGC) during a
// spell of transitions (a start, a reload, a failover), from the first
// transition until the trim 10 s after the last: a 200-VRID mass
// failover then runs without collections inside its burst
// (bench/README.md, "Mass failover, second look"). The trim puts the
// target back (Go's default, 100, or the GOGC environment variable's:
// with GOGC set vigild leaves the target alone) and returns the heap.
const SpellGCPercent = 400

// JSONSignal is keepalived's JSON signal (glibc's SIGRTMIN+2): vigild
// writes vigild.json for it.
const JSONSignal = syscall.Signal(36)

func (e Env) withDefaults() Env {
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	if e.Build == nil {
		e.Build = Linux
	}
	if e.Speaker == nil {
		e.Speaker = NewSpeaker
	}
	if e.Notify == nil {
		e.Notify = func(state string) error {
			_, err := sd.SdNotify(false, state)
			return err
		}
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Monotonic == nil {
		e.Monotonic = monotonic
	}
	if e.DumpDir == "" {
		e.DumpDir = os.Getenv("TMPDIR")
		if e.DumpDir == "" {
			e.DumpDir = "/tmp"
		}
	}
	if e.RunDir == "" {
		e.RunDir = "/run"
	}
	if e.Pid == 0 {
		e.Pid = os.Getpid()
	}
	if e.Proc == nil {
		e.Proc = procByPid
	}
	if e.Hostname == nil {
		e.Hostname = os.Hostname
	}
	if e.Getenv == nil {
		e.Getenv = os.Getenv
	}
	return e
}

// Main runs vigild with the command line args (without the program's
// name) and returns its exit status.
func Main(args []string, env Env) int {
	env = env.withDefaults()
	o, err := Parse(args)
	if err != nil {
		fmt.Fprintln(env.Stderr, err)
		fmt.Fprintln(env.Stderr, "Try 'vigild --help'.")
		return ExitFatal
	}
	for _, w := range o.Warnings {
		fmt.Fprintln(env.Stderr, w)
	}
	switch {
	case o.Help:
		usage(env.Stderr, &o)
		return ExitOK
	case o.Version:
		fmt.Fprintf(env.Stderr, "vigild %s\n", version())
		return ExitOK
	case o.Signum != "":
		return signum(env, o.Signum)
	case o.Command != "":
		return runClient(&o, &env)
	case o.ConfigTest:
		return configTest(&o, &env)
	}
	if env.Signals == nil {
		ch := make(chan os.Signal, 8)
		sigs := []os.Signal{syscall.SIGHUP, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2, JSONSignal}
		if o.IgnoreSIGINT {
			signal.Ignore(syscall.SIGINT)
		} else {
			sigs = append(sigs, syscall.SIGINT)
		}
		signal.Notify(ch, sigs...)
		defer signal.Stop(ch)
		env.Signals = ch
	}
	if o.ProcessModel == ModelKeepalived && o.Child == "" {
		return runParent(&o, &env, args)
	}
	return runDaemon(&o, &env)
}

// version is vigil's module version as the binary records it.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path == "github.com/vigil-ha/vigil" {
			return bi.Main.Version + " (" + bi.GoVersion + ")"
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/vigil-ha/vigil" {
				return d.Version + " (" + bi.GoVersion + ")"
			}
		}
	}
	return "(unknown)"
}

// signum is --signum: keepalived's signal names, for
// `kill -s $(vigild --signum=RELOAD)`.
func signum(env Env, name string) int {
	sigs := map[string]syscall.Signal{"STOP": syscall.SIGTERM, "RELOAD": syscall.SIGHUP,
		"DATA": syscall.SIGUSR1, "STATS": syscall.SIGUSR2, "JSON": JSONSignal}
	if s, ok := sigs[name]; ok {
		fmt.Fprintf(env.Stdout, "%d\n", int(s))
		return ExitOK
	}
	if name == "STATS_CLEAR" || name == "TDUMP" {
		fmt.Fprintf(env.Stderr, "not supported by vigild: --signum=%s\n", name)
		return ExitFatal
	}
	fmt.Fprintf(env.Stderr, "Unknown sigfunc %s\n", name)
	return ExitFatal
}

// newLogger logs as text to w: Info, or Debug with -D twice.
func newLogger(w io.Writer, o *Options) *slog.Logger {
	lvl := slog.LevelInfo
	if o.LogDetail > 1 {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}

func usage(w io.Writer, o *Options) {
	if o.Command != "" {
		fmt.Fprint(w, `Usage: vigild status [--json] [--control-socket PATH]
       vigild reload [--control-socket PATH]
       vigild dump [--control-socket PATH]

  status   the instances (state, priority, master, since when) and the
           virtual servers (quorum, real servers' health, weight, error)
  reload   reload the configuration, as SIGHUP; prints what changed or
           every error (exit 1: the running configuration is kept)
  dump     the state dump SIGUSR1 writes to keepalived.data
`)
		return
	}
	var b strings.Builder
	b.WriteString(`Usage: vigild [OPTION...]
       vigild status|reload|dump [--json] [--control-socket PATH]

keepalived's options (keepalived(8)):
  -f, --use-file=FILE          configuration file (default ` + DefaultConfigFile + `)
  -P, --vrrp                   run only the VRRP side (drop virtual servers)
  -C, --check                  run only the checkers side (drop VRRP instances)
  -l, --log-console            accepted: vigild always logs to stderr
  -D, --log-detail             accepted; twice: debug logs
  -S, --log-facility=FACILITY  accepted (0-7, local0-7, user, daemon): no syslog
  -G, --no-syslog, -B, --no_bfd   accepted, no effect
  -R, --dont-respawn           with --process-model=keepalived: a child that
                               dies or stalls stops vigild (exit 1)
      --all                    with --process-model=keepalived: start both
                               children even if one side has nothing to run
  -n, --dont-fork              accepted: vigild never forks
  -e, --all-config             every included file must exist
  -I, --dont-release-ipvs      leave the virtual servers in IPVS on exit
  -d, --dump-conf              log the configuration at start
  -p, --pid=FILE               pid file (default ` + DefaultPidFile + `; use_pid_dir,
                               instance and net_namespace name them as keepalived)
  -r, --vrrp_pid=FILE          VRRP pid file, vigild's pid or its VRRP child's
                               (default ` + DefaultVRRPPidFile + `)
  -c, --checkers_pid=FILE      checkers pid file, vigild's pid or its checker
                               child's (default ` + DefaultCheckPidFile + `)
  -t, --config-test[=FILE]     check the configuration and exit: 0 good,
                               4 cannot run, 5 errors, 6 scripts without
                               enable_script_security; problems to stderr or FILE
  -s, --namespace=NAME         run in the network namespace /run/netns/NAME
  -i, --config-id=ID           config ID for @ID lines (default: short host name)
      --signum=SIGFUNC         print the signal number of STOP, RELOAD, DATA,
                               STATS or JSON and exit
      --ignore-sigint          do not stop on SIGINT
  -v, --version                print the version and exit
  -h, --help                   print this and exit

vigild's own:
      --metrics-address=ADDR   serve /metrics (Prometheus) and /state (JSON)
      --control-socket=PATH    control socket (default ` + DefaultControlSocket + `;
                               "none": no socket)
      --process-model=MODEL    single (default): one process; keepalived: a
                               parent with a VRRP child and a checker child,
                               respawned when they die or stall
      --child-deadline=DUR     a child silent this long is killed and
                               respawned (default 10s)

Signals: HUP reload, TERM/INT stop (a second one cuts the BGP drain),
USR1 state dump (keepalived.data and vigild.json), USR2 statistics
(keepalived.stats), in $TMPDIR or /tmp.
`)
	fmt.Fprint(w, b.String())
}
