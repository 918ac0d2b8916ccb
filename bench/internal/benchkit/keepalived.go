package benchkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Checker is keepalived's checker subsystem (keepalived -C) run in the
// foreground: the parent, and the checker child named by the pid file
// given with -c.
type Checker struct {
	P   *Proc
	Out *Log // both processes' output
	PID int  // the checker child
}

// StartChecker runs args, a command line ending in `keepalived -n -C
// ... -c pidFile`, and returns once pidFile names a live checker child
// that has stayed up for settle. Without IPVS in the kernel keepalived's
// checker exits at once ("IPVS: Can't initialize ipvs") and the parent
// stops: the error then gives keepalived's own words. It gives up after
// limit or when ctx ends.
func StartChecker(ctx context.Context, args []string, pidFile string, settle, limit time.Duration) (*Checker, error) {
	k := &Checker{Out: &Log{}}
	p, err := Start("keepalived", k.Out, k.Out, args...)
	if err != nil {
		return nil, err
	}
	k.P = p
	deadline := time.Now().Add(limit)
	var seen time.Time
	for {
		if k.PID == 0 {
			if b, err := os.ReadFile(pidFile); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
					k.PID, seen = pid, time.Now()
				}
			}
		}
		out := k.Out.String()
		if strings.Contains(out, "Can't initialize ipvs") || p.Exited() {
			line := lastLine(out, "Can't initialize ipvs")
			if i := strings.Index(line, "IPVS:"); i >= 0 {
				line = line[i:] // without keepalived's time stamp
			}
			if line == "" {
				line = k.Out.Tail(5)
			}
			return nil, errors.Join(fmt.Errorf("keepalived's checker did not run: %s", line), k.Stop(5*time.Second))
		}
		if !seen.IsZero() && time.Since(seen) >= settle && Alive(k.PID) {
			return k, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			err := fmt.Errorf("keepalived: no checker child within %v: %s", limit, k.Out.Tail(10))
			return nil, errors.Join(err, k.Stop(5*time.Second))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Alive reports whether the checker child still runs.
func (k *Checker) Alive() bool { return Alive(k.PID) }

// PIDs are the parent's and the checker child's.
func (k *Checker) PIDs() []int { return []int{k.P.PID(), k.PID} }

// Stop stops keepalived (SIGTERM to the parent, which stops its child,
// grace for it) and waits a third of grace for the child; a child still
// there without its parent is ended by its PID.
func (k *Checker) Stop(grace time.Duration) error {
	err := k.P.Stop(syscall.SIGTERM, grace)
	if k.PID > 0 && !Reap(k.PID, grace/3) {
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", k.PID)); strings.TrimSpace(string(comm)) == "keepalived" {
			_ = syscall.Kill(k.PID, syscall.SIGKILL)
		}
		if !Reap(k.PID, 5*time.Second) {
			err = errors.Join(err, fmt.Errorf("keepalived checker child %d did not exit", k.PID))
		}
	}
	return err
}

// lastLine returns the last line of s that contains sub, trimmed.
func lastLine(s, sub string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], sub) {
			return strings.TrimSpace(lines[i])
		}
	}
	return ""
}
