//go:build linux

// Package benchkit holds what the bench programs share: child processes
// started and stopped by PID, keepalived and vrrpd runners, a tcpdump
// capture and its reader, an `ip monitor` reader, and summary statistics.
package benchkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
	"golang.org/x/sys/unix"
)

// SignalContext returns a context cancelled on SIGINT, SIGTERM or SIGHUP,
// so that a bench run unwinds through its deferred cleanups. Children are
// in their own process groups (see Start) and do not see the terminal's
// SIGINT: the bench stops them itself.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
}

// Preflight returns an error unless we are root on Linux and every named
// program is on PATH.
func Preflight(programs ...string) error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root (network namespaces, raw sockets)")
	}
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s is not installed: %w", p, err)
		}
	}
	// Orphans of our children (keepalived's VRRP child when its parent is
	// SIGKILLed) are re-parented to us, so that Reap can collect them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}

// Sleep waits d or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Log is an io.Writer collecting a child's output, safe for concurrent
// readers, that wakes waiters on every write and remembers when each line
// arrived.
type Log struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
	ends  []lineEnd
}

// lineEnd is where a line ends in the output and when it arrived.
type lineEnd struct {
	off int
	t   time.Time
}

// Write implements io.Writer.
func (l *Log) Write(p []byte) (int, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wrote != nil {
		close(l.wrote)
		l.wrote = nil
	}
	base := l.b.Len()
	for i, c := range p {
		if c == '\n' {
			l.ends = append(l.ends, lineEnd{base + i, now})
		}
	}
	return l.b.Write(p)
}

// Line is one complete line of a child's output and when it arrived.
type Line struct {
	// Time is time.Now() in the Write that completed the line: after the
	// child wrote it, the pipe's delivery and the reader's wake-up.
	Time time.Time
	Text string
}

// Lines returns the complete lines written so far, with their arrival
// times.
func (l *Log) Lines() []Line {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Line, 0, len(l.ends))
	for i, e := range l.ends {
		out = append(out, Line{Time: e.t, Text: l.line(i)})
	}
	return out
}

// line is the text of complete line i. l.mu held.
func (l *Log) line(i int) string {
	start := 0
	if i > 0 {
		start = l.ends[i-1].off + 1
	}
	return string(l.b.Bytes()[start:l.ends[i].off])
}

// String returns everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// wroteCh is closed at the next write. l.mu held.
func (l *Log) wroteCh() <-chan struct{} {
	if l.wrote == nil {
		l.wrote = make(chan struct{})
	}
	return l.wrote
}

// Await waits until ok holds for the output so far, ctx is done, or limit
// has passed; what names the condition in the error.
func (l *Log) Await(ctx context.Context, limit time.Duration, what string, ok func(string) bool) error {
	return await(ctx, limit, what, func() (bool, <-chan struct{}) {
		l.mu.Lock()
		s, wrote := l.b.String(), l.wroteCh()
		l.mu.Unlock()
		return ok(s), wrote
	})
}

// AwaitLines waits until n of the output's complete lines (from the
// first) satisfy match, or stop reports true, ctx is done, or limit has
// passed; what names the condition in the error. Each wake-up looks only
// at the lines completed since the last. In a mass failover the router
// under test writes hundreds of lines within a few milliseconds, and
// Await's copy and scan of the whole output at each write (for vrrpd's
// JSON, a decode of every line so far) kept one of the machine's two
// CPUs busy in the bench itself, taken from the takeovers it measures
// (bench/README.md, "The bench as a neighbour, and the clock under load").
func (l *Log) AwaitLines(ctx context.Context, limit time.Duration, what string, n int, match func(line string) bool, stop func() bool) error {
	seen, count := 0, 0
	var fresh []string
	return await(ctx, limit, what, func() (bool, <-chan struct{}) {
		l.mu.Lock()
		fresh = fresh[:0]
		for ; seen < len(l.ends); seen++ {
			fresh = append(fresh, l.line(seen))
		}
		wrote := l.wroteCh()
		l.mu.Unlock()
		for _, line := range fresh {
			if match(line) {
				count++
			}
		}
		return count >= n || stop(), wrote
	})
}

// await calls check at once and after each write it returns the channel
// of, until check reports done, ctx is done, or limit has passed.
func await(ctx context.Context, limit time.Duration, what string, check func() (done bool, wrote <-chan struct{})) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	for {
		done, wrote := check()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return fmt.Errorf("%s: not within %v", what, limit)
		case <-wrote:
		}
	}
}

// Tail returns the last n lines of the output, for error reports.
func (l *Log) Tail(n int) string { return Tail(l.String(), n) }

