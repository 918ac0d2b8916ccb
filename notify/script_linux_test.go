package notify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// argsOut is a script body writing its arguments, each followed by a NUL,
// to out.
func argsOut(out string) string {
	return `printf '%s\0' "$@" > '` + out + `'`
}

// nulFields splits NUL-terminated fields.
func nulFields(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\x00"), "\x00")
}

func TestScriptArgv(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	s := &Script{Args: []string{writeScript(t, dir, "n.sh", argsOut(out)), " a b ", "", "'q'", `"dq"`, "$HOME", "*", `\x41`, "x\ny"}}
	res, err := s.Run(testCtx(t, 10*time.Second), InstanceArgs("VI_1", Master, 100)...)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{" a b ", "", "'q'", `"dq"`, "$HOME", "*", `\x41`, "x\ny", "INSTANCE", "VI_1", "MASTER", "100"}
	if got := nulFields(readFile(t, out)); !slices.Equal(got, want) {
		t.Errorf("argv[1:] = %q, want %q", got, want)
	}
	if !slices.Equal(res.Argv, append([]string{s.Args[0]}, want...)) {
		t.Errorf("Result.Argv = %q", res.Argv)
	}
	if !res.OK() || res.ExitCode != 0 || res.Signal != 0 || res.PID <= 0 {
		t.Errorf("result %+v", res)
	}
	if len(s.Args) != 9 {
		t.Errorf("Run changed Args: %q", s.Args)
	}
}

// TestScriptArgv0: argv[0] is Args[0] even when Path is another file.
func TestScriptArgv0(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	s := &Script{Path: "/bin/sh", Args: []string{"custom-name", "-c", `cat /proc/$$/cmdline > "$0"`}}
	if _, err := s.Run(testCtx(t, 10*time.Second), out); err != nil {
		t.Fatal(err)
	}
	want := []string{"custom-name", "-c", `cat /proc/$$/cmdline > "$0"`, out}
	if got := nulFields(readFile(t, out)); !slices.Equal(got, want) {
		t.Errorf("cmdline %q, want %q", got, want)
	}
}

