package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// run starts argv and waits for it; see Script.Run.
func (s *Script) run(ctx context.Context, argv []string) (Result, error) {
	res := Result{Argv: argv}
	prog := s.program()
	if !strings.Contains(prog, "/") {
		p, err := exec.LookPath(prog)
		if err != nil {
			return res, fmt.Errorf("notify: %s: %w", s, err)
		}
		prog = p
	}
	// The parent-death signal follows the forking thread: keep it until
	// the script has exited.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	start := time.Now()
	cmd, err := s.start(prog, argv)
	if errors.Is(err, syscall.ENOEXEC) {
		// No "#!" line: run it with /bin/sh, as execvp does.
		cmd, err = s.start("/bin/sh", append([]string{"/bin/sh", prog}, argv[1:]...))
	}
	if err != nil {
		return res, fmt.Errorf("notify: %s: %w", s, err)
	}
	pid := cmd.Process.Pid
	res.PID = pid

	exited := make(chan error, 1)
	go func() { exited <- waitExit(pid) }()

	var deadline <-chan time.Time
	if d := s.timeout(); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		deadline = t.C
	}
	var waitErr error
	stopped := true
	select {
	case waitErr = <-exited:
		stopped = false
	case <-deadline:
		res.TimedOut = true
		waitErr = s.stop(pid, exited)
	case <-ctx.Done():
		res.Canceled = true
		waitErr = s.stop(pid, exited)
	}
	if stopped {
		// The leader is a zombie, so its group ID is still ours: kill
		// whatever of the group outlived it, as keepalived does after a
		// script it terminated.
		_ = unix.Kill(-pid, unix.SIGKILL)
	}
	err = cmd.Wait()
	res.Duration = time.Since(start)
	if waitErr != nil {
		return res, fmt.Errorf("notify: %s: waiting for process %d: %w", s, pid, waitErr)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return res, fmt.Errorf("notify: %s: %w", s, err)
	}
	res.ExitCode = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal()
	}
	return res, nil
}

// start starts prog with argv in a new process group, as s.User.
func (s *Script) start(prog string, argv []string) (*exec.Cmd, error) {
	cmd := &exec.Cmd{
		Path: prog,
		Args: argv,
		Env:  s.env(),
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:    true,
			Pdeathsig:  syscall.SIGTERM,
			Credential: credential(s.User),
		},
	}
	return cmd, cmd.Start()
}

// credential is the process credential for u: nil, changing nothing,
// when u is nil, or when this process is not root and u is its own uid
// and gid without supplementary groups (it could not drop its own).
func credential(u *User) *syscall.Credential {
	if u == nil {
		return nil
	}
	if os.Geteuid() != 0 && int(u.UID) == os.Geteuid() && int(u.GID) == os.Getegid() && len(u.Groups) == 0 {
		return nil
	}
	return &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: append([]uint32{}, u.Groups...)}
}

// stop ends the process group of pid: SIGTERM, then SIGKILL after the
// kill delay (or SIGKILL at once), and returns waitExit's result.
func (s *Script) stop(pid int, exited <-chan error) error {
	d := s.killDelay()
	if d < 0 {
		_ = unix.Kill(-pid, unix.SIGKILL)
		return <-exited
	}
	_ = unix.Kill(-pid, unix.SIGTERM)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-exited:
		return err
	case <-t.C:
	}
	_ = unix.Kill(-pid, unix.SIGKILL)
	return <-exited
}

// waitExit waits for pid to exit without reaping it, so that its process
// group ID cannot be reused before the group is killed.
func waitExit(pid int) error {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err
		}
	}
}

// signalName is "SIGKILL" for syscall.SIGKILL.
func signalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return sig.String()
}
