package vigildcmd

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/notify"
)

// testEnv is an Env without the host's users.
func testEnv(out, errb *bytes.Buffer) Env {
	return Env{Stdout: out, Stderr: errb, Hostname: func() (string, error) { return "node1.example", nil },
		LookupUser: func(name, group string, supp bool) (*notify.User, error) {
			return &notify.User{UID: 1000, GID: 1000}, nil
		}}
}

func TestConfigTest(t *testing.T) {
	diag := regexp.MustCompile(`^\S+\.conf:\d+:\d+: (warning|error|fatal): `)
	tests := []struct {
		file  string
		code  int
		lines []string // what stderr must hold, each on a line matching diag
	}{
		{"good.conf", ExitOK, []string{`good.conf:4:4: warning: global_defs: notification_email ignored: not supported`}},
		{"errors.conf", ExitTestErrors, []string{`errors.conf:5:16: error: advert_int: invalid time "abc"`}},
		{"fatal.conf", ExitTestCannotRun, []string{`fatal.conf:1:1: fatal: vrrp_instance VI_1: virtual_router_id missing`}},
		{"scripts.conf", ExitTestSecurity, nil},
		{"startscript.conf", ExitTestSecurity, nil},
		{"missing.conf", ExitTestCannotRun, nil},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := Main([]string{"-t", "-f", filepath.Join("testdata", tt.file)}, testEnv(&out, &errb))
		if code != tt.code {
			t.Errorf("-t %s = %d, want %d; stderr:\n%s", tt.file, code, tt.code, errb.String())
		}
		for _, w := range tt.lines {
			if !strings.Contains(errb.String(), w) {
				t.Errorf("-t %s: stderr lacks %q:\n%s", tt.file, w, errb.String())
			}
		}
		for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
			if tt.lines != nil && !diag.MatchString(l) {
				t.Errorf("-t %s: line %q is not file:line:col: severity: message", tt.file, l)
			}
		}
		if tt.code == ExitTestSecurity && !strings.Contains(errb.String(), securityViolation) {
			t.Errorf("-t %s: no security violation in %q", tt.file, errb.String())
		}
		if tt.file == "missing.conf" && !strings.Contains(errb.String(), "configuration file missing") {
			t.Errorf("-t missing.conf: %q", errb.String())
		}
	}
}

func TestConfigTestFile(t *testing.T) {
	log := filepath.Join(t.TempDir(), "test.log")
	var out, errb bytes.Buffer
	if code := Main([]string{"-t" + log, "-f", "testdata/errors.conf"}, testEnv(&out, &errb)); code != ExitTestErrors {
		t.Fatalf("exit %d, want %d", code, ExitTestErrors)
	}
	b, err := os.ReadFile(log)
	if err != nil || !strings.Contains(string(b), "errors.conf:5:16: error:") || errb.Len() != 0 {
		t.Errorf("log %q (%v), stderr %q", b, err, errb.String())
	}
	if code := Main([]string{"--config-test=/nonexistent/dir/log", "-f", "testdata/good.conf"}, testEnv(&out, &errb)); code != ExitFatal {
		t.Errorf("unwritable -t file: exit %d, want %d", code, ExitFatal)
	}
}

func TestConfigID(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "k.conf")
	os.WriteFile(conf, []byte("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n @node1 priority 200\n @^node1 priority 50\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n"), 0o644)
	var out, errb bytes.Buffer
	env := testEnv(&out, &errb)
	for _, tt := range []struct {
		args []string
		prio uint8
	}{{nil, 200}, {[]string{"-i", "node2"}, 50}, {[]string{"--config-id=node1"}, 200}} {
		o, err := Parse(append([]string{"-f", conf}, tt.args...))
		if err != nil {
			t.Fatal(err)
		}
		l := loadConfig(&o, &env)
		if !l.ok() || len(l.cfg.Instances) != 1 || l.cfg.Instances[0].VRRP.Priority != tt.prio {
			t.Errorf("%q: ok %t, instances %+v, want priority %d", tt.args, l.ok(), l.cfg.Instances, tt.prio)
		}
	}
}

func TestFilter(t *testing.T) {
	cfg := vigil.Config{Instances: make([]vigil.Instance, 1), SyncGroups: make([]vigil.SyncGroup, 1),
		Trackers: make([]vigil.Tracker, 1), VirtualServers: make([]vigil.VirtualServer, 1),
		VirtualServerGroups: make([]vigil.VirtualServerGroup, 1), Static: vigil.Static{Addresses: make([]vigil.StaticAddress, 1)}}
	p := filter(cfg, &Options{VRRPOnly: true})
	if len(p.Instances) != 1 || len(p.Trackers) != 1 || len(p.Static.Addresses) != 1 || p.VirtualServers != nil || p.VirtualServerGroups != nil {
		t.Errorf("-P: %+v", p)
	}
	c := filter(cfg, &Options{CheckOnly: true, DontReleaseIPVS: true})
	if c.Instances != nil || c.SyncGroups != nil || c.Trackers != nil || c.Static.Addresses != nil || len(c.VirtualServers) != 1 || !c.Global.KeepIPVSOnExit {
		t.Errorf("-C -I: %+v", c)
	}
}

