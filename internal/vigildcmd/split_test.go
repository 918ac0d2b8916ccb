package vigildcmd

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// fakeLauncher starts fakeChilds: each beats every 250ms (naming
// masters, for a VRRP child) until paused, says it is ready at once, and
// exits as its owner or a signal says.
type fakeLauncher struct {
	t0      time.Time
	mu      sync.Mutex
	log     []string // "vrrp@1s resume=[VI_1]"
	kids    map[childKind]*fakeChild
	masters []string
	pid     int
}

func newFakeLauncher() *fakeLauncher {
	return &fakeLauncher{t0: time.Now(), kids: map[childKind]*fakeChild{}, pid: 100}
}

func (l *fakeLauncher) launch(kind childKind, resume []string) (childProc, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pid++
	c := &fakeChild{pid: l.pid, kind: kind, msgs: make(chan childMsg, 64), exited: make(chan struct{}),
		pause: make(chan bool, 1), masters: l.masters}
	l.kids[kind] = c
	l.log = append(l.log, fmt.Sprintf("%s@%v resume=%v", kind, time.Since(l.t0), resume))
	c.msgs <- childMsg{Ready: true}
	go c.beat()
	return c, nil
}

// kid returns the running child of kind.
func (l *fakeLauncher) kid(kind childKind) *fakeChild {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.kids[kind]
}

func (l *fakeLauncher) launches() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.log)
}

type fakeChild struct {
	pid     int
	kind    childKind
	msgs    chan childMsg
	exited  chan struct{}
	pause   chan bool
	masters []string
	once    sync.Once
	mu      sync.Mutex
	status  childStatus
	sigs    []syscall.Signal
	sent    []string // parentMsgs, as "Held=[...]"
	// ignoreTerm: SIGTERM does not end the child (one stuck stopping).
	ignoreTerm bool
	// termsToExit is the number of SIGTERMs that end the child (one
	// whose drain a second SIGTERM cuts); 0 means 1.
	termsToExit int
	terms       int
}

func (c *fakeChild) Send(m parentMsg) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, fmt.Sprintf("Held=%v", m.Held))
	return nil
}

func (c *fakeChild) sends() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sent)
}

func (c *fakeChild) Pid() int                { return c.pid }
func (c *fakeChild) Msgs() <-chan childMsg   { return c.msgs }
func (c *fakeChild) Exited() <-chan struct{} { return c.exited }
func (c *fakeChild) Status() childStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Signal records sig: SIGKILL kills the child, SIGTERM (the
// termsToExit-th) makes it exit 0, the others change nothing.
func (c *fakeChild) Signal(sig syscall.Signal) {
	c.mu.Lock()
	c.sigs = append(c.sigs, sig)
	if sig == syscall.SIGTERM {
		c.terms++
	}
	term := sig == syscall.SIGTERM && !c.ignoreTerm && c.terms >= max(c.termsToExit, 1)
	c.mu.Unlock()
	switch {
	case sig == syscall.SIGKILL:
		c.exit(childStatus{Code: -1, Signal: sig})
	case term:
		c.exit(childStatus{Code: 0})
	}
}

func (c *fakeChild) signals() []syscall.Signal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sigs)
}

// exit ends the child with st (once).
func (c *fakeChild) exit(st childStatus) {
	c.once.Do(func() {
		c.mu.Lock()
		c.status = st
		c.mu.Unlock()
		close(c.exited)
	})
}

// beat sends a beat every 250ms until the child exits; a true on pause
// stops the beats (SIGSTOP).
func (c *fakeChild) beat() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	paused := false
	for {
		select {
		case <-c.exited:
			return
		case paused = <-c.pause:
		case <-t.C:
			if paused {
				continue
			}
			m := childMsg{Beat: true}
			if c.kind == childVRRP {
				m.Masters = c.masters
				for range c.masters {
					m.Held = append(m.Held, netip.MustParseAddr("192.0.2.100"))
				}
			}
			select {
			case c.msgs <- m:
			default:
			}
		}
	}
}

