//go:build linux

package vigildcmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// execLauncher starts the children by executing this program again with
// the parent's command line and --child=KIND, the child's end of a
// socketpair as fd 3, and PR_SET_PDEATHSIG SIGTERM (keepalived's
// children's too). The children's environment drops systemd's
// NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID: the parent alone talks
// to systemd.
type execLauncher struct {
	exe            string
	args           []string
	stdout, stderr io.Writer
}

// execLauncherFor is the launcher for the parent started with args.
func execLauncherFor(args []string, env *Env) (launcher, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return &execLauncher{exe: exe, args: slices.Clone(args), stdout: env.Stdout, stderr: env.Stderr}, nil
}

func (l *execLauncher) launch(kind childKind, resume []string) (childProc, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	mine := os.NewFile(uintptr(fds[0]), "vigild-child-"+kind.String())
	theirs := os.NewFile(uintptr(fds[1]), "vigild-parent")
	defer theirs.Close()
	conn, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(l.exe, append(slices.Clone(l.args), "--child="+kind.String())...)
	cmd.Stdout, cmd.Stderr = l.stdout, l.stderr
	cmd.ExtraFiles = []*os.File{theirs} // fd 3
	cmd.Env = childEnv(os.Environ(), resume)
	// PR_SET_PDEATHSIG fires when the thread that forked exits, not the
	// process (golang/go#27505): the parent never locks a goroutine to
	// its thread, so its threads last as long as it does. The child also
	// stops when its end of the socketpair reads EOF.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		conn.Close()
		return nil, err
	}
	c := &execChild{cmd: cmd, conn: conn, msgs: make(chan childMsg, 16), exited: make(chan struct{})}
	go c.read()
	go c.wait()
	return c, nil
}

// childEnv is the parent's environment without systemd's notification
// variables, with resumeEnv naming the instances to resume.
func childEnv(environ, resume []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", resumeEnv:
			continue
		}
		out = append(out, kv)
	}
	if len(resume) > 0 {
		out = append(out, resumeEnv+"="+strings.Join(resume, ","))
	}
	return out
}

// execChild is a child process started by execLauncher.
type execChild struct {
	cmd    *exec.Cmd
	conn   net.Conn
	msgs   chan childMsg
	exited chan struct{}
	status childStatus // set before exited is closed
	wmu    sync.Mutex  // serializes Send
}

func (c *execChild) Pid() int                { return c.cmd.Process.Pid }
func (c *execChild) Msgs() <-chan childMsg   { return c.msgs }
func (c *execChild) Exited() <-chan struct{} { return c.exited }
func (c *execChild) Status() childStatus     { return c.status }

func (c *execChild) Signal(sig syscall.Signal) {
	select {
	case <-c.exited:
	default:
		c.cmd.Process.Signal(sig)
	}
}

func (c *execChild) Send(m parentMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, err = c.conn.Write(append(b, '\n'))
	return err
}

// read decodes the child's messages until its socket closes; a line that
// is not a message is skipped.
func (c *execChild) read() {
	defer close(c.msgs)
	sc := bufio.NewScanner(c.conn)
	for sc.Scan() {
		var m childMsg
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		select {
		case c.msgs <- m:
		case <-c.exited:
			return
		}
	}
}

// wait reaps the child, then closes the socket, which ends read.
func (c *execChild) wait() {
	c.cmd.Wait()
	ws, _ := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		c.status = childStatus{Code: -1, Signal: ws.Signal()}
	} else {
		c.status = childStatus{Code: ws.ExitStatus()}
	}
	close(c.exited)
	c.conn.Close()
}
