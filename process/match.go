package process

import (
	"bytes"
	"math"
	"strings"
	"time"
)

// procInfo is what the Tracker reads of one process.
type procInfo struct {
	comm    string
	state   byte   // the state letter of /proc/PID/stat: R, S, D, Z, ...
	cmdline []byte // the start of /proc/PID/cmdline; nil if not read
}

// gone reports whether the process has exited: a zombie (Z) or dead (X)
// process is not counted, as in keepalived.
func (p procInfo) gone() bool { return p.state == 'Z' || p.state == 'X' || p.state == 'x' }

// spec is a validated Spec made ready for matching.
type spec struct {
	name      string
	process   string
	cmdline   bool       // match argv[0] and parameters, not the comm
	checkArgs bool       // compare parameters (keepalived's param_match set)
	mode      ParamMatch // Exact, Initial or Partial when checkArgs
	params    []byte     // the Params, each followed by a NUL, as in cmdline
	hasParams bool
	lo, hi    int // the state is up while lo <= count <= hi
	forkDelay time.Duration
	termDelay time.Duration
}

func compile(s Spec) *spec {
	c := &spec{name: s.Name, process: s.Process, cmdline: s.usesCmdline(), mode: s.ParamMatch}
	if len(s.Params) > 0 {
		c.hasParams = true
		c.params = []byte(strings.Join(s.Params, "\x00") + "\x00")
		if c.mode == ParamMatchDefault {
			c.mode = ParamMatchExact
		}
	}
	c.checkArgs = c.mode != ParamMatchDefault
	c.lo, c.hi = s.bounds()
	c.forkDelay = max(s.ForkDelay, 0)
	c.termDelay = max(s.TerminateDelay, 0)
	return c
}

// cmdlineNeed is how many bytes of /proc/PID/cmdline matching s needs:
// one more than argv[0] and the parameters it compares, so that a longer
// command line is seen to be longer.
func (s *spec) cmdlineNeed() int {
	if !s.cmdline {
		return 0
	}
	return len(s.process) + 1 + len(s.params) + 1
}

// up reports whether count is within the quorum.
func (s *spec) up(count int) bool { return count >= s.lo && count <= s.hi }

// match reports whether the process p matches s: keepalived's test in
// read_procs and check_process (track_process.c).
func (s *spec) match(p procInfo) bool {
	if p.gone() {
		return false
	}
	if !s.cmdline {
		return p.comm == s.process
	}
	argv0, args, _ := bytes.Cut(p.cmdline, []byte{0})
	if string(argv0) != s.process {
		return false
	}
	return !s.checkArgs || s.matchParams(args)
}

// matchParams is keepalived's check_params: args is the command line
// after argv[0] and its NUL (each parameter followed by a NUL), s.params
// the configured ones in the same form.
func (s *spec) matchParams(args []byte) bool {
	want := s.params
	switch s.mode {
	case ParamMatchExact:
		return bytes.Equal(args, want)
	case ParamMatchPartial:
		return bytes.HasPrefix(args, want)
	case ParamMatchInitial:
		if !s.hasParams {
			return true
		}
		// Without the final NUL: the last parameter may go on. A single
		// empty parameter needs one parameter, of any value.
		return len(args) >= len(want) && bytes.HasPrefix(args, want[:len(want)-1])
	}
	return true
}

// parseStat returns the comm and state letter of a /proc/PID/stat line:
// "PID (COMM) S ...". The comm may itself hold ") ", so it ends at the
// last ')'.
func parseStat(b []byte) (comm string, state byte, ok bool) {
	i := bytes.IndexByte(b, '(')
	j := bytes.LastIndexByte(b, ')')
	if i < 0 || j < i || j+2 >= len(b) || b[j+1] != ' ' {
		return "", 0, false
	}
	return string(b[i+1 : j]), b[j+2], true
}

// bound formats a quorum bound for logs.
func bound(n int) any {
	if n == math.MaxInt {
		return "unlimited"
	}
	return n
}
