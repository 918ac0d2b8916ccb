package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// packages are the Debian packages of the programs the exec tests run.
var packages = map[string]string{"sh": "dash", "true": "coreutils", "sleep": "coreutils", "mv": "coreutils", "id": "coreutils"}

// needPrograms skips t unless every program is installed, naming each
// missing one with the Debian package that provides it; with
// VIGIL_REQUIRE_NETNS=1 it fails t instead.
func needPrograms(t *testing.T, programs ...string) {
	t.Helper()
	var missing []string
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, fmt.Sprintf("%s (apt-get install -y %s)", p, packages[filepath.Base(p)]))
		}
	}
	if len(missing) > 0 {
		nstest.Unavailable(t, "missing "+strings.Join(missing, ", "))
	}
}

// script writes a /bin/sh script to the test's directory and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "check.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// noChildren fails t if this process has any child, running or zombie.
func noChildren(t *testing.T) {
	t.Helper()
	var ws unix.WaitStatus
	if pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); err != unix.ECHILD {
		t.Fatalf("a child is left: wait4 = %d, %v", pid, err)
	}
}

// gone waits (at most 10s) until process pid is dead: gone, or a zombie
// that is not ours to reap.
func gone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// pid (comm) S ppid ...
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if f[0] == "Z" && f[1] != strconv.Itoa(os.Getpid()) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d still alive", pid)
}

func TestExec(t *testing.T) {
	needPrograms(t, "/bin/sh")
	tests := []struct {
		name       string
		c          *Exec
		want       error
		weight     int
		weightSet  bool
		wantOutput string
	}{
		{"exit 0", &Exec{Path: script(t, "exit 0")}, nil, 0, false, ""},
		{"exit 1", &Exec{Path: script(t, "echo out; echo err >&2; exit 1")}, ErrUnexpected, 0, false, "out\nerr"},
		{"exit 2", &Exec{Path: script(t, "exit 2")}, ErrUnexpected, 0, false, ""},
		{"dynamic 0", &Exec{Path: script(t, "exit 0"), Dynamic: true}, nil, 0, false, ""},
		{"dynamic 1", &Exec{Path: script(t, "exit 1"), Dynamic: true}, ErrUnexpected, 0, false, ""},
		{"dynamic 2", &Exec{Path: script(t, "exit 2"), Dynamic: true}, nil, 0, true, ""},
		{"dynamic 102", &Exec{Path: script(t, "exit 102"), Dynamic: true}, nil, 100, true, ""},
		{"dynamic 255", &Exec{Path: script(t, "exit 255"), Dynamic: true}, nil, 253, true, ""},
		{"signal", &Exec{Path: script(t, "kill -9 $$")}, ErrUnexpected, 0, false, ""},
		{"arguments, no shell", &Exec{Path: script(t, `[ "$1" = 'a b' ] && [ "$2" = '$HOME;' ]`), Args: []string{"a b", "$HOME;"}}, nil, 0, false, ""},
		{"environment", &Exec{Path: script(t, `[ "$X" = y ]`), Env: []string{"X=y"}}, nil, 0, false, ""},
		{"directory", &Exec{Path: "/bin/sh", Args: []string{"-c", `[ "$(pwd)" = / ]`}, Dir: "/"}, nil, 0, false, ""},
		{"missing program", &Exec{Path: "/nonexistent/check"}, os.ErrNotExist, 0, false, ""},
		{"no program", &Exec{}, ErrInvalid, 0, false, ""},
		{"unknown user", &Exec{Path: "/bin/true", User: "no-such-user-here"}, ErrInvalid, 0, false, ""},
		{"unknown group", &Exec{Path: "/bin/true", Group: "no-such-group-here"}, ErrInvalid, 0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, ok, err := tt.c.CheckWeight(testCtx(t, 10*time.Second))
			checkErr(t, err, tt.want)
			if w != tt.weight || ok != tt.weightSet {
				t.Errorf("weight %d, %t; want %d, %t", w, ok, tt.weight, tt.weightSet)
			}
			var ee *ExitError
			if tt.wantOutput != "" && (!errors.As(err, &ee) || strings.TrimSpace(string(ee.Output)) != tt.wantOutput) {
				t.Errorf("error %v does not carry output %q", err, tt.wantOutput)
			}
			noChildren(t)
		})
	}
}

