package process

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

//go:generate go tool stringer -type=ParamMatch,State -linecomment -output=enum_string.go

// ParamMatch says how a Spec's Params are compared with a process's
// parameters (its command line after argv[0]), as keepalived's
// param_match.
type ParamMatch int

const (
	// ParamMatchDefault is ParamMatchExact when Params is not empty; with
	// no Params, the parameters are not looked at (keepalived without
	// param_match).
	ParamMatchDefault ParamMatch = iota // default
	// ParamMatchExact: the parameters are exactly Params, no more; with
	// no Params, the process must have no parameters (keepalived's bare
	// param_match).
	ParamMatchExact // exact
	// ParamMatchInitial: the first len(Params) parameters are Params,
	// except that the last of them may be longer than configured (a
	// prefix); more parameters may follow. keepalived's param_match
	// initial.
	ParamMatchInitial // initial
	// ParamMatchPartial: the first len(Params) parameters are exactly
	// Params; more may follow. keepalived's param_match partial.
	ParamMatchPartial // partial
)

// State is a Spec's debounced state.
type State int

const (
	// StateUnknown: the Tracker has not yet scanned /proc.
	StateUnknown State = iota // unknown
	// StateUp: the number of matching processes is within [Quorum,
	// QuorumMax] (keepalived's "quorum gained").
	StateUp // up
	// StateDown: it is not (keepalived's "quorum lost").
	StateDown // down
)

// MaxComm is the longest process name (comm) the kernel keeps, in bytes
// (TASK_COMM_LEN - 1). A Spec matching on comm with a longer Process
// could never match.
const MaxComm = 15

// Spec is one tracked process: keepalived's vrrp_track_process block. Its
// state is up while the number of running processes that match it is
// within [Quorum, QuorumMax]. keepalived's weight (and reverse) are not
// here: they say what the tracker's user does with the state.
type Spec struct {
	// Name identifies the spec in Changes, Status and errors
	// (keepalived's vrrp_track_process NAME). Required, unique.
	Name string
	// Process is what a process must be named: its comm (the name in
	// /proc/PID/comm and /proc/PID/stat, at most MaxComm bytes, set from
	// the executable's file name by exec and changeable by the process),
	// or, when the command line is used (see FullCommand), its argv[0]
	// exactly as the process was started ("/usr/sbin/haproxy" and
	// "haproxy" differ). Matching is exact: "ssh" does not match sshd.
	// Required.
	Process string
	// Params are the parameters to compare with the process's command
	// line after argv[0], as ParamMatch says. Params that are not empty
	// make the spec use the command line, as in keepalived ("process NAME
	// PARAM..."). A parameter may be empty but contains no NUL byte.
	Params []string
	// ParamMatch says how Params are compared. A ParamMatch other than
	// ParamMatchDefault makes the spec use the command line, as
	// keepalived's param_match does.
	ParamMatch ParamMatch
	// FullCommand makes the spec match Process against argv[0] of
	// /proc/PID/cmdline rather than the comm (keepalived's full_command).
	// It is implied by Params and by ParamMatch, as in keepalived.
	FullCommand bool
	// Quorum is the least number of matching processes for the state to
	// be up. Zero means the default: 1, or 0 when QuorumMax is negative.
	// Negative means none: the state is up with no process at all (then
	// QuorumMax must not be unlimited, or the state could never be down).
	Quorum int
	// QuorumMax is the largest number of matching processes for the state
	// to be up. Zero means the default: unlimited. Negative means none:
	// the state is up only while no process matches (keepalived's
	// quorum_max 0: "the process must not run").
	QuorumMax int
	// ForkDelay is how long the count must stay within the quorum before
	// the state goes up (keepalived's fork_delay); if the count leaves
	// the quorum meanwhile, the state stays down and nothing is
	// published. Zero means the default, none; negative means none.
	ForkDelay time.Duration
	// TerminateDelay is how long the count must stay out of the quorum
	// before the state goes down (keepalived's terminate_delay), so a
	// process restarted within it causes no change. Zero means the
	// default, none; negative means none. keepalived's delay sets both.
	TerminateDelay time.Duration
}

// usesCmdline reports whether s matches on the command line rather than
// the comm.
func (s *Spec) usesCmdline() bool {
	return s.FullCommand || len(s.Params) > 0 || s.ParamMatch != ParamMatchDefault
}