// Proc is a child process, in its own process group, that gets SIGKILL if
// the bench dies. It is only ever signalled by its PID (through a pidfd).
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts args with the given output writers.
func Start(name string, stdout, stderr io.Writer, args ...string) (*Proc, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A grandchild holding our pipes (keepalived's VRRP child) must not
	// keep Wait from returning.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// PID is the process's ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is the process's exit error, valid after Done.
func (p *Proc) Err() error { return p.err }

// Signal sends sig unless the process has already exited.
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("%s (pid %d): signal %v: %w", p.Name, p.PID(), sig, err)
	}
	return nil
}

// Wait waits up to limit for the process to exit.
func (p *Proc) Wait(limit time.Duration) bool {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// Stop sends sig (SIGTERM if 0) and waits up to grace for the exit, then
// SIGKILLs and waits (bounded). It reports whether the process needed the
// SIGKILL or did not exit at all.
func (p *Proc) Stop(sig syscall.Signal, grace time.Duration) error {
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	if p.Exited() {
		return nil
	}
	_ = p.Signal(sig)
	if p.Wait(grace) {
		return nil
	}
	_ = p.Signal(syscall.SIGKILL)
	if !p.Wait(5 * time.Second) {
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.Name, p.PID())
	}
	return fmt.Errorf("%s (pid %d) ignored %v for %v: killed", p.Name, p.PID(), sig, grace)
}

// Alive reports whether pid exists and is not a zombie.
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// Reap waits (bounded) for pid, a process that is not our direct child
// but may have been re-parented to us, to exit, and collects it if it is
// our child by then. It reports whether pid is gone.
func Reap(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if wpid == pid || (err != nil && !Alive(pid)) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Workspace is where a bench run keeps its files and which vrrpd it runs.
type Workspace struct {
	// Dir holds captures, configs and logs; Keep says it is the user's
	// -keep directory (not removed).
	Dir  string
	Keep bool
	// Vrrpd is the vrrpd binary ("" when vigil is not measured), Vigild
	// the vigild binary ("" when vigild is not).
	Vrrpd, Vigild string
}

// Prepare checks that the tools the implementations need are installed,
// makes a scratch directory, and builds into it ./examples/vrrpd when
// vigil is measured and ./cmd/vigild when vigild is, unless bins names
// the binary. keep, if set, is used for the files instead of the scratch
// directory. cleanup removes the scratch directory.
func Prepare(ctx context.Context, name string, impls []string, bins Workspace, keep string, progress io.Writer) (ws Workspace, cleanup func(), err error) {
	progs := []string{"ip", "tcpdump"}
	if slices.Contains(impls, "keepalived") {
		progs = append(progs, "keepalived")
	}
	if err := Preflight(progs...); err != nil {
		return ws, func() {}, err
	}
	tmp, err := os.MkdirTemp("", "vigil-bench-"+name+"-")
	if err != nil {
		return ws, func() {}, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	ws = Workspace{Dir: tmp, Vrrpd: bins.Vrrpd, Vigild: bins.Vigild}
	if keep != "" {
		ws.Dir, ws.Keep = keep, true
	}
	if slices.Contains(impls, "vigil") && ws.Vrrpd == "" {
		fmt.Fprintln(progress, "building ./examples/vrrpd ...")
		if ws.Vrrpd, err = BuildVrrpd(ctx, tmp); err != nil {
			cleanup()
			return ws, func() {}, err
		}
	}
	if slices.Contains(impls, "vigild") && ws.Vigild == "" {
		fmt.Fprintln(progress, "building ./cmd/vigild ...")
		if ws.Vigild, err = BuildVigild(ctx, tmp); err != nil {
			cleanup()
			return ws, func() {}, err
		}
	}
	return ws, cleanup, nil
}

// Fresh makes a run's directory (name under ws.Dir) and a fresh topology
// of n hosts. release deletes the topology and, unless ws.Keep, the
// directory; it returns the topology's deletion error. On error, Fresh has
// already released what it made.
func Fresh(ws Workspace, name string, n int) (dir string, seg *nstest.Segment, release func() error, err error) {
	dir = filepath.Join(ws.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, nil, err
	}
	rmDir := func() {
		if !ws.Keep {
			os.RemoveAll(dir)
		}
	}
	seg, err = nstest.Build(n)
	release = func() error {
		defer rmDir()
		if seg == nil {
			return nil
		}
		return seg.Close()
	}
	if err != nil {
		return "", nil, nil, errors.Join(err, release())
	}
	return dir, seg, release, nil
}