func TestScriptEnv(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "env")
	script := writeScript(t, dir, "env.sh", "env > '"+out+"'")
	check := func(t *testing.T, want, gone []string) {
		t.Helper()
		env := lines(readFile(t, out))
		for _, kv := range want {
			if !slices.Contains(env, kv) {
				t.Errorf("%s missing from %q", kv, env)
			}
		}
		for _, kv := range env {
			name, _, _ := strings.Cut(kv, "=")
			if slices.Contains(gone, name) {
				t.Errorf("%s left in the environment", kv)
			}
		}
	}
	scrubbedNames := []string{"IFS", "LD_PRELOAD", "LD_LIBRARY_PATH"}

	t.Run("given", func(t *testing.T) {
		s := &Script{Args: []string{script}, Env: []string{
			"FOO=bar", "IFS=x", "LD_PRELOAD=/nonexistent/lib.so", "LD_LIBRARY_PATH=/nonexistent",
			"PATH=/usr/bin:/bin", "LD_PRELOADX=kept", "XIFS=kept",
		}}
		if _, err := s.Run(testCtx(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		check(t, []string{"FOO=bar", "PATH=/usr/bin:/bin", "LD_PRELOADX=kept", "XIFS=kept"}, append(scrubbedNames, "HOME"))
	})
	t.Run("inherited", func(t *testing.T) {
		t.Setenv("VIGIL_NOTIFY_TEST", "yes")
		t.Setenv("IFS", "x")
		t.Setenv("LD_LIBRARY_PATH", "/nonexistent")
		s := &Script{Args: []string{script}}
		if _, err := s.Run(testCtx(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		check(t, []string{"VIGIL_NOTIFY_TEST=yes"}, scrubbedNames)
	})
}

func TestScriptExitStatus(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		body   string
		code   int
		sig    syscall.Signal
		ok     bool
		string string
	}{
		{"exit 0", 0, 0, true, "exit status 0"},
		{"exit 3", 3, 0, false, "exit status 3"},
		{"exit 255", 255, 0, false, "exit status 255"},
		{"kill -USR1 $$", -1, syscall.SIGUSR1, false, "killed by SIGUSR1"},
	}
	for i, tt := range tests {
		s := &Script{Args: []string{writeScript(t, dir, strconv.Itoa(i), tt.body)}}
		res, err := s.Run(testCtx(t, 10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != tt.code || res.Signal != tt.sig || res.OK() != tt.ok || res.String() != tt.string {
			t.Errorf("%s: got %+v (%q)", tt.body, res, res.String())
		}
	}
}

// TestScriptProcessGroup: the script leads a process group of its own.
func TestScriptProcessGroup(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	s := &Script{Args: []string{writeScript(t, dir, "pg.sh", `echo $$ $(cut -d' ' -f5 /proc/$$/stat) > '`+out+`'`)}}
	res, err := s.Run(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(readFile(t, out))
	pid := strconv.Itoa(res.PID)
	if len(f) != 2 || f[0] != pid || f[1] != pid {
		t.Errorf("pid and pgid %q, want both %s", f, pid)
	}
	if pgid := syscall.Getpgrp(); strconv.Itoa(pgid) == pid {
		t.Errorf("the script shares our process group %d", pgid)
	}
}

// gone reports whether process pid has exited (it may linger as a zombie
// if nobody reaps it).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// waitGone waits up to 10s for pid to exit: a SIGKILLed process may take
// a moment to die.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readPID waits for the script to write a process ID into p and returns
// it; the file is written once, by "echo PID > p.tmp; mv p.tmp p".
func readPID(t *testing.T, p string) int {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitFile waits (up to 30s) for the script to create p: that it has
// set its traps, say.
func waitFile(t *testing.T, p string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(p); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not created in 30s", p)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runUntilReady runs s, and cancels its context once s has created the
// file ready; it returns Run's results.
func runUntilReady(t *testing.T, s *Script, ready string) (Result, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(testCtx(t, time.Minute))
	defer cancel()
	type ret struct {
		res Result
		err error
	}
	done := make(chan ret, 1)
	go func() {
		res, err := s.Run(ctx)
		done <- ret{res, err}
	}()
	waitFile(t, ready)
	cancel()
	r := <-done
	return r.res, r.err
}

// TestScriptTimeoutSIGTERM: at the timeout a script gets SIGTERM.
func TestScriptTimeoutSIGTERM(t *testing.T) {
	s := &Script{Args: []string{writeScript(t, t.TempDir(), "t.sh", "exec sleep 1000")}, Timeout: 100 * time.Millisecond}
	res, err := s.Run(testCtx(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut || res.Canceled || res.Signal != syscall.SIGTERM || res.ExitCode != -1 || res.String() != "killed by SIGTERM after timeout" {
		t.Errorf("result %+v (%s)", res, res)
	}
	if res.Duration < 100*time.Millisecond {
		t.Errorf("stopped after %v", res.Duration)
	}
}

// TestScriptStopKillsGroup: a stopped script's whole process group gets
// SIGTERM, and once the script has exited, what is left of its group is
// killed, including a child that ignores SIGTERM. (Timeouts stop scripts
// the same way, from the same code; cancellation lets the test wait until
// the script has set its traps.)
func TestScriptStopKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "ignorer")
	termFile := filepath.Join(dir, "term")
	ready := filepath.Join(dir, "ready")
	body := `(trap '' TERM; exec sleep 1000) &
echo $! > '` + pidFile + `'
(trap 'echo child > ` + termFile + `; exit 0' TERM; touch '` + ready + `.child'; while :; do sleep 0.05; done) &
c=$!
trap 'wait $c; exit 7' TERM
while [ ! -e '` + ready + `.child' ]; do sleep 0.01; done
touch '` + ready + `'
wait`
	s := &Script{Args: []string{writeScript(t, dir, "t.sh", body)}, KillDelay: time.Minute}
	res, err := runUntilReady(t, s, ready)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Canceled || res.TimedOut || res.Signal != 0 || res.ExitCode != 7 || res.OK() {
		t.Errorf("result %+v, want canceled, exit status 7", res)
	}
	if got := readFile(t, termFile); got != "child\n" {
		t.Errorf("the child got no SIGTERM: %q", got)
	}
	if res.Duration > 30*time.Second {
		t.Errorf("stopped after %v: waited for KillDelay", res.Duration)
	}
	waitGone(t, readPID(t, pidFile))
}

// TestScriptKillDelay: a script that ignores SIGTERM is killed KillDelay
// later; with a negative KillDelay it gets SIGKILL and no SIGTERM.
func TestScriptKillDelay(t *testing.T) {
	dir := t.TempDir()
	termFile := filepath.Join(dir, "term")
	ready := filepath.Join(dir, "ready")
	script := writeScript(t, dir, "k.sh", `trap 'echo term >> `+termFile+`' TERM
touch '`+ready+`'
while :; do sleep 0.05; done`)

	s := &Script{Args: []string{script}, KillDelay: 400 * time.Millisecond}
	t0 := time.Now()
	res, err := runUntilReady(t, s, ready)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Canceled || res.Signal != syscall.SIGKILL {
		t.Errorf("result %+v, want SIGKILL", res)
	}
	if res.Duration < 400*time.Millisecond || time.Since(t0) < 400*time.Millisecond {
		t.Errorf("killed after %v, before KillDelay", res.Duration)
	}
	if got := readFile(t, termFile); !strings.HasPrefix(got, "term\n") {
		t.Errorf("SIGTERM not seen first: %q", got)
	}

	os.Remove(termFile)
	os.Remove(ready)
	s.KillDelay = -1
	res, err = runUntilReady(t, s, ready)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Canceled || res.Signal != syscall.SIGKILL {
		t.Errorf("result %+v, want SIGKILL", res)
	}
	if _, err := os.Stat(termFile); err == nil {
		t.Errorf("SIGTERM sent with a negative KillDelay")
	}
}

func TestScriptCanceled(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	s := &Script{Args: []string{writeScript(t, dir, "c.sh", "touch '"+ready+"'; exec sleep 1000")}}
	res, err := runUntilReady(t, s, ready)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Canceled || res.TimedOut || res.Signal != syscall.SIGTERM {
		t.Errorf("result %+v, want canceled by SIGTERM", res)
	}
	if res.String() != "killed by SIGTERM after cancel" {
		t.Errorf("String %q", res.String())
	}
}

// TestScriptNoShebang: a file without "#!" runs through /bin/sh with the
// same arguments, as execvp (and keepalived's system()) would.
func TestScriptNoShebang(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	p := filepath.Join(dir, "plain")
	if err := os.WriteFile(p, []byte(`printf '%s\0' "$0" "$@" > '`+out+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := (&Script{Args: []string{p, "a b"}}).Run(testCtx(t, 10*time.Second), "c")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{p, "a b", "c"}; !slices.Equal(nulFields(readFile(t, out)), want) || !res.OK() {
		t.Errorf("got %q (%v), want %q", readFile(t, out), res, want)
	}
}

func TestScriptBareNameAndStartError(t *testing.T) {
	res, err := (&Script{Args: []string{"true"}}).Run(testCtx(t, 10*time.Second))
	if err != nil || !res.OK() {
		t.Errorf("true: %v, %v", res, err)
	}
	_, err = (&Script{Args: []string{"/nonexistent/script"}}).Run(testCtx(t, 10*time.Second))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "/nonexistent/script") {
		t.Errorf("missing script: %v", err)
	}
	_, err = (&Script{}).Run(testCtx(t, 10*time.Second))
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("no Args: %v", err)
	}
}

// openToNobody makes dir and its parent (t.TempDir's) searchable by
// everyone, so that another user can run a script in it.
func openToNobody(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestScriptUser runs a script as nobody, with and without supplementary
// groups (root only).
func TestScriptUser(t *testing.T) {
	needRoot(t, "running a script as nobody")
	nobody, err := LookupUser("nobody", "", false)
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	dir := t.TempDir()
	openToNobody(t, dir)
	out := filepath.Join(dir, "out")
	script := writeScript(t, dir, "id.sh", "{ id -u; id -g; id -G; } > '"+out+"'")
	for _, tt := range []struct {
		user User
		want string
	}{
		{User{UID: nobody.UID, GID: nobody.GID}, "%u\n%g\n%g\n"},
		{User{UID: nobody.UID, GID: 4242, Groups: []uint32{nobody.GID, 4243}}, "%u\n4242\n4242 4243 %g\n"},
	} {
		if err := os.WriteFile(out, nil, 0o666); err != nil {
			t.Fatal(err)
		}
		os.Chmod(out, 0o666)
		res, err := (&Script{Args: []string{script}, User: &tt.user}).Run(testCtx(t, 10*time.Second))
		if err != nil || !res.OK() {
			t.Fatalf("%+v: %v %v", tt.user, res, err)
		}
		want := strings.NewReplacer("%u", strconv.Itoa(int(nobody.UID)), "%g", strconv.Itoa(int(nobody.GID))).Replace(tt.want)
		if got := readFile(t, out); got != want {
			t.Errorf("%+v: id says %q, want %q", tt.user, got, want)
		}
	}
}