// splitHarness runs Main with --process-model=keepalived over a
// fakeLauncher.
type splitHarness struct {
	*harness
	l     *fakeLauncher
	mu    sync.Mutex
	pings []time.Duration // WATCHDOG=1's times, kept apart from the other notes
}

func startSplit(t *testing.T, args ...string) *splitHarness {
	t.Helper()
	l := newFakeLauncher()
	l.masters = []string{"VI_1"}
	sh := &splitHarness{l: l}
	sh.harness = startDaemonEnv(t, nil, func(e *Env) {
		e.Launch = l
		e.WatchdogInterval = 2 * time.Second
		inner := e.Notify
		e.Notify = func(s string) error {
			if s != "WATCHDOG=1" {
				return inner(s)
			}
			sh.mu.Lock()
			sh.pings = append(sh.pings, time.Since(l.t0))
			sh.mu.Unlock()
			return nil
		}
	}, append([]string{"--process-model=keepalived", "--all", "--child-deadline=1s"}, args...)...)
	return sh
}

// pingTimes returns the times of WATCHDOG=1 so far.
func (h *splitHarness) pingTimes() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.pings)
}

func atSecs(ss ...float64) []time.Duration {
	var out []time.Duration
	for _, s := range ss {
		out = append(out, time.Duration(s*float64(time.Second)))
	}
	return out
}

// notesSince drains the sd_notify states sent so far.
func (h *splitHarness) notesSoFar() []string {
	var out []string
	for {
		select {
		case n := <-h.notes:
			out = append(out, n)
		default:
			return out
		}
	}
}

// The parent starts both children; READY=1 once both are ready; the
// main pid file holds the parent's pid and the children's are left to
// them; WATCHDOG=1 goes every second while both beat.
func TestSplitStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startSplit(t)
		if got := h.l.launches(); !slices.Equal(got, []string{"vrrp@0s resume=[]", "checker@0s resume=[]"}) &&
			!slices.Equal(got, []string{"checker@0s resume=[]", "vrrp@0s resume=[]"}) {
			t.Errorf("launches %q", got)
		}
		if b, err := os.ReadFile(filepath.Join(h.dir, "keepalived.pid")); err != nil || string(b) != "4242\n" {
			t.Errorf("keepalived.pid: %q, %v", b, err)
		}
		for _, f := range []string{"vrrp.pid", "checkers.pid"} {
			if _, err := os.Stat(filepath.Join(h.dir, f)); !os.IsNotExist(err) {
				t.Errorf("the parent wrote %s (the child's): %v", f, err)
			}
		}
		time.Sleep(5500 * time.Millisecond)
		if got := h.pingTimes(); !slices.Equal(got, atSecs(1, 2, 3, 4, 5)) {
			t.Errorf("5.5s of both children beating: WATCHDOG=1 at %v, want every second", got)
		}
		if got := h.notesSoFar(); len(got) != 0 {
			t.Errorf("other notes: %q", got)
		}
		if c := h.stop(); c != ExitOK {
			t.Errorf("exit %d", c)
		}
		for _, k := range []childKind{childVRRP, childChecker} {
			if got := h.l.kid(k).signals(); !slices.Equal(got, []syscall.Signal{syscall.SIGTERM, syscall.SIGCONT}) {
				t.Errorf("%s child got %v, want SIGTERM (and SIGCONT)", k, got)
			}
		}
		if _, err := os.Stat(filepath.Join(h.dir, "keepalived.pid")); !os.IsNotExist(err) {
			t.Errorf("keepalived.pid left: %v", err)
		}
	})
}

