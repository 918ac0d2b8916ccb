package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// Defaults of a Script's durations, used when the field is zero.
const (
	// DefaultTimeout bounds a script's run. keepalived lets notify
	// scripts run for ever, but vigil runs the notifications of one key
	// one after another, so a script that hangs would hold back every
	// later notification of its key; a minute leaves room for the slow
	// ones (moving a cloud address, say).
	DefaultTimeout = time.Minute
	// DefaultKillDelay is the time between SIGTERM and SIGKILL: the
	// grace keepalived gives its scripts at shutdown and reload
	// (script_killall, then child_killed_thread a second later).
	DefaultKillDelay = time.Second
)

// scrubbed are the environment variables removed before a script runs,
// as keepalived's system_call_script removes them
// (keepalived/core/notify.c).
var scrubbed = [...]string{"IFS", "LD_PRELOAD", "LD_LIBRARY_PATH"}

// A Script is a program run for a notification, as keepalived runs its
// notify scripts (system_call_script in keepalived/core/notify.c):
//
//   - by execve, without a shell: Args are the program's argv, passed as
//     they are. A file without a "#!" line (nor an ELF header) is run by
//     /bin/sh with the same arguments, as execvp does, where keepalived
//     runs it through system();
//   - as User, with the supplementary groups of User (none if empty);
//   - in a process group of its own, with the parent-death signal
//     SIGTERM, standard input and output on /dev/null, and IFS,
//     LD_PRELOAD and LD_LIBRARY_PATH removed from the environment;
//   - for at most Timeout: then its whole process group gets SIGTERM and,
//     KillDelay later, SIGKILL. The same happens when the context of Run
//     ends. Processes the script leaves in its group when it exits by
//     itself are left alone, as keepalived leaves them.
//
// Validate checks the fields; Check does keepalived's load-time checks on
// the file. A Script is a plain value: once checked, Run may be called
// from any number of goroutines at once.
type Script struct {
	// Args are the program and its arguments: Args[0] is the program, an
	// absolute path or a name Check looks up in PATH. The notify script's
	// extra arguments are given to Run, not here.
	Args []string
	// Path is the file to execute when it is not Args[0]; empty means
	// Args[0]. Check sets it to where Args[0]'s symbolic links lead
	// (keepalived's script->path), unless Security.SymlinkPaths.
	Path string
	// User is whom the script runs as; nil means this process's user and
	// groups, unchanged.
	User *User
	// Env is the script's environment; nil means this process's. IFS,
	// LD_PRELOAD and LD_LIBRARY_PATH are removed from either.
	Env []string
	// Timeout bounds a run: zero means DefaultTimeout, a negative value
	// no bound (keepalived's notify scripts have none).
	Timeout time.Duration
	// KillDelay is the grace between SIGTERM and SIGKILL when a run is
	// stopped: zero means DefaultKillDelay, a negative value SIGKILL at
	// once (what keepalived does to a STOP script still running after its
	// second).
	KillDelay time.Duration
}

// A User is whom a script runs as: uid, primary gid and supplementary
// groups. LookupUser and DefaultUser build one from names, as
// keepalived's configuration does.
type User struct {
	UID, GID uint32
	// Groups are the supplementary groups; empty means none: like
	// keepalived, a script that runs as a User gets no supplementary
	// group unless asked for.
	Groups []uint32
}

// String returns "script ARGV0", the script's name in errors and logs.
func (s *Script) String() string {
	if len(s.Args) == 0 {
		return "script"
	}
	return "script " + s.Args[0]
}

// Validate reports every misconfigured field as a *FieldError wrapping
// ErrInvalid (joined with errors.Join), or nil: Args must name a program.
// It looks at no file; Check does.
func (s *Script) Validate() error {
	var errs []error
	switch {
	case len(s.Args) == 0:
		errs = append(errs, s.invalid("Args", "empty"))
	case s.Args[0] == "":
		errs = append(errs, s.invalid("Args", "empty program name"))
	}
	for i, a := range s.Args {
		if strings.IndexByte(a, 0) >= 0 {
			errs = append(errs, s.invalid("Args", fmt.Sprintf("argument %d contains a NUL byte", i)))
		}
	}
	if strings.IndexByte(s.Path, 0) >= 0 {
		errs = append(errs, s.invalid("Path", "contains a NUL byte"))
	}
	return errors.Join(errs...)
}

func (s *Script) invalid(field, reason string) *FieldError {
	return &FieldError{Object: s.String(), Field: field, Reason: reason}
}

// program is the file to execute.
func (s *Script) program() string {
	if s.Path != "" {
		return s.Path
	}
	return s.Args[0]
}

// timeout and killDelay apply the zero-means-default rule; a negative
// result means none.
func (s *Script) timeout() time.Duration   { return orDefault(s.Timeout, DefaultTimeout) }
func (s *Script) killDelay() time.Duration { return orDefault(s.KillDelay, DefaultKillDelay) }

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// env is the environment the script gets.
func (s *Script) env() []string {
	env := s.Env
	if env == nil {
		env = os.Environ()
	}
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, x := range scrubbed {
			drop = drop || name == x
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// A Result says how a run of a script ended. A script that ran and
// failed is a Result, not an error: keepalived ignores the exit status of
// notify scripts, and vigil reports it.
type Result struct {
	// Argv is what ran: the script's Args and the extra arguments.
	Argv []string
	// PID is the script's process ID, which is also its process group ID.
	PID int
	// ExitCode is the exit status, or -1 when a signal ended the script.
	ExitCode int
	// Signal is the signal that ended the script, or 0.
	Signal syscall.Signal
	// TimedOut: the script ran past its Timeout and its process group was
	// stopped.
	TimedOut bool
	// Canceled: the context of Run ended first and the process group was
	// stopped.
	Canceled bool
	// Duration is the time from start to exit.
	Duration time.Duration
}

// OK reports whether the script exited with status 0 by itself.
func (r Result) OK() bool { return r.ExitCode == 0 && !r.TimedOut && !r.Canceled }

// String describes the end: "exit status 0", "exit status 3", "killed by
// SIGTERM after timeout", "killed by SIGKILL after cancel".
func (r Result) String() string {
	var s string
	if r.Signal != 0 {
		s = "killed by " + signalName(r.Signal)
	} else {
		s = fmt.Sprintf("exit status %d", r.ExitCode)
	}
	switch {
	case r.TimedOut:
		s += " after timeout"
	case r.Canceled:
		s += " after cancel"
	}
	return s
}

// Run runs the script with extra appended to its Args (the four
// arguments of a generic notify script, the FIFO's path for a FIFO
// script) and waits for it to exit. When its Timeout passes or ctx ends
// first, the script's process group gets SIGTERM and, KillDelay later,
// SIGKILL; Run returns once the script has exited and been reaped. The
// Result says how it ended; the error is a *FieldError (ErrInvalid) from
// Validate, or says why the script could not be started.
//
// Run keeps its goroutine on one OS thread until the script has exited,
// because Linux sends the parent-death signal when the thread that
// forked a process exits, not when the process does.
func (s *Script) Run(ctx context.Context, extra ...string) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	argv := append(append(make([]string, 0, len(s.Args)+len(extra)), s.Args...), extra...)
	return s.run(ctx, argv)
}