func TestExecOutputBounded(t *testing.T) {
	needPrograms(t, "/bin/sh")
	c := &Exec{Path: script(t, `i=0; while [ $i -lt 2000 ]; do echo 0123456789abcdef; i=$((i+1)); done; exit 1`)}
	var ee *ExitError
	if err := c.Check(testCtx(t, 10*time.Second)); !errors.As(err, &ee) || len(ee.Output) != maxOutput || ee.Status != 1 {
		t.Fatalf("Check: %v, want exit status 1 with %d bytes of output", err, maxOutput)
	}
	noChildren(t)
}

// TestExecTimeoutKillsGroup runs a script that starts a grandchild sleeping
// forever; the timeout must kill both, and reap the child.
func TestExecTimeoutKillsGroup(t *testing.T) {
	needPrograms(t, "/bin/sh", "sleep", "mv")
	noLeaks(t)
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "pid")
	c := &Exec{Path: script(t, fmt.Sprintf(`sleep 3600 & echo $! > %s.tmp; mv %[1]s.tmp %[1]s; wait`, pidfile))}
	start := time.Now()
	err := c.Check(testCtx(t, 500*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Check: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Check returned %v after a 500ms timeout", d)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatalf("the script did not start its grandchild in time: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	gone(t, pid)
	noChildren(t)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v, want Canceled", err)
	}
}

// TestExecLeftovers: a program that exits leaving a background process
// behind is judged at once by its exit status, and the leftover is killed.
func TestExecLeftovers(t *testing.T) {
	needPrograms(t, "/bin/sh", "sleep")
	noLeaks(t)
	pidfile := filepath.Join(t.TempDir(), "pid")
	c := &Exec{Path: script(t, fmt.Sprintf(`sleep 3600 & echo $! > %s; exit 0`, pidfile))}
	start := time.Now()
	checkErr(t, c.Check(testCtx(t, 10*time.Second)), nil)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Check took %v", d)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	gone(t, pid)
	noChildren(t)
}

func TestExecCredential(t *testing.T) {
	needPrograms(t, "/bin/sh", "id")
	if os.Geteuid() != 0 {
		nstest.Unavailable(t, "running as another user needs root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	want := nobody.Uid + ":" + nobody.Gid
	check := `test "$(id -u):$(id -g)" = "$1" || { id; exit 1; }`
	for _, c := range []*Exec{
		{Path: "/bin/sh", Args: []string{"-c", check, "sh", want}, User: "nobody"},
		{Path: "/bin/sh", Args: []string{"-c", check, "sh", want}, User: nobody.Uid, Group: nobody.Gid},
		{Path: "/bin/sh", Args: []string{"-c", check, "sh", "0:" + nobody.Gid}, Group: nobody.Gid},
	} {
		checkErr(t, c.Check(testCtx(t, 10*time.Second)), nil)
	}
	// The check compares, so it can fail too.
	checkErr(t, (&Exec{Path: "/bin/sh", Args: []string{"-c", check, "sh", "0:0"}, User: "nobody"}).Check(testCtx(t, 10*time.Second)), ErrUnexpected)
	noChildren(t)
}

// TestExecForkBombKilled: a script that keeps forking (a bounded fork
// bomb: 300 sleepers, started as fast as the shell can) and never exits
// is stopped at its timeout with every process of its group: the check
// returns in bounded time, and no process of the group is left.
func TestExecForkBombKilled(t *testing.T) {
	needPrograms(t, "/bin/sh", "sleep", "mv")
	noLeaks(t)
	pidfile := filepath.Join(t.TempDir(), "pid")
	c := &Exec{Path: script(t, fmt.Sprintf(`echo $$ > %s.tmp; mv %[1]s.tmp %[1]s
i=0
while [ $i -lt 300 ]; do sleep 3600 & i=$((i+1)); done
while :; do sleep 3600; done`, pidfile))}
	start := time.Now()
	if err := c.Check(testCtx(t, time.Second)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Check: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Check returned %v after a 1s timeout", d)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatalf("the script did not start: %v", err)
	}
	pgid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	for deadline := time.Now().Add(10 * time.Second); ; {
		left := groupMembers(pgid)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d processes of group %d left: %v", len(left), pgid, left[:min(len(left), 10)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	noChildren(t)
}

// groupMembers returns the live (not zombie) processes of process group
// pgid.
func groupMembers(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) S ppid pgrp ...
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			out = append(out, pid)
		}
	}
	return out
}