// A VRRP child killed while master of VI_1 is respawned at once,
// resuming VI_1; killed again within the minute, after 1s, then 2s; a
// child that exited (it ran its shutdown, its VIPs are gone) is
// respawned without resuming. The checker child is untouched. No
// WATCHDOG=1 goes while a child is missing.
func TestSplitRespawn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startSplit(t)
		checker := h.l.kid(childChecker)
		time.Sleep(4500 * time.Millisecond)
		h.l.kid(childVRRP).Signal(syscall.SIGKILL) // at 4.5s: respawned at once
		time.Sleep(1800 * time.Millisecond)
		synctest.Wait()
		h.l.kid(childVRRP).Signal(syscall.SIGKILL) // at 6.3s: respawned at 7.3s
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		h.l.kid(childVRRP).exit(childStatus{Code: 0}) // at 7.8s: respawned at 9.8s
		time.Sleep(3 * time.Second)
		synctest.Wait()
		want := []string{"vrrp@4.5s resume=[VI_1]", "vrrp@7.3s resume=[VI_1]", "vrrp@9.8s resume=[]"}
		if got := h.l.launches()[2:]; !slices.Equal(got, want) {
			t.Errorf("respawns %q, want %q", got, want)
		}
		if h.l.kid(childChecker) != checker || len(checker.signals()) != 0 {
			t.Errorf("the checker child was touched: %v", checker.signals())
		}
		if got := h.pingTimes(); !slices.Equal(got, atSecs(1, 2, 3, 4, 5, 6, 10)) {
			t.Errorf("WATCHDOG=1 at %v, want none while the VRRP child is missing (6.3s to 7.3s, 7.8s to 9.8s)", got)
		}
		if log := h.stderr.String(); !strings.Contains(log, "VRRP child process(") || !strings.Contains(log, "died: Respawning") ||
			!strings.Contains(log, "killed by signal 9 (killed)") {
			t.Errorf("log:\n%s", log)
		}
		if c := h.stop(); c != ExitOK {
			t.Errorf("exit %d", c)
		}
	})
}

// A checker child that stops beating (SIGSTOP) is found stalled within
// a quarter of its deadline after the deadline, killed with SIGKILL and
// respawned; the VRRP child is untouched.
func TestSplitStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startSplit(t)
		vrrp := h.l.kid(childVRRP)
		time.Sleep(3100 * time.Millisecond)
		checker := h.l.kid(childChecker)
		checker.pause <- true // last beat at 3s
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := checker.signals(); !slices.Equal(got, []syscall.Signal{syscall.SIGKILL}) {
			t.Errorf("the stalled child got %v, want SIGKILL", got)
		}
		got := h.l.launches()
		if len(got) != 3 {
			t.Fatalf("launches %q", got)
		}
		at, err := time.ParseDuration(strings.Fields(strings.TrimPrefix(got[2], "checker@"))[0])
		if err != nil {
			t.Fatalf("launch %q: %v", got[2], err)
		}
		if at <= 4*time.Second || at > 4250*time.Millisecond {
			t.Errorf("respawned at %v, want within (4s, 4.25s]: the deadline 1s after the last beat, checked every 250ms", at)
		}
		if h.l.kid(childVRRP) != vrrp || len(vrrp.signals()) != 0 {
			t.Errorf("the VRRP child was touched: %v", vrrp.signals())
		}
		if !strings.Contains(h.stderr.String(), "missed its heartbeat deadline: killing it") {
			t.Errorf("log:\n%s", h.stderr)
		}
		// The stall is found (4.25s) and the child respawned between two
		// pings: none is withheld.
		if got := h.pingTimes(); !slices.Equal(got, atSecs(1, 2, 3, 4, 5)) {
			t.Errorf("WATCHDOG=1 at %v", got)
		}
		if c := h.stop(); c != ExitOK {
			t.Errorf("exit %d", c)
		}
	})
}

