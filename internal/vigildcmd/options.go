package vigildcmd

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Defaults, as keepalived's (RUNSTATEDIR /run, SYSCONFDIR /etc).
const (
	DefaultConfigFile    = "/etc/keepalived/keepalived.conf"
	DefaultPidFile       = "/run/keepalived.pid"
	DefaultVRRPPidFile   = "/run/vrrp.pid"
	DefaultCheckPidFile  = "/run/checkers.pid"
	DefaultControlSocket = "/run/vigild/control.sock"
)

// Options are vigild's command line.
type Options struct {
	// Command is "" for the daemon (and -t, -v, -h), or the subcommand:
	// "status", "reload", "dump".
	Command string
	// JSON: status --json.
	JSON bool

	ConfigFile string // -f
	// VRRPOnly (-P) drops the virtual servers; CheckOnly (-C) the
	// instances, sync groups, trackers and static addresses. Both given
	// run nothing, as keepalived.
	VRRPOnly, CheckOnly bool
	LogConsole          bool   // -l: accepted; vigild always logs to stderr
	LogDetail           int    // -D, counted: twice logs at debug level
	LogFacility         string // -S: accepted and checked; no syslog
	DontFork            bool   // -n: accepted; vigild never forks
	DumpConf            bool   // -d
	// PidFile (-p), VRRPPidFile (-r), CheckersPidFile (-c): empty
	// means keepalived's default, which the configuration's
	// use_pid_dir, net_namespace and instance change (pidFiles).
	PidFile, VRRPPidFile, CheckersPidFile string
	ConfigTest                            bool   // -t
	ConfigTestFile                        string // -t FILE / --config-test=FILE
	Namespace                             string // -s, --namespace
	ConfigID                              string // -i; default the host name to its first '.'
	ConfigIDSet                           bool
	AllConfig                             bool // -e: every include must match
	DontReleaseIPVS                       bool // -I
	IgnoreSIGINT                          bool // --ignore-sigint
	Version, Help                         bool
	Signum                                string // --signum: print a signal's number and exit

	// All (--all): with ProcessModel "keepalived", start each child
	// even when the configuration has nothing for its side, as
	// keepalived's --all.
	All bool
	// DontRespawn (-R): with ProcessModel "keepalived", a child that
	// dies or stalls is not respawned: the parent stops the other and
	// exits 1.
	DontRespawn bool

	// vigild's own.
	MetricsAddress string // --metrics-address: "" for none
	ControlSocket  string // --control-socket: "none" for none
	// ProcessModel (--process-model) is ModelSingle (the default: one
	// process) or ModelKeepalived (a parent watching a VRRP child and a
	// checker child: split.go).
	ProcessModel string
	// ChildDeadline (--child-deadline) is how long a child may go
	// without a heartbeat before its parent kills and respawns it;
	// DefaultChildDeadline if not given.
	ChildDeadline time.Duration
	// Child (--child, internal) is set by the parent in its children's
	// command lines: "vrrp" or "checker".
	Child string
	// Warnings are options accepted with a remark (an invalid -S).
	Warnings []string
	// problems are invalid option values found by set functions.
	problems []string
}

// Process models (--process-model).
const (
	ModelSingle     = "single"
	ModelKeepalived = "keepalived"
)

// DefaultChildDeadline is --child-deadline's default.
const DefaultChildDeadline = 10 * time.Second

func setProcessModel(o *Options, v string) {
	if v != ModelSingle && v != ModelKeepalived {
		o.problems = append(o.problems, fmt.Sprintf("--process-model: %q, want %s or %s", v, ModelSingle, ModelKeepalived))
		return
	}
	o.ProcessModel = v
}

func setChildDeadline(o *Options, v string) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 10*time.Millisecond {
		o.problems = append(o.problems, fmt.Sprintf("--child-deadline: %q, want a duration of at least 10ms (such as 10s)", v))
		return
	}
	o.ChildDeadline = d
}

func setChild(o *Options, v string) {
	if v != childVRRP.String() && v != childChecker.String() {
		o.problems = append(o.problems, fmt.Sprintf("--child: %q, want vrrp or checker (set by vigild's parent process)", v))
		return
	}
	// A child runs its side only: the VRRP child as -P, the checker
	// child as -C.
	o.Child = v
	o.VRRPOnly, o.CheckOnly = v == childVRRP.String(), v == childChecker.String()
}

// argKind says whether an option takes an argument.
type argKind uint8

const (
	noArg argKind = iota
	requiredArg
	optionalArg // only attached: -tFILE, --config-test=FILE
)

// option is one command-line option.
type option struct {
	short byte
	long  string
	arg   argKind
	// set applies the option; nil with unsupported set.
	set func(o *Options, v string)
	// unsupported says why vigild refuses the option.
	unsupported string
}

