package vigildcmd

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/vrrp"
)

// fakeSup is a Supervisor that records what vigild asks of it.
type fakeSup struct {
	mu      sync.Mutex
	built   vigil.Config
	reloads []vigil.Config
	ctxErr  error // Run's ctx's error when Run returned
	state   vigil.State
	events  chan vigil.Event
	once    sync.Once
	running chan struct{}
}

func newFakeSup() *fakeSup {
	return &fakeSup{events: make(chan vigil.Event, 16), running: make(chan struct{}),
		state: vigil.State{Instances: []vigil.InstanceState{{Name: "VI_1", Interface: "eth0", VRID: 51, State: "MASTER",
			Priority: 150, Effective: 140, Master: netip.MustParseAddr("192.0.2.1"),
			Since: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}},
			VirtualServers: []vigil.VirtualServerState{{Name: "tcp 192.0.2.100:80", Quorum: true,
				RealServers: []vigil.RealServerState{{Name: "198.51.100.1:80", Up: true, Weight: 1},
					{Name: "198.51.100.2:80", Weight: 0, Err: "connection refused"}}}}}}
}

func (f *fakeSup) Run(ctx context.Context) error {
	close(f.running)
	<-ctx.Done()
	f.mu.Lock()
	f.ctxErr = ctx.Err()
	f.mu.Unlock()
	f.closeEvents()
	return nil
}

func (f *fakeSup) closeEvents() { f.once.Do(func() { close(f.events) }) }

func (f *fakeSup) Reload(_ context.Context, cfg vigil.Config) (vigil.Changes, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloads = append(f.reloads, cfg)
	return vigil.Changes{InstancesChanged: []string{"VI_1"}}, nil
}

func (f *fakeSup) State() vigil.State { return f.state }
func (f *fakeSup) Stats() vigil.Stats {
	return vigil.Stats{Instances: map[string]vrrp.Stats{"VI_1": {AdvertsSent: 7, AdvertsReceived: 3, BecameMaster: 1,
		Drops: map[vrrp.DropReason]uint64{vrrp.DropTTL: 2}}}}
}
func (f *fakeSup) Events(int) (<-chan vigil.Event, func()) { return f.events, f.closeEvents }
func (f *fakeSup) Collector() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_fake", Help: "A fake."})
	g.Set(1)
	return g
}
func (f *fakeSup) Close() error { return nil }

func (f *fakeSup) reloaded() []vigil.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]vigil.Config(nil), f.reloads...)
}

// syncBuffer is a bytes.Buffer safe for the daemon's and the test's
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness runs Main with fakes.
type harness struct {
	t      *testing.T
	dir    string
	conf   string
	sigs   chan os.Signal
	notes  chan string
	stderr *syncBuffer
	sup    *fakeSup
	code   chan int
}

// startDaemon runs vigild on a copy of testdata/small.conf in a temp
// dir (pid files and dumps there too) and waits for READY=1.
func startDaemon(t *testing.T, build Builder, args ...string) *harness {
	t.Helper()
	return startDaemonEnv(t, build, nil, args...)
}

// startDaemonEnv is startDaemon with the Env changed by mod.
func startDaemonEnv(t *testing.T, build Builder, mod func(*Env), args ...string) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, dir: dir, conf: filepath.Join(dir, "keepalived.conf"), sigs: make(chan os.Signal, 1),
		notes: make(chan string, 16), stderr: &syncBuffer{}, sup: newFakeSup(), code: make(chan int, 1)}
	h.install("small.conf")
	if build == nil {
		build = func(cfg vigil.Config, o BuildOptions) (Supervisor, error) {
			h.sup.built = cfg
			return h.sup, nil
		}
	}
	env := Env{Stdout: h.stderr, Stderr: h.stderr, Signals: h.sigs, Build: build,
		Notify:    func(s string) error { h.notes <- s; return nil },
		Now:       func() time.Time { return time.Date(2000, 1, 1, 0, 1, 30, 0, time.UTC) },
		Monotonic: func() int64 { return 12345 }, DumpDir: dir, Pid: 4242,
		Proc:     func(int) (string, bool) { return "", false },
		Hostname: func() (string, error) { return "node1", nil }}
	if mod != nil {
		mod(&env)
	}
	pids := []string{"-p", filepath.Join(dir, "keepalived.pid"), "-r", filepath.Join(dir, "vrrp.pid"), "-c", filepath.Join(dir, "checkers.pid")}
	if env.RunDir != "" {
		pids = nil // the test looks at the default pid files
	}
	args = append(append([]string{"-f", h.conf, "--control-socket", "none"}, pids...), args...)
	go func() { h.code <- Main(args, env) }()
	h.wantNote("READY=1\nSTATUS=running")
	return h
}

