//go:build linux

package benchkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Router is a VRRP daemon under test: keepalived, vrrpd or vigild.
type Router interface {
	// Impl is "keepalived", "vigil" (vrrpd) or "vigild".
	Impl() string
	// States counts the transitions into state ("MASTER", "BACKUP",
	// "FAULT") so far, over all instances.
	States(state string) int
	// AwaitStates waits until States(state) ≥ n.
	AwaitStates(ctx context.Context, state string, n int, limit time.Duration) error
	// Crash SIGKILLs the daemon (keepalived: VRRP child, then parent) and
	// returns the time taken right before the first kill(2).
	Crash() (time.Time, error)
	// Leave SIGTERMs the daemon (graceful: priority 0) and returns the
	// time taken right before kill(2).
	Leave() (time.Time, error)
	// Exited reports whether the daemon has exited (all its processes).
	Exited() bool
	// WaitExit waits (bounded) until the daemon has exited.
	WaitExit(limit time.Duration) bool
	// Stop stops the daemon gracefully (bounded, SIGKILL as a last
	// resort) and waits for all its processes. Safe to call twice.
	Stop() error
	// PIDs are the daemon's processes (keepalived: parent, VRRP child).
	PIDs() []int
	// Output is the daemon's log (and, for vrrpd, its JSON events).
	Output() string
}

// Keepalived is keepalived 2.x, VRRP subsystem only, run in the foreground
// in a namespace with its own pid files, as vrrp/interop_linux_test.go.
type Keepalived struct {
	dir     string
	p       *Proc
	out     *Log
	vrrpPID int
}

// StartKeepalived writes conf into dir and starts keepalived in ns. It
// returns when the VRRP child's pid file is there.
func StartKeepalived(ctx context.Context, ns, dir, conf string) (*Keepalived, error) {
	cf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	k := &Keepalived{dir: dir, out: &Log{}}
	p, err := Start("keepalived", k.out, k.out, "ip", "netns", "exec", ns, "keepalived",
		"-n", "-l", "-D", "-G", "-P", "-f", cf,
		"-p", filepath.Join(dir, "ka.pid"), "-r", filepath.Join(dir, "vrrp.pid"),
		"-c", filepath.Join(dir, "checkers.pid"), "-b", filepath.Join(dir, "bfd.pid"))
	if err != nil {
		return nil, err
	}
	k.p = p
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "vrrp.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				k.vrrpPID = pid
				return k, nil
			}
		}
		if p.Exited() || time.Now().After(deadline) || ctx.Err() != nil {
			k.Stop()
			return nil, fmt.Errorf("keepalived in %s: no VRRP child pid file (exited: %v): %s", ns, p.Exited(), k.out.Tail(20))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Impl implements Router.
func (k *Keepalived) Impl() string { return "keepalived" }

// States implements Router.
func (k *Keepalived) States(state string) int { return entering(k.out.String(), state) }

// AwaitStates implements Router.
func (k *Keepalived) AwaitStates(ctx context.Context, state string, n int, limit time.Duration) error {
	return k.out.AwaitLines(ctx, limit, fmt.Sprintf("keepalived: %d x %s", n, state), n, enteringLine(state), func() bool { return false })
}

// entering counts keepalived's log lines for an instance entering state
// ("(VI_1) Entering MASTER STATE"), which vigild writes too.
func entering(log, state string) int { return strings.Count(log, "Entering "+state+" STATE") }

// enteringLine matches a line that says an instance enters state.
func enteringLine(state string) func(string) bool {
	s := "Entering " + state + " STATE"
	return func(line string) bool { return strings.Contains(line, s) }
}

// Crash implements Router: SIGKILL to the VRRP child, then to the parent,
// as capture f1 (no priority 0 advert).
func (k *Keepalived) Crash() (time.Time, error) {
	t := time.Now()
	err1 := syscall.Kill(k.vrrpPID, syscall.SIGKILL)
	err2 := syscall.Kill(k.p.PID(), syscall.SIGKILL)
	return t, errors.Join(err1, err2)
}

// Leave implements Router: SIGTERM to the parent, which stops the VRRP
// child (priority 0) and then exits.
func (k *Keepalived) Leave() (time.Time, error) {
	t := time.Now()
	return t, syscall.Kill(k.p.PID(), syscall.SIGTERM)
}

// Exited implements Router.
func (k *Keepalived) Exited() bool { return k.p.Exited() && !Alive(k.vrrpPID) }

// WaitExit implements Router.
func (k *Keepalived) WaitExit(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	if !k.p.Wait(limit) {
		return false
	}
	return Reap(k.vrrpPID, time.Until(deadline))
}

// Stop implements Router.
func (k *Keepalived) Stop() error {
	err := k.p.Stop(syscall.SIGTERM, 10*time.Second)
	if k.vrrpPID > 0 && !Reap(k.vrrpPID, 5*time.Second) {
		// Still alive without its parent: it is ours, end it by PID.
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", k.vrrpPID)); strings.TrimSpace(string(comm)) == "keepalived" {
			_ = syscall.Kill(k.vrrpPID, syscall.SIGKILL)
		}
		if !Reap(k.vrrpPID, 5*time.Second) {
			err = errors.Join(err, fmt.Errorf("keepalived VRRP child %d did not exit", k.vrrpPID))
		}
	}
	return err
}