// daemonOptions are keepalived(8)'s options (keepalived/core/main.c,
// parse_cmdline) and vigild's own.
var daemonOptions = []option{
	{short: 'f', long: "use-file", arg: requiredArg, set: func(o *Options, v string) { o.ConfigFile = v }},
	{short: 'P', long: "vrrp", set: func(o *Options, _ string) { o.VRRPOnly = true }},
	{short: 'C', long: "check", set: func(o *Options, _ string) { o.CheckOnly = true }},
	{short: 'B', long: "no_bfd", set: func(*Options, string) {}},
	{long: "all", set: func(o *Options, _ string) { o.All = true }},
	{short: 'l', long: "log-console", set: func(o *Options, _ string) { o.LogConsole = true }},
	{short: 'D', long: "log-detail", set: func(o *Options, _ string) { o.LogDetail++ }},
	{short: 'S', long: "log-facility", arg: requiredArg, set: setFacility},
	{short: 'g', long: "log-file", arg: optionalArg, unsupported: "vigild logs to stderr (the journal under systemd)"},
	{long: "flush-log-file", unsupported: "vigild logs to stderr (the journal under systemd)"},
	{short: 'G', long: "no-syslog", set: func(*Options, string) {}},
	{short: 'e', long: "all-config", set: func(o *Options, _ string) { o.AllConfig = true }},
	{short: 'u', long: "umask", arg: requiredArg, unsupported: "set UMask= in the systemd unit"},
	{short: 'X', long: "release-vips", unsupported: "VIPs are released only when vigild stops"},
	{short: 'V', long: "dont-release-vrrp", unsupported: "vigild always removes its VIPs when it stops"},
	{short: 'I', long: "dont-release-ipvs", set: func(o *Options, _ string) { o.DontReleaseIPVS = true }},
	{short: 'R', long: "dont-respawn", set: func(o *Options, _ string) { o.DontRespawn = true }},
	{short: 'n', long: "dont-fork", set: func(o *Options, _ string) { o.DontFork = true }},
	{short: 'd', long: "dump-conf", set: func(o *Options, _ string) { o.DumpConf = true }},
	{short: 'p', long: "pid", arg: requiredArg, set: func(o *Options, v string) { o.PidFile = v }},
	{short: 'r', long: "vrrp_pid", arg: requiredArg, set: func(o *Options, v string) { o.VRRPPidFile = v }},
	{short: 'c', long: "checkers_pid", arg: requiredArg, set: func(o *Options, v string) { o.CheckersPidFile = v }},
	{short: 'T', long: "genhash", unsupported: "genhash is not part of vigild"},
	{short: 'a', long: "address-monitoring", unsupported: "address changes are logged at debug level (-DD)"},
	{short: 'b', long: "bfd_pid", arg: requiredArg, unsupported: "vigild has no BFD"},
	{short: 'x', long: "snmp", unsupported: "use --metrics-address (Prometheus)"},
	{short: 'A', long: "snmp-agent-socket", arg: requiredArg, unsupported: "use --metrics-address (Prometheus)"},
	{short: 'm', long: "core-dump", unsupported: "set LimitCORE= in the systemd unit"},
	{short: 'M', long: "core-dump-pattern", arg: optionalArg, unsupported: "set LimitCORE= in the systemd unit"},
	{short: 's', long: "namespace", arg: requiredArg, set: func(o *Options, v string) { o.Namespace = v }},
	{short: 'i', long: "config-id", arg: requiredArg, set: func(o *Options, v string) { o.ConfigID, o.ConfigIDSet = v, true }},
	{long: "signum", arg: requiredArg, set: func(o *Options, v string) { o.Signum = v }},
	{short: 't', long: "config-test", arg: optionalArg, set: func(o *Options, v string) { o.ConfigTest, o.ConfigTestFile = true, v }},
	{long: "config-fd", arg: requiredArg, unsupported: "keepalived's internal option"},
	{long: "ignore-sigint", set: func(o *Options, _ string) { o.IgnoreSIGINT = true }},
	{long: "perf", arg: optionalArg, unsupported: "use Go's pprof tools"},
	{long: "debug", arg: optionalArg, unsupported: "use -DD for debug logs"},
	{long: "no-mem-check", unsupported: "keepalived's memory-debugging builds only"},
	{short: 'L', long: "mem-check-log", unsupported: "keepalived's memory-debugging builds only"},
	{short: 'O', long: "openssl-mem-check", unsupported: "keepalived's memory-debugging builds only"},
	{short: 'v', long: "version", set: func(o *Options, _ string) { o.Version = true }},
	{short: 'h', long: "help", set: func(o *Options, _ string) { o.Help = true }},
	{long: "metrics-address", arg: requiredArg, set: func(o *Options, v string) { o.MetricsAddress = v }},
	{long: "control-socket", arg: requiredArg, set: func(o *Options, v string) { o.ControlSocket = v }},
	{long: "process-model", arg: requiredArg, set: setProcessModel},
	{long: "child-deadline", arg: requiredArg, set: setChildDeadline},
	{long: "child", arg: requiredArg, set: setChild},
}

// clientOptions are the subcommands' options.
var clientOptions = []option{
	{long: "control-socket", arg: requiredArg, set: func(o *Options, v string) { o.ControlSocket = v }},
	{long: "json", set: func(o *Options, _ string) { o.JSON = true }},
	{short: 'h', long: "help", set: func(o *Options, _ string) { o.Help = true }},
}