// The fifth failure within a minute ends the parent with exit 1, after
// stopping the other child.
func TestSplitGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startSplit(t)
		for range 5 {
			h.l.kid(childChecker).Signal(syscall.SIGKILL)
			time.Sleep(5 * time.Second)
			synctest.Wait()
		}
		var c int
		select {
		case c = <-h.code:
		case <-time.After(time.Minute):
			t.Fatal("the parent did not stop")
		}
		if got := h.notesSoFar(); !slices.Equal(got, []string{"STOPPING=1"}) {
			t.Errorf("notes %q, want STOPPING=1", got)
		}
		if c != ExitFatal {
			t.Errorf("exit %d, want %d", c, ExitFatal)
		}
		if got := h.l.kid(childVRRP).signals(); !slices.Equal(got, []syscall.Signal{syscall.SIGTERM, syscall.SIGCONT}) {
			t.Errorf("the VRRP child got %v, want SIGTERM", got)
		}
		if n := len(h.l.launches()); n != 6 {
			t.Errorf("%d launches, want 6: %q", n, h.l.launches())
		}
		if !strings.Contains(h.stderr.String(), "a child keeps failing") {
			t.Errorf("log:\n%s", h.stderr)
		}
	})
}

// With -R a child's first failure ends the parent (exit 1), as
// keepalived's --dont-respawn.
func TestSplitDontRespawn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startSplit(t, "-R")
		time.Sleep(time.Second)
		h.l.kid(childChecker).Signal(syscall.SIGKILL)
		if c := <-h.code; c != ExitFatal {
			t.Errorf("exit %d, want %d", c, ExitFatal)
		}
		if n := len(h.l.launches()); n != 2 {
			t.Errorf("respawned: %q", h.l.launches())
		}
		if got := h.l.kid(childVRRP).signals(); len(got) == 0 || got[0] != syscall.SIGTERM {
			t.Errorf("the VRRP child got %v, want SIGTERM", got)
		}
	})
}

// A child that exits with a permanent status (2: a configuration it
// cannot run) is not respawned: the parent stops the other child and
// exits with that status, as keepalived's.
func TestSplitPermanentExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startSplit(t)
		time.Sleep(time.Second)
		h.l.kid(childVRRP).exit(childStatus{Code: ExitConfig})
		if c := <-h.code; c != ExitConfig {
			t.Errorf("exit %d, want %d", c, ExitConfig)
		}
		if got := h.notesSoFar(); !slices.Equal(got, []string{"STOPPING=1"}) {
			t.Errorf("notes %q, want STOPPING=1", got)
		}
		if n := len(h.l.launches()); n != 2 {
			t.Errorf("respawned: %q", h.l.launches())
		}
		if got := h.l.kid(childChecker).signals(); len(got) == 0 || got[0] != syscall.SIGTERM {
			t.Errorf("the checker child got %v, want SIGTERM", got)
		}
	})
}

// Signals: SIGHUP goes to both children, with RELOADING=1 and, once both
// reloaded, READY=1; SIGUSR1 to both; SIGUSR2 and the JSON signal to the
// VRRP child only, as keepalived's parent.
func TestSplitSignals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startSplit(t)
		vrrp, checker := h.l.kid(childVRRP), h.l.kid(childChecker)
		for _, sig := range []os.Signal{syscall.SIGUSR1, syscall.SIGUSR2, JSONSignal, syscall.SIGHUP} {
			h.sigs <- sig
		}
		synctest.Wait()
		if got, want := vrrp.signals(), []syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2, JSONSignal, syscall.SIGHUP}; !slices.Equal(got, want) {
			t.Errorf("VRRP child got %v, want %v", got, want)
		}
		if got, want := checker.signals(), []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP}; !slices.Equal(got, want) {
			t.Errorf("checker child got %v, want %v", got, want)
		}
		h.wantNote("RELOADING=1\nMONOTONIC_USEC=12345\nSTATUS=reloading")
		vrrp.msgs <- childMsg{Ready: true}
		synctest.Wait()
		if got := h.notesSoFar(); len(got) != 0 {
			t.Errorf("READY=1 before the checker child reloaded: %q", got)
		}
		checker.msgs <- childMsg{Ready: true}
		h.wantNote("READY=1\nSTATUS=running")
		if c := h.stop(); c != ExitOK {
			t.Errorf("exit %d", c)
		}
	})
}