// install copies testdata/name over the daemon's configuration file.
func (h *harness) install(name string) {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(h.conf, b, 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) wantNote(want string) {
	h.t.Helper()
	select {
	case n := <-h.notes:
		if n != want {
			h.t.Fatalf("sd_notify %q, want %q; log:\n%s", n, want, h.stderr)
		}
	case c := <-h.code:
		h.t.Fatalf("vigild exited %d before sd_notify %q; log:\n%s", c, want, h.stderr)
	case <-time.After(time.Minute):
		h.t.Fatalf("no sd_notify %q; log:\n%s", want, h.stderr)
	}
}

// stop sends SIGTERM and returns the exit status.
func (h *harness) stop() int {
	h.t.Helper()
	h.sigs <- syscall.SIGTERM
	h.wantNote("STOPPING=1")
	select {
	case c := <-h.code:
		return c
	case <-time.After(time.Minute):
		h.t.Fatalf("vigild did not stop; log:\n%s", h.stderr)
	}
	return -1
}

// wantRunning fails the test if vigild has exited; call it after
// synctest.Wait, while vigild should be waiting (what: for what).
func (h *harness) wantRunning(what string) {
	h.t.Helper()
	select {
	case c := <-h.code:
		h.t.Fatalf("vigild exited %d %s; log:\n%s", c, what, h.stderr)
	default:
	}
}

// signal sends sig to vigild; one it does not take within two hours
// fails the test (and is dropped), so that a test of signals during a
// stop fails rather than deadlocks when vigild no longer reads them.
func (h *harness) signal(sig os.Signal) {
	h.t.Helper()
	select {
	case h.sigs <- sig:
	case <-time.After(2 * time.Hour):
		h.t.Errorf("vigild did not take %v within two hours", sig)
	}
}

// wantExit waits for vigild's exit status.
func (h *harness) wantExit() int {
	h.t.Helper()
	select {
	case c := <-h.code:
		return c
	case <-time.After(24 * time.Hour):
		h.t.Fatalf("vigild did not stop; log:\n%s", h.stderr)
	}
	return -1
}

func TestDaemonStartStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startDaemon(t, nil)
		<-h.sup.running
		if len(h.sup.built.Instances) != 1 || h.sup.built.Instances[0].VRRP.Priority != 150 {
			t.Errorf("built %+v", h.sup.built.Instances)
		}
		for _, f := range []string{"keepalived.pid", "vrrp.pid", "checkers.pid"} {
			if b, err := os.ReadFile(filepath.Join(h.dir, f)); err != nil || string(b) != "4242\n" {
				t.Errorf("%s: %q, %v", f, b, err)
			}
		}
		h.sup.events <- vigil.Event{Kind: vigil.EventInstance, Instance: "VI_1", From: vrrp.Backup, To: vrrp.Master}
		if code := h.stop(); code != ExitOK {
			t.Errorf("exit %d, want 0", code)
		}
		if h.sup.ctxErr != context.Canceled {
			t.Errorf("Run's ctx: %v, want canceled", h.sup.ctxErr)
		}
		for _, f := range []string{"keepalived.pid", "vrrp.pid", "checkers.pid"} {
			if _, err := os.Stat(filepath.Join(h.dir, f)); !os.IsNotExist(err) {
				t.Errorf("%s left: %v", f, err)
			}
		}
		log := h.stderr.String()
		for _, w := range []string{"(VI_1) Entering MASTER STATE", "msg=Stopping", "Stopped vigild"} {
			if !strings.Contains(log, w) {
				t.Errorf("log lacks %q:\n%s", w, log)
			}
		}
	})
}

