//go:build linux

package process

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// These tests use the kernel's process connector and start and kill real
// processes: copies of /bin/sleep under distinctive names.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		nstest.Unavailable(t, "process connector tests need root (CAP_NET_ADMIN before Linux 6.6, and the initial user, PID and network namespaces): run go test as root")
	}
}

// waitFor bounds every wait for the kernel: generous, as CI machines are
// slow; a passing test waits milliseconds.
const waitFor = 10 * time.Second

func realTracker(t *testing.T, specs ...Spec) (*Tracker, *Subscription) {
	t.Helper()
	needRoot(t)
	tr, err := New(Config{Specs: specs})
	if errors.Is(err, ErrUnsupported) {
		nstest.Unavailable(t, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	sub := tr.Subscribe(256)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	// Start processes only after the first scan, so that they are
	// counted by their events, not by the scan.
	for i := range specs {
		waitStatus(t, tr, i, "scanned", func(s Status) bool { return s.State != StateUnknown })
	}
	return tr, sub
}

// uniqueName returns a process name no other process has: "vgl-" and 8
// hex digits.
func uniqueName(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "vgl-" + hex.EncodeToString(b[:])
}

// program copies /bin/sleep to a file called name: the processes it
// starts have name as their comm.
func program(t *testing.T, name string) string {
	t.Helper()
	src, err := exec.LookPath("sleep")
	if err != nil {
		nstest.Unavailable(t, "no sleep program (apt-get install -y coreutils)")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name)
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// copyExecutable copies the test binary to a file called name that
// anyone may run, for helperMain.
func copyExecutable(t *testing.T, name string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// t.TempDir's directories are private: open them and check the rest.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for d := filepath.Dir(filepath.Dir(dir)); d != "/"; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
			nstest.Unavailable(t, "no directory that anyone can enter for a copy of the test binary: "+d)
		}
	}
	bin := filepath.Join(dir, name)
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// spawn starts path with argv (argv[0] as given) in its own process
// group, killed at the test's end.
func spawn(t *testing.T, path string, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := &exec.Cmd{Path: path, Args: argv, SysProcAttr: &syscall.SysProcAttr{Setpgid: true}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(cmd) })
	return cmd
}

// kill kills cmd's process group and reaps cmd. Calling it again does
// nothing.
func kill(cmd *exec.Cmd) {
	if cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
}

// waitChange returns the next Change of spec name, failing after waitFor.
func waitChange(t *testing.T, sub *Subscription, name string) Change {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case c := <-sub.C():
			if c.Name == name {
				return c
			}
		case <-timeout:
			t.Fatalf("no change of %s in %v", name, waitFor)
		}
	}
}