// A second SIGTERM or SIGINT while the children stop is passed on to the
// VRRP child as SIGTERM (it cuts its BGP drain), not to the checker
// child; other signals meanwhile are not passed on. The parent then
// stops as soon as the VRRP child has.
func TestSplitSecondSignal(t *testing.T) {
	for _, second := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(second.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := startSplit(t)
				vrrp, checker := h.l.kid(childVRRP), h.l.kid(childChecker)
				vrrp.mu.Lock()
				vrrp.termsToExit = 2 // draining until the second
				vrrp.mu.Unlock()
				t0 := time.Now()
				h.signal(syscall.SIGTERM)
				h.wantNote("STOPPING=1")
				h.signal(syscall.SIGUSR1)
				time.Sleep(time.Minute)
				synctest.Wait()
				h.wantRunning("(the parent) while the VRRP child drains")
				if got, want := vrrp.signals(), []syscall.Signal{syscall.SIGTERM, syscall.SIGCONT}; !slices.Equal(got, want) {
					t.Errorf("before the second signal the VRRP child got %v, want %v", got, want)
				}
				h.signal(second)
				if c := h.wantExit(); c != ExitOK {
					t.Errorf("exit %d", c)
				}
				if d := time.Since(t0); d != time.Minute {
					t.Errorf("stopped %v after the first SIGTERM, want 1m0s (at once after the second signal)", d)
				}
				if got, want := vrrp.signals(), []syscall.Signal{syscall.SIGTERM, syscall.SIGCONT, syscall.SIGTERM}; !slices.Equal(got, want) {
					t.Errorf("VRRP child got %v, want %v", got, want)
				}
				if got, want := checker.signals(), []syscall.Signal{syscall.SIGTERM, syscall.SIGCONT}; !slices.Equal(got, want) {
					t.Errorf("checker child got %v, want %v", got, want)
				}
				log := h.stderr.String()
				for _, w := range []string{
					`msg="Stopping now: passing the signal on to the VRRP child (it cuts its BGP drain)" process=parent signal=` + second.String(),
					`msg="Ignoring signal while stopping" process=parent signal="user defined signal 1"`,
				} {
					if !strings.Contains(log, w) {
						t.Errorf("log lacks %q:\n%s", w, log)
					}
				}
			})
		})
	}
}

// The parent waits for a child that does not stop after SIGTERM for
// child_wait_time (read again on SIGHUP), then kills it; 70 s without it.
func TestSplitChildWaitTime(t *testing.T) {
	for _, c := range []struct {
		extra string
		want  time.Duration
	}{
		{"", 70 * time.Second},
		{"child_wait_time 3\n", 3 * time.Second},
	} {
		synctest.Test(t, func(t *testing.T) {
			h := startSplit(t)
			vrrp, checker := h.l.kid(childVRRP), h.l.kid(childChecker)
			b, err := os.ReadFile(h.conf)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(h.conf, append(b, c.extra...), 0o644); err != nil {
				t.Fatal(err)
			}
			h.sigs <- syscall.SIGHUP
			h.wantNote("RELOADING=1\nMONOTONIC_USEC=12345\nSTATUS=reloading")
			vrrp.msgs <- childMsg{Ready: true}
			checker.msgs <- childMsg{Ready: true}
			h.wantNote("READY=1\nSTATUS=running")
			vrrp.mu.Lock()
			vrrp.ignoreTerm = true
			vrrp.mu.Unlock()
			t0 := time.Now()
			h.sigs <- syscall.SIGTERM // not h.stop: it waits a minute only
			h.wantNote("STOPPING=1")
			select {
			case code := <-h.code:
				if code != ExitOK {
					t.Errorf("exit %d", code)
				}
			case <-time.After(2 * time.Minute):
				t.Fatalf("the parent did not stop; log:\n%s", h.stderr)
			}
			if got := time.Since(t0); got != c.want {
				t.Errorf("%q: the parent stopped after %v, want %v", c.extra, got, c.want)
			}
			if got, want := vrrp.signals(), []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM, syscall.SIGCONT, syscall.SIGKILL}; !slices.Equal(got, want) {
				t.Errorf("VRRP child got %v, want %v", got, want)
			}
		})
	}
}