// PIDs implements Router.
func (k *Keepalived) PIDs() []int { return []int{k.p.PID(), k.vrrpPID} }

// Output implements Router.
func (k *Keepalived) Output() string { return k.out.String() }

// Lines are keepalived's log lines (parent and children, stdout and
// stderr) with their arrival times: with -l its console lines carry
// timestamps of one second only.
func (k *Keepalived) Lines() []Line { return k.out.Lines() }

// Vrrpd is vigil's examples/vrrpd.
type Vrrpd struct {
	oneProc
	events *Log
	logs   *Log
}

// VrrpdEvent is one JSON line of vrrpd's stdout.
type VrrpdEvent struct {
	Time     time.Time `json:"time"`
	Instance string    `json:"instance"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Reason   string    `json:"reason"`
	Priority uint8     `json:"priority"`
	Master   string    `json:"master"`
}

// StartVrrpd runs `ip netns exec ns bin args...`.
func StartVrrpd(bin, ns string, args ...string) (*Vrrpd, error) {
	v := &Vrrpd{events: &Log{}, logs: &Log{}}
	p, err := Start("vrrpd", v.events, v.logs, append([]string{"ip", "netns", "exec", ns, bin}, args...)...)
	if err != nil {
		return nil, err
	}
	v.p = p
	return v, nil
}

// Events returns the transitions printed so far.
func (v *Vrrpd) Events() []VrrpdEvent { return parseEvents(v.events.String()) }

func parseEvents(s string) []VrrpdEvent {
	var out []VrrpdEvent
	lines := strings.Split(s, "\n")
	for _, l := range lines[:len(lines)-1] {
		if e, ok := parseEvent(l); ok {
			out = append(out, e)
		}
	}
	return out
}

// parseEvent decodes one of vrrpd's JSON lines.
func parseEvent(line string) (VrrpdEvent, bool) {
	var e VrrpdEvent
	err := json.Unmarshal([]byte(line), &e)
	return e, err == nil
}

func countTo(evs []VrrpdEvent, state string) int {
	n := 0
	for _, e := range evs {
		if e.To == state {
			n++
		}
	}
	return n
}

// Impl implements Router.
func (v *Vrrpd) Impl() string { return "vigil" }

// States implements Router.
func (v *Vrrpd) States(state string) int { return countTo(v.Events(), state) }

// AwaitStates implements Router.
func (v *Vrrpd) AwaitStates(ctx context.Context, state string, n int, limit time.Duration) error {
	err := v.events.AwaitLines(ctx, limit, fmt.Sprintf("vrrpd: %d x %s", n, state), n, func(line string) bool {
		e, ok := parseEvent(line)
		return ok && e.To == state
	}, v.p.Exited)
	if err == nil && v.p.Exited() && v.States(state) < n {
		err = fmt.Errorf("vrrpd exited (%v): %s", v.p.Err(), v.logs.Tail(10))
	}
	return err
}

// oneProc is a daemon of one process: Router's process methods.
type oneProc struct{ p *Proc }

// Crash implements Router.
func (o oneProc) Crash() (time.Time, error) {
	t := time.Now()
	return t, syscall.Kill(o.p.PID(), syscall.SIGKILL)
}

// Leave implements Router.
func (o oneProc) Leave() (time.Time, error) {
	t := time.Now()
	return t, syscall.Kill(o.p.PID(), syscall.SIGTERM)
}

// Exited implements Router.
func (o oneProc) Exited() bool { return o.p.Exited() }

// WaitExit implements Router.
func (o oneProc) WaitExit(limit time.Duration) bool { return o.p.Wait(limit) }

// Stop implements Router.
func (o oneProc) Stop() error { return o.p.Stop(syscall.SIGTERM, 10*time.Second) }

// PIDs implements Router.
func (o oneProc) PIDs() []int { return []int{o.p.PID()} }

// Output implements Router.
func (v *Vrrpd) Output() string { return v.events.String() + v.logs.String() }

// Lines are the lines of vrrpd's stdout (its JSON events) with their
// arrival times.
func (v *Vrrpd) Lines() []Line { return v.events.Lines() }

// Vigild is vigil's keepalived drop-in daemon, cmd/vigild, on a
// keepalived.conf: one process, its log on stderr with keepalived's
// wording ("(VI_1) Entering MASTER STATE").
type Vigild struct {
	oneProc
	out *Log
}

// StartVigild writes conf into dir and runs `ip netns exec ns bin -n -P
// -f conf` (VRRP only), with its pid files in dir and no control socket:
// the default paths would be shared by the two daemons on a host.
func StartVigild(bin, ns, dir, conf string) (*Vigild, error) {
	cf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	v := &Vigild{out: &Log{}}
	p, err := Start("vigild", v.out, v.out, "ip", "netns", "exec", ns, bin, "-n", "-P", "-f", cf,
		"-p", filepath.Join(dir, "vigild.pid"), "-r", filepath.Join(dir, "vrrp.pid"),
		"-c", filepath.Join(dir, "checkers.pid"), "--control-socket", "none")
	if err != nil {
		return nil, err
	}
	v.p = p
	return v, nil
}

// Impl implements Router.
func (v *Vigild) Impl() string { return "vigild" }

// States implements Router.
func (v *Vigild) States(state string) int { return entering(v.out.String(), state) }

// AwaitStates implements Router.
func (v *Vigild) AwaitStates(ctx context.Context, state string, n int, limit time.Duration) error {
	err := v.out.AwaitLines(ctx, limit, fmt.Sprintf("vigild: %d x %s", n, state), n, enteringLine(state), v.p.Exited)
	if err == nil && v.p.Exited() && v.States(state) < n {
		err = fmt.Errorf("vigild exited (%v): %s", v.p.Err(), v.out.Tail(10))
	}
	return err
}

// Output implements Router.
func (v *Vigild) Output() string { return v.out.String() }

// BuildVrrpd builds examples/vrrpd of the module holding the working
// directory into dir and returns the binary's path.
func BuildVrrpd(ctx context.Context, dir string) (string, error) {
	return buildStatic(ctx, dir, "./examples/vrrpd", "vrrpd")
}

// BuildVigild builds cmd/vigild as BuildVrrpd builds vrrpd.
func BuildVigild(ctx context.Context, dir string) (string, error) {
	return buildStatic(ctx, dir, "./cmd/vigild", "vigild")
}

// buildStatic builds the package pkg of the module holding the working
// directory into dir/name, without cgo, and returns the binary's path.
func buildStatic(ctx context.Context, dir, pkg, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		return "", errors.New("run from inside the vigil module (or pass -vrrpd)")
	}
	bin := filepath.Join(dir, name)
	// Static, as README.md says to build vigild: without cgo the net
	// package does not link libc, whose pages (1.3 MiB of RSS, and ld.so)
	// a Go daemon does not need.
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("CGO_ENABLED=0 go build %s: %w: %s", pkg, err, out)
	}
	return bin, nil
}