// waitStatus polls Status until spec i satisfies ok, failing after
// waitFor.
func waitStatus(t *testing.T, tr *Tracker, i int, what string, ok func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		st := tr.Status()[i]
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not %s in %v: %+v", st.Name, what, waitFor, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func countIs(n int) func(Status) bool { return func(s Status) bool { return s.Count == n } }

// TestRealQuorum: two processes make the quorum, one is not enough.
func TestRealQuorum(t *testing.T) {
	name := uniqueName(t)
	tr, sub := realTracker(t, Spec{Name: "s", Process: name, Quorum: 2})
	if c := waitChange(t, sub, "s"); c != (Change{Name: "s", State: StateDown, Initial: true}) {
		t.Fatalf("initial %+v", c)
	}
	bin := program(t, name)
	a := spawn(t, bin, name, "1000")
	waitStatus(t, tr, 0, "1 process", countIs(1))
	b := spawn(t, bin, name, "1000")
	if c := waitChange(t, sub, "s"); c != (Change{Name: "s", State: StateUp, Count: 2}) {
		t.Fatalf("second process: %+v", c)
	}
	kill(a)
	if c := waitChange(t, sub, "s"); c != (Change{Name: "s", State: StateDown, Count: 1}) {
		t.Fatalf("first killed: %+v", c)
	}
	kill(b)
	waitStatus(t, tr, 0, "0 processes", countIs(0))
	if st := tr.Stats(); st.Changes != 3 || st.Events == 0 || st.Lost != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestRealFullCommand matches argv[0] and the parameters, as started.
func TestRealFullCommand(t *testing.T) {
	name := uniqueName(t)
	argv0 := "/opt/" + name + "/daemon" // not the executable's path: argv[0] as given
	tr, _ := realTracker(t,
		Spec{Name: "exact", Process: argv0, Params: []string{"1000", "1"}},
		Spec{Name: "exact-short", Process: argv0, Params: []string{"1000"}},
		Spec{Name: "partial", Process: argv0, Params: []string{"1000"}, ParamMatch: ParamMatchPartial},
		Spec{Name: "initial", Process: argv0, Params: []string{"1000", ""}, ParamMatch: ParamMatchInitial},
		Spec{Name: "any", Process: argv0, FullCommand: true},
		Spec{Name: "comm", Process: name},
	)
	bin := program(t, name)
	cmd := spawn(t, bin, argv0, "1000", "1")
	want := []int{1, 0, 1, 1, 1, 1}
	for i, n := range want {
		waitStatus(t, tr, i, strconv.Itoa(n), countIs(n))
	}
	kill(cmd)
	for i := range want {
		waitStatus(t, tr, i, "0", countIs(0))
	}
}

// TestRealRename: a process that renames itself (here by writing
// /proc/self/comm, as prctl PR_SET_NAME does) leaves one spec for
// another.
func TestRealRename(t *testing.T) {
	name, other := uniqueName(t), uniqueName(t)
	tr, _ := realTracker(t, Spec{Name: "old", Process: name}, Spec{Name: "new", Process: other})
	cmd := exec.Command(copyExecutable(t, name))
	cmd.Env = append(os.Environ(), helperEnv+"=rename:"+other)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	waitStatus(t, tr, 0, "1", countIs(1))
	if _, err := io.WriteString(in, "rename\n"); err != nil {
		t.Fatal(err)
	}
	var b [64]byte
	if n, err := out.Read(b[:]); err != nil || string(b[:n]) != "renamed\n" {
		t.Fatalf("helper: %q, %v", b[:n], err)
	}
	waitStatus(t, tr, 1, "1", countIs(1))
	waitStatus(t, tr, 0, "0", countIs(0))
}

// TestRealShell: processes started by a shell, one of them through a
// subshell that exits at once (the double fork of a daemon).
func TestRealShell(t *testing.T) {
	name := uniqueName(t)
	tr, _ := realTracker(t, Spec{Name: "s", Process: name})
	sh, err := exec.LookPath("sh")
	if err != nil {
		nstest.Unavailable(t, "no sh (apt-get install -y dash)")
	}
	bin := program(t, name)
	script := bin + " 1000 & " + bin + " 1000 & (" + bin + " 1000 &); wait"
	cmd := spawn(t, sh, "sh", "-c", script)
	waitStatus(t, tr, 0, "3", countIs(3))
	kill(cmd)
	waitStatus(t, tr, 0, "0", countIs(0))
}

// TestRealDelays: with delays, a change comes no sooner than the delay
// after its cause (lower bounds only: the clock cannot run early).
func TestRealDelays(t *testing.T) {
	name := uniqueName(t)
	const delay = 300 * time.Millisecond
	_, sub := realTracker(t, Spec{Name: "d", Process: name, ForkDelay: delay, TerminateDelay: delay})
	waitChange(t, sub, "d")
	bin := program(t, name)

	before := time.Now()
	a := spawn(t, bin, name, "1000")
	if c := waitChange(t, sub, "d"); c.State != StateUp || time.Since(before) < delay {
		t.Fatalf("%+v after %v, want up after at least %v", c, time.Since(before), delay)
	}
	before = time.Now()
	kill(a)
	if c := waitChange(t, sub, "d"); c.State != StateDown || time.Since(before) < delay {
		t.Fatalf("%+v after %v, want down after at least %v", c, time.Since(before), delay)
	}
}

// TestRealRestart: a process restarted within TerminateDelay publishes
// nothing.
func TestRealRestart(t *testing.T) {
	name := uniqueName(t)
	tr, sub := realTracker(t, Spec{Name: "r", Process: name, TerminateDelay: time.Hour})
	bin := program(t, name)
	b := spawn(t, bin, name, "1000")
	waitStatus(t, tr, 0, "up", func(s Status) bool { return s.State == StateUp && s.Count == 1 && !s.Pending })
	kill(b)
	waitStatus(t, tr, 0, "pending", func(s Status) bool { return s.State == StateUp && s.Count == 0 && s.Pending })
	spawn(t, bin, name, "1000")
	waitStatus(t, tr, 0, "up again", func(s Status) bool { return s.State == StateUp && s.Count == 1 && !s.Pending })
	// Status reflects every Change published: the initial down, then up.
	var changes []Change
	for len(sub.C()) > 0 {
		changes = append(changes, <-sub.C())
	}
	if len(changes) != 2 || changes[0].State != StateDown || changes[1].State != StateUp {
		t.Fatalf("changes %+v, want down (initial) and up only", changes)
	}
}

// TestRealUnprivileged opens the connector as nobody, with no other
// listener: the error, if any, must be ErrPermission, never a misleading
// ErrUnsupported. (Linux 6.18 accepts the request but does not answer it;
// kernels before 6.6 refuse it.)
func TestRealUnprivileged(t *testing.T) {
	needRoot(t)
	cmd := exec.Command(copyExecutable(t, "helper"))
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	got := strings.TrimSpace(string(out))
	if got != "ok" && !strings.HasPrefix(got, "permission:") {
		t.Fatalf("as nobody: %q, want ok or an ErrPermission", got)
	}
	t.Logf("as nobody: %s", got)
}

// TestRealMapErr checks the sentinels the socket's errors map to.
func TestRealMapErr(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{unix.EPERM, ErrPermission},
		{unix.EACCES, ErrPermission},
		{unix.EPROTONOSUPPORT, ErrUnsupported},
		{unix.ECONNREFUSED, ErrUnsupported},
	} {
		if err := mapErr("step", tc.err); !errors.Is(err, tc.want) || !errors.Is(err, tc.err) {
			t.Errorf("%v: %v, want %v", tc.err, err, tc.want)
		}
	}
	if err := mapErr("step", unix.ENOMEM); errors.Is(err, ErrPermission) || errors.Is(err, ErrUnsupported) {
		t.Errorf("ENOMEM: %v", err)
	}
}

// TestRealListenWhileBusy: trackers are made while other processes start
// and exit all the time, so process events (and other listeners' acks)
// reach a new socket before the kernel's answer to its listen request;
// New must still find its answer at once. (It once read the first such
// message back from its own queue forever and gave up after 2 s.)
func TestRealListenWhileBusy(t *testing.T) {
	needRoot(t)
	truePath, err := exec.LookPath("true")
	if err != nil {
		nstest.Unavailable(t, "no true program (apt-get install -y coreutils)")
	}
	stop := make(chan struct{})
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		for {
			select {
			case <-stop:
				return
			default:
			}
			exec.Command(truePath).Run()
		}
	}()
	defer func() { close(stop); <-busy }()
	// A listener already there makes the kernel send events to every
	// socket of the group, a new one too, from its bind on.
	bg, err := New(Config{Specs: []Spec{{Name: "x", Process: "none-such"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer bg.first.close()
	for i := range 10 {
		start := time.Now()
		tr, err := New(Config{Specs: []Spec{{Name: "x", Process: "none-such"}}})
		if err != nil {
			t.Fatalf("tracker %d: %v", i, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("tracker %d: New took %v", i, d)
		}
		tr.first.close()
	}
}