// Commands are the subcommands, talking to a running vigild.
var commands = []string{"status", "reload", "dump"}

// syslog facilities keepalived's -S accepts by name.
var facilityNames = []string{"user", "daemon"}

func setFacility(o *Options, v string) {
	n := v
	if rest, ok := strings.CutPrefix(v, "local"); ok {
		n = rest
	}
	if d, err := strconv.ParseUint(n, 10, 8); err == nil && d <= 7 {
		o.LogFacility = v
		return
	}
	for _, f := range facilityNames {
		if v == f {
			o.LogFacility = v
			return
		}
	}
	// keepalived says so and goes on.
	o.Warnings = append(o.Warnings, fmt.Sprintf("Invalid log facility '%s'", v))
}

// A UsageError is a command line vigild does not accept; keepalived
// exits 1 for one.
type UsageError struct{ Problems []string }

func (e *UsageError) Error() string { return strings.Join(e.Problems, "\n") }

// Parse reads the command line args (without the program name) as
// keepalived's getopt_long does: short options grouped ("-nlD"), their
// arguments attached or next ("-fFILE", "-f FILE"), long options and
// their unambiguous prefixes ("--use-file=FILE", "--use FILE"), optional
// arguments only attached, "--" ending the options. A first argument
// naming a subcommand (status, reload, dump) selects it and its options.
// It returns every problem at once, as a *UsageError.
func Parse(args []string) (Options, error) {
	o := Options{ConfigFile: DefaultConfigFile, ControlSocket: DefaultControlSocket,
		ProcessModel: ModelSingle, ChildDeadline: DefaultChildDeadline}
	table := daemonOptions
	if len(args) > 0 {
		for _, c := range commands {
			if args[0] == c {
				o.Command, table, args = c, clientOptions, args[1:]
				break
			}
		}
	}
	var problems, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			opt, problem := findLong(table, name)
			if opt == nil {
				problems = append(problems, problem)
				continue
			}
			switch {
			case opt.arg == noArg && hasVal:
				problems = append(problems, fmt.Sprintf("Option --%s takes no parameter", opt.long))
				continue
			case opt.arg == requiredArg && !hasVal:
				if i+1 >= len(args) {
					problems = append(problems, "Missing parameter for option --"+opt.long)
					continue
				}
				i++
				val = args[i]
			}
			if opt.arg == requiredArg && val == "" {
				problems = append(problems, "Missing parameter for option --"+opt.long)
				continue
			}
			problems = apply(&o, opt, val, problems)
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				opt := findShort(table, a[j])
				if opt == nil {
					problems = append(problems, fmt.Sprintf("Unknown option -%c", a[j]))
					continue
				}
				val := ""
				switch opt.arg {
				case requiredArg:
					switch {
					case j+1 < len(a):
						val = a[j+1:]
					case i+1 < len(args):
						i++
						val = args[i]
					default:
						problems = append(problems, fmt.Sprintf("Missing parameter for option -%c", a[j]))
						j = len(a)
						continue
					}
					j = len(a)
				case optionalArg:
					val, j = a[j+1:], len(a)
				}
				problems = apply(&o, opt, val, problems)
			}
		default:
			rest = append(rest, a)
		}
	}
	problems = append(problems, o.problems...)
	o.problems = nil
	if len(rest) > 0 {
		// keepalived prints them and goes on; a mistyped subcommand
		// would then start a daemon.
		problems = append(problems, fmt.Sprintf("Unexpected argument(s): %s (the subcommands are %s)",
			strings.Join(rest, " "), strings.Join(commands, ", ")))
	}
	if len(problems) > 0 {
		return o, &UsageError{Problems: problems}
	}
	return o, nil
}

func apply(o *Options, opt *option, val string, problems []string) []string {
	if opt.unsupported != "" {
		return append(problems, fmt.Sprintf("not supported by vigild: %s (%s)", opt.name(), opt.unsupported))
	}
	opt.set(o, val)
	return problems
}

// name is "-f/--use-file" or "--all".
func (opt *option) name() string {
	if opt.short == 0 {
		return "--" + opt.long
	}
	return fmt.Sprintf("-%c/--%s", opt.short, opt.long)
}

func findShort(table []option, c byte) *option {
	for i := range table {
		if table[i].short == c {
			return &table[i]
		}
	}
	return nil
}

// findLong finds the option named name or, as getopt_long, the one
// option name is a prefix of.
func findLong(table []option, name string) (*option, string) {
	var found []*option
	for i := range table {
		if table[i].long == name {
			return &table[i], ""
		}
		if name != "" && strings.HasPrefix(table[i].long, name) {
			found = append(found, &table[i])
		}
	}
	switch len(found) {
	case 0:
		return nil, "Unknown option --" + name
	case 1:
		return found[0], ""
	}
	names := make([]string, len(found))
	for i, f := range found {
		names[i] = "--" + f.long
	}
	return nil, fmt.Sprintf("Option --%s is ambiguous (%s)", name, strings.Join(names, ", "))
}