// TestPidFiles: keepalived's rules, and #1527 (a stale pid reused by
// another program does not block the start).
func TestPidFiles(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	procs := map[int]string{100: "keepalived", 101: "vigild", 102: "bash", 103: ""}
	lookup := func(pid int) (string, bool) {
		n, ok := procs[pid]
		return n, ok
	}
	for _, tt := range []struct {
		old  string // the pid file's content; "" for none
		want bool   // vigild starts
	}{
		{"", true},
		{"100\n", false},   // a live keepalived
		{"101\n", false},   // a live vigild
		{"103\n", false},   // a live process that cannot be named
		{"102\n", true},    // #1527: the pid now belongs to bash
		{"999\n", true},    // gone
		{"42\n", true},     // our own pid (a container's restart)
		{"garbage", true},  // unreadable
		{"-5\n", true},     // nonsense
		{"100 x\n", true},  // not a pid
		{"\n\n101", false}, // blank lines around it
	} {
		dir := t.TempDir()
		p := filepath.Join(dir, "sub", "keepalived.pid")
		if tt.old != "" {
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(tt.old), 0o644)
		}
		pfs, err := writePidFiles([]string{p, filepath.Join(dir, "vrrp.pid"), p}, 42, lookup, log)
		if (err == nil) != tt.want {
			t.Errorf("old %q: err %v, want start %t", tt.old, err, tt.want)
		}
		if err != nil {
			if b, _ := os.ReadFile(p); string(b) != tt.old {
				t.Errorf("old %q: refused, but the file now holds %q", tt.old, b)
			}
			if _, err := os.Stat(filepath.Join(dir, "vrrp.pid")); err == nil {
				t.Errorf("old %q: refused, but vrrp.pid was left", tt.old)
			}
			continue
		}
		if len(pfs) != 2 {
			t.Errorf("old %q: %d pid files, want 2 (a path given twice is written once)", tt.old, len(pfs))
		}
		for _, f := range []string{p, filepath.Join(dir, "vrrp.pid")} {
			if b, err := os.ReadFile(f); err != nil || string(b) != "42\n" {
				t.Errorf("old %q: %s holds %q (%v), want 42", tt.old, f, b, err)
			}
			if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("old %q: %s mode %v", tt.old, f, fi.Mode())
			}
		}
		// Locked: a second vigild (here with our pid, as if its check
		// passed) is refused by the lock keepalived also takes.
		if _, err := writePidFiles([]string{p}, 43, func(int) (string, bool) { return "", false }, log); err == nil {
			t.Errorf("old %q: a second writer got the locked pid file", tt.old)
		}
		removePidFiles(pfs, log)
		for _, f := range []string{p, filepath.Join(dir, "vrrp.pid")} {
			if _, err := os.Stat(f); !os.IsNotExist(err) {
				t.Errorf("old %q: %s not removed: %v", tt.old, f, err)
			}
		}
	}
}

// TestProcByPid looks at real processes: this test binary is alive and
// not named vigild; an exited child is gone.
func TestProcByPid(t *testing.T) {
	name, alive := procByPid(os.Getpid())
	if !alive || name == "" || isDaemon(name) {
		t.Errorf("own process: %q, %t", name, alive)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1):", err)
	}
	if _, alive := procByPid(cmd.Process.Pid); alive {
		t.Logf("pid %d reused already", cmd.Process.Pid)
	}
	// A pid file naming this live, unrelated process is stale.
	p := filepath.Join(t.TempDir(), "k.pid")
	os.WriteFile(p, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	pfs, err := writePidFiles([]string{p}, os.Getpid()+1, procByPid, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("a pid file naming %s: %v", name, err)
	}
	removePidFiles(pfs, slog.New(slog.DiscardHandler))
}

// TestConfigTestFileOrder: -t prints problems in file order, though the
// loader finds a sync group's (line 1) after the instances'.
func TestConfigTestFileOrder(t *testing.T) {
	var out, errb bytes.Buffer
	Main([]string{"-t", "-f", filepath.Join("testdata", "order.conf")}, testEnv(&out, &errb))
	re := regexp.MustCompile(`order\.conf:(\d+):(\d+): `)
	var last [2]int
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
		m := re.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		if line < last[0] || line == last[0] && col < last[1] {
			t.Errorf("%q comes after line %d col %d:\n%s", l, last[0], last[1], errb.String())
		}
		last = [2]int{line, col}
		n++
	}
	if n < 3 || !strings.Contains(errb.String(), "order.conf:1:") {
		t.Errorf("want the sync group's problem (line 1) and the others:\n%s", errb.String())
	}
}