// A missing configuration exits 6 before any child starts; -P starts
// the VRRP child only; without --all, a side with nothing configured is
// not started.
func TestSplitChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out syncBuffer
		l := newFakeLauncher()
		code := Main([]string{"--process-model=keepalived", "-f", filepath.Join(t.TempDir(), "none.conf")},
			Env{Stdout: &out, Stderr: &out, Signals: make(chan os.Signal), Launch: l, Notify: func(string) error { return nil }})
		if code != ExitNoConfig || len(l.launches()) != 0 {
			t.Errorf("missing config: exit %d, launches %q", code, l.launches())
		}
	})
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"vrrp"}}, // small.conf has no virtual server
		{[]string{"-P", "--all"}, []string{"vrrp"}},
		{[]string{"-C", "--all"}, []string{"checker"}},
	} {
		synctest.Test(t, func(t *testing.T) {
			l := newFakeLauncher()
			h := startDaemonEnv(t, nil, func(e *Env) { e.Launch, e.WatchdogInterval = l, -1 },
				append([]string{"--process-model=keepalived"}, tt.args...)...)
			var got []string
			for _, s := range l.launches() {
				k, _, _ := strings.Cut(s, "@")
				got = append(got, k)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%q: children %q, want %q", tt.args, got, tt.want)
			}
			if c := h.stop(); c != ExitOK {
				t.Errorf("exit %d", c)
			}
		})
	}
}

// healthSup is a fakeSup whose health the test sets.
type healthSup struct {
	*fakeSup
	ok atomic.Bool
}

func (s *healthSup) Healthy() bool { return s.ok.Load() }

// A child beats every quarter of its deadline while its Supervisor is
// healthy, naming its MASTER instances; READY=1 goes to the parent; the
// parent's end closing stops the child.
func TestParentLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mine, theirs := net.Pipe()
		gone := make(chan struct{})
		l := newParentLink(mine, slog.New(slog.DiscardHandler), func() { close(gone) })
		var mu sync.Mutex
		var got []string
		read := make(chan struct{})
		go func() {
			defer close(read)
			sc := bufio.NewScanner(theirs)
			for sc.Scan() {
				mu.Lock()
				got = append(got, fmt.Sprintf("%v %s", time.Since(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)), sc.Text()))
				mu.Unlock()
			}
		}()
		sup := &healthSup{fakeSup: newFakeSup()}
		sup.ok.Store(true)
		ctx, cancel := context.WithCancel(t.Context())
		if err := l.notify("READY=1\nSTATUS=running"); err != nil {
			t.Fatal(err)
		}
		l.notify("STOPPING=1")
		done := make(chan struct{})
		vipsOf := func(name string) []netip.Prefix {
			if name != "VI_1" {
				t.Errorf("VIPs of %q", name)
			}
			return []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24"), netip.MustParsePrefix("2001:db8::100/64")}
		}
		go func() { l.run(ctx, sup, time.Second, vipsOf); close(done) }()
		time.Sleep(600 * time.Millisecond)
		sup.ok.Store(false)
		time.Sleep(time.Second)
		sup.ok.Store(true)
		time.Sleep(300 * time.Millisecond)
		synctest.Wait()
		cancel()
		<-done
		mu.Lock()
		beat := `{"beat":true,"masters":["VI_1"],"held":["192.0.2.100","2001:db8::100"]}`
		want := []string{`0s {"ready":true}`, "0s " + beat, "250ms " + beat, "500ms " + beat, "1.75s " + beat}
		if !slices.Equal(got, want) {
			t.Errorf("sent %q, want %q", got, want)
		}
		mu.Unlock()
		theirs.Close()
		<-gone
		<-read
		l.close()
	})
}

