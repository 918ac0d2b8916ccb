package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// run starts the program in its own process group and waits for it. When
// ctx ends first, the group is killed. Once the program has exited, but
// before it is reaped (so its process group ID cannot be reused yet), what
// is left of its group is killed too.
func (c *Exec) run(ctx context.Context, uid, gid int, out io.Writer) (status int, err error) {
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env, cmd.Dir = c.Env, c.Dir
	cmd.Stdout, cmd.Stderr = out, out
	// A descendant that left the group may hold the output pipe open.
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if uid >= 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() {
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				exited <- err
				return
			}
		}
	}()
	var waitErr error
	select {
	case waitErr = <-exited:
	case <-ctx.Done():
		_ = unix.Kill(-pid, unix.SIGKILL)
		waitErr = <-exited
	}
	// The leader is a zombie now: the group ID is still ours to kill.
	_ = unix.Kill(-pid, unix.SIGKILL)
	err = cmd.Wait()
	if waitErr != nil {
		return 0, fmt.Errorf("waiting for process %d: %w", pid, waitErr)
	}
	if cerr := ctx.Err(); cerr != nil {
		return 0, fmt.Errorf("process group %d killed: %w", pid, cerr)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && !errors.Is(err, exec.ErrWaitDelay) {
		return 0, err
	}
	return cmd.ProcessState.ExitCode(), nil
}