func TestDaemonVRRPOnlyPidFiles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startDaemon(t, nil, "-P")
		if _, err := os.Stat(filepath.Join(h.dir, "checkers.pid")); !os.IsNotExist(err) {
			t.Errorf("-P wrote checkers.pid: %v", err)
		}
		if _, err := os.Stat(filepath.Join(h.dir, "vrrp.pid")); err != nil {
			t.Errorf("-P: vrrp.pid: %v", err)
		}
		h.stop()
	})
}

func TestDaemonSIGINT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startDaemon(t, nil)
		h.sigs <- syscall.SIGINT
		h.wantNote("STOPPING=1")
		if c := <-h.code; c != ExitOK {
			t.Errorf("exit %d", c)
		}
	})
}

func TestDaemonReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startDaemon(t, nil)
		h.install("small2.conf")
		h.sigs <- syscall.SIGHUP
		h.wantNote("RELOADING=1\nMONOTONIC_USEC=12345\nSTATUS=reloading")
		h.wantNote("READY=1\nSTATUS=running")
		r := h.sup.reloaded()
		if len(r) != 1 || r[0].Instances[0].VRRP.Priority != 120 || len(r[0].Instances[0].VRRP.VIPs) != 2 {
			t.Fatalf("reloads %+v", r)
		}
		if !strings.Contains(h.stderr.String(), `msg="Reload finished" changes="instances changed VI_1"`) {
			t.Errorf("log:\n%s", h.stderr)
		}

		// A configuration with errors is not applied.
		h.install("errors.conf")
		h.sigs <- syscall.SIGHUP
		h.wantNote("RELOADING=1\nMONOTONIC_USEC=12345\nSTATUS=reloading")
		h.wantNote("READY=1\nSTATUS=running")
		if r := h.sup.reloaded(); len(r) != 1 {
			t.Errorf("a configuration with errors was applied: %d reloads", len(r))
		}
		log := h.stderr.String()
		if !strings.Contains(log, `keepalived.conf:5:16: error: advert_int: invalid time \"abc\"`) ||
			!strings.Contains(log, "New config failed validation; keeping the running configuration") {
			t.Errorf("log:\n%s", log)
		}

		// Nor is a missing one.
		os.Remove(h.conf)
		h.sigs <- syscall.SIGHUP
		h.wantNote("RELOADING=1\nMONOTONIC_USEC=12345\nSTATUS=reloading")
		h.wantNote("READY=1\nSTATUS=running")
		if r := h.sup.reloaded(); len(r) != 1 {
			t.Errorf("a missing configuration was applied")
		}
		if !strings.Contains(h.stderr.String(), "configuration file missing") {
			t.Errorf("log:\n%s", h.stderr)
		}
		if c := h.stop(); c != ExitOK {
			t.Errorf("exit %d", c)
		}
	})
}

func TestDaemonDumps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startDaemon(t, nil)
		h.sigs <- syscall.SIGUSR1
		h.sigs <- syscall.SIGUSR2
		h.sigs <- JSONSignal
		h.stop()
		want := map[string][]string{
			DataFile:  {"------< VRRP Topology >------", " VRRP Instance = VI_1", "   State = MASTER", "(1m30s ago)", "192.0.2.100/24 dev eth0", "RS = 198.51.100.2:80, DOWN, weight 0", "Last error = connection refused"},
			StatsFile: {"VRRP Instance: VI_1\n  Advertisements:\n    Received: 3\n    Sent: 7\n  Became master: 1\n", "    TTL: 2\n"},
			JSONFile:  {`"name": "VI_1"`, `"state": "MASTER"`},
			KeepalivedJSONFile: {`[{"data":{"iname":"VI_1",`, `"ifp_ifname":"eth0"`, `"base_priority":150,"effective_priority":140,"vipset":true,`,
				`"state":2,`, `"vips":["192.0.2.100/24 dev eth0 scope global set"]`, `"stats":{"advert_rcvd":3,"advert_sent":7,"become_master":1,`},
		}
		for f, ws := range want {
			b, err := os.ReadFile(filepath.Join(h.dir, f))
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			for _, w := range ws {
				if !strings.Contains(string(b), w) {
					t.Errorf("%s lacks %q:\n%s", f, w, b)
				}
			}
		}
	})
}