// The parent relays the VIPs the VRRP child holds as master to the
// checker child: when they change, and to a respawned checker child at
// its start; a VRRP child that exited (its VIPs gone) clears them.
func TestSplitRelaysHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startSplit(t)
		checker := h.l.kid(childChecker)
		time.Sleep(1100 * time.Millisecond)
		if got := checker.sends(); !slices.Equal(got, []string{"Held=[]", "Held=[192.0.2.100]"}) {
			t.Errorf("the checker child was sent %q, want nothing held at its start, then the VIP (once)", got)
		}
		checker.Signal(syscall.SIGKILL)
		synctest.Wait()
		checker2 := h.l.kid(childChecker)
		if got := checker2.sends(); !slices.Equal(got, []string{"Held=[192.0.2.100]"}) {
			t.Errorf("the respawned checker child was sent %q", got)
		}
		h.l.kid(childVRRP).exit(childStatus{Code: 0})
		synctest.Wait()
		if got := checker2.sends(); !slices.Equal(got, []string{"Held=[192.0.2.100]", "Held=[]"}) {
			t.Errorf("after the VRRP child's exit the checker child was sent %q", got)
		}
		if c := h.stop(); c != ExitOK {
			t.Errorf("exit %d", c)
		}
	})
}

// heldSup is a fakeSup that records SetHeldVIPs.
type heldSup struct {
	*fakeSup
	mu   sync.Mutex
	held [][]netip.Addr
}

func (s *heldSup) SetHeldVIPs(addrs []netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = append(s.held, addrs)
}

func (s *heldSup) got() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.held)
}

// The checker child gives its Supervisor what the parent says is held:
// the last message before the Supervisor exists, then each one.
func TestParentLinkHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mine, theirs := net.Pipe()
		l := newParentLink(mine, slog.New(slog.DiscardHandler), func() {})
		for _, line := range []string{`{"held":["192.0.2.7"]}`, `garbage`, `{"held":["192.0.2.100"]}`} {
			if _, err := theirs.Write([]byte(line + "\n")); err != nil {
				t.Fatal(err)
			}
		}
		sup := &heldSup{fakeSup: newFakeSup()}
		synctest.Wait()
		l.relayHeld(sup)
		if _, err := theirs.Write([]byte(`{"held":[]}` + "\n")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := sup.got(); got != "[[192.0.2.100] []]" {
			t.Errorf("SetHeldVIPs calls %s", got)
		}
		theirs.Close()
		l.close()
	})
}

// A SIGHUP whose file gives the checker side its first virtual server
// starts the checker child, as keepalived's parent; a file with errors
// starts nothing.
func TestSplitReloadStartsChild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newFakeLauncher()
		h := startDaemonEnv(t, nil, func(e *Env) { e.Launch, e.WatchdogInterval = l, -1 }, "--process-model=keepalived")
		small, err := os.ReadFile(h.conf)
		if err != nil {
			t.Fatal(err)
		}
		vs := "virtual_server 192.0.2.100 80 {\n  real_server 198.51.100.1 80 {\n  }\n}\n"
		write := func(text string) {
			if err := os.WriteFile(h.conf, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write(string(small) + vs + "vrrp_instance {\n")
		h.sigs <- syscall.SIGHUP
		synctest.Wait()
		if got := l.launches(); len(got) != 1 {
			t.Errorf("a file with errors started %q", got)
		}
		write(string(small) + vs)
		h.sigs <- syscall.SIGHUP
		synctest.Wait()
		if got := l.launches(); len(got) != 2 || !strings.HasPrefix(got[1], "checker@") {
			t.Errorf("launches %q, want the checker child started by the reload", got)
		}
		(&splitHarness{harness: h}).notesSoFar() // RELOADING=1
		if c := h.stop(); c != ExitOK {
			t.Errorf("exit %d", c)
		}
	})
}