// bounds returns the resolved quorum: up while lo <= count <= hi.
func (s *Spec) bounds() (lo, hi int) {
	hi = s.QuorumMax
	switch {
	case hi == 0:
		hi = math.MaxInt
	case hi < 0:
		hi = 0
	}
	lo = s.Quorum
	switch {
	case lo == 0 && s.QuorumMax < 0:
		lo = 0
	case lo == 0:
		lo = 1
	case lo < 0:
		lo = 0
	}
	return lo, hi
}

// Config configures a Tracker.
type Config struct {
	// Specs are the tracked processes, all served by one process
	// connector socket and one /proc scan. At least one.
	Specs []Spec
	// ProcRoot is where procfs is mounted. Empty means the default,
	// "/proc". It must be the procfs of the initial PID namespace, whose
	// process IDs the process connector reports.
	ProcRoot string
	// ReceiveBuffer is the size in bytes of the process connector
	// socket's receive buffer, where the kernel queues process events
	// while the Tracker is busy. Zero means the default, 1 MiB; negative
	// means the kernel's default (net.core.rmem_default). Each time
	// events are lost to a full buffer the Tracker doubles it, up to 64
	// MiB (with CAP_NET_ADMIN; without, up to net.core.rmem_max).
	ReceiveBuffer int
	// Logger receives state changes (Info), resyncs (Warn) and errors
	// (sampled: the 1st and every 100th of a kind). Nil discards.
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultProcRoot      = "/proc"
	DefaultReceiveBuffer = 1 << 20
	maxReceiveBuffer     = 64 << 20
)

// problems collects the *FieldErrors of one object.
type problems struct {
	obj  string
	errs []error
}

func (p *problems) add(field, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{Object: p.obj, Field: field, Reason: fmt.Sprintf(format, args...)})
}

// Validate reports every invalid field of c and of its Specs, each as a
// *FieldError wrapping ErrInvalid, joined. New calls it.
func (c Config) Validate() error {
	p := problems{obj: "config"}
	if len(c.Specs) == 0 {
		p.add("Specs", "none, want at least one")
	}
	errs := p.errs
	seen := make(map[string]bool, len(c.Specs))
	for i, s := range c.Specs {
		obj := "spec " + s.Name
		if s.Name == "" {
			obj = "spec #" + strconv.Itoa(i)
		}
		sp := problems{obj: obj}
		if s.Name != "" && seen[s.Name] {
			sp.add("Name", "%q is used by an earlier spec", s.Name)
		}
		seen[s.Name] = true
		s.validate(&sp)
		errs = append(errs, sp.errs...)
	}
	return errors.Join(errs...)
}

// Validate reports every invalid field of s, each as a *FieldError
// wrapping ErrInvalid, joined. Config.Validate calls it for each spec,
// and also reports duplicate names.
func (s Spec) Validate() error {
	p := problems{obj: "spec " + s.Name}
	s.validate(&p)
	return p.err()
}

func (p *problems) err() error { return errors.Join(p.errs...) }

func (s *Spec) validate(p *problems) {
	if s.Name == "" {
		p.add("Name", "empty")
	}
	switch {
	case s.Process == "":
		p.add("Process", "empty")
	case strings.IndexByte(s.Process, 0) >= 0:
		p.add("Process", "contains a NUL byte")
	case !s.usesCmdline() && len(s.Process) > MaxComm:
		p.add("Process", "%q is longer than a process name can be (%d bytes): set FullCommand to match argv[0]", s.Process, MaxComm)
	}
	for i, a := range s.Params {
		if strings.IndexByte(a, 0) >= 0 {
			p.add("Params", "parameter %d contains a NUL byte", i)
		}
	}
	if s.ParamMatch < ParamMatchDefault || s.ParamMatch > ParamMatchPartial {
		p.add("ParamMatch", "unknown value %d", int(s.ParamMatch))
	}
	lo, hi := s.bounds()
	switch {
	case lo > hi:
		p.add("Quorum", "%d is above QuorumMax %d", lo, hi)
	case lo == 0 && hi == math.MaxInt:
		p.add("Quorum", "none required and QuorumMax unlimited: the state could never be down")
	}
}