func TestDaemonDumpDirUnwritable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The dump "directory" is a file: even root cannot write in it.
		notDir := filepath.Join(t.TempDir(), "file")
		os.WriteFile(notDir, nil, 0o644)
		h := startDaemonEnv(t, nil, func(e *Env) { e.DumpDir = notDir })
		h.sigs <- syscall.SIGUSR1
		h.sigs <- syscall.SIGUSR2
		if c := h.stop(); c != ExitOK {
			t.Errorf("exit %d", c)
		}
		log := h.stderr.String()
		for _, f := range []string{DataFile, StatsFile, JSONFile} {
			if !strings.Contains(log, `msg="Can't write the dump" file=`+filepath.Join(notDir, f)) {
				t.Errorf("no error logged for %s:\n%s", f, log)
			}
		}
	})
}

func TestDaemonStartFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		run := func(args ...string) (int, string) {
			var out syncBuffer
			env := Env{Stdout: &out, Stderr: &out, Signals: make(chan os.Signal),
				Build:    func(vigil.Config, BuildOptions) (Supervisor, error) { return newFakeSup(), nil },
				Notify:   func(string) error { return nil },
				Proc:     func(pid int) (string, bool) { return "keepalived", pid == 77 },
				Hostname: func() (string, error) { return "node1", nil }}
			return Main(append(args, "--control-socket", "none"), env), out.String()
		}
		if c, log := run("-f", filepath.Join(dir, "missing.conf")); c != ExitNoConfig {
			t.Errorf("missing: exit %d, want %d\n%s", c, ExitNoConfig, log)
		}
		if c, log := run("-f", "testdata/fatal.conf"); c != ExitConfig || !strings.Contains(log, "fatal.conf:1:1: fatal:") {
			t.Errorf("fatal: exit %d, want %d\n%s", c, ExitConfig, log)
		}
		pid := filepath.Join(dir, "k.pid")
		os.WriteFile(pid, []byte("77\n"), 0o644)
		if c, log := run("-f", "testdata/small.conf", "-p", pid, "-r", pid, "-c", pid); c != ExitFatal || !strings.Contains(log, "daemon is already running") {
			t.Errorf("live keepalived: exit %d, want %d\n%s", c, ExitFatal, log)
		}
		if b, _ := os.ReadFile(pid); string(b) != "77\n" {
			t.Errorf("pid file now %q", b)
		}
	})
}

func TestEventLines(t *testing.T) {
	for _, tt := range []struct {
		e    vigil.Event
		want string
	}{
		{vigil.Event{Kind: vigil.EventInstance, Instance: "VI_1", To: vrrp.Backup}, "(VI_1) Entering BACKUP STATE"},
		{vigil.Event{Kind: vigil.EventInstance, Instance: "VI_1", To: vrrp.Fault}, "(VI_1) Entering FAULT STATE"},
		{vigil.Event{Kind: vigil.EventInstance, Instance: "VI_1", To: vrrp.Stopped}, "(VI_1) Entering STOP STATE"},
		{vigil.Event{Kind: vigil.EventGroup, Group: "G1", To: vrrp.Master}, "VRRP_Group(G1) Syncing instances to MASTER state"},
		{vigil.Event{Kind: vigil.EventTracker, Tracker: "chk", Up: false, Err: "exit 1"}, "VRRP_Script(chk) failed"},
		{vigil.Event{Kind: vigil.EventTracker, Tracker: "chk", Up: true}, "VRRP_Script(chk) succeeded"},
		{vigil.Event{Kind: vigil.EventPriority, Instance: "VI_1", Priority: 90}, "(VI_1) Changing effective priority to 90"},
	} {
		if got, _ := eventLine(&tt.e); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.e, got, tt.want)
		}
	}
}
