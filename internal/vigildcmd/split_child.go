package vigildcmd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// parentFD is the child's end of the socketpair with its parent.
const parentFD = 3

// parentLink is a child's end of its socketpair with the parent: the
// child sends its readiness and heartbeats, and stops when the parent is
// gone (the socket reads EOF: the parent died, even by SIGKILL).
type parentLink struct {
	c      io.ReadWriteCloser
	log    *slog.Logger
	mu     sync.Mutex // serializes writes
	closed atomic.Bool
	// gone is called once when the parent is gone; nil means SIGTERM to
	// this process, which stops it gracefully.
	gone func()
	done chan struct{} // closed when watch returns

	hmu     sync.Mutex
	held    []netip.Addr       // the last Held the parent sent
	hasHeld bool               // whether it sent one
	onHeld  func([]netip.Addr) // applies it; nil until set
}

// openParentLink opens fd 3, the socketpair the parent gave, and starts
// watching for the parent's death.
func openParentLink(log *slog.Logger) (*parentLink, error) {
	f := os.NewFile(parentFD, "vigild-parent")
	if f == nil {
		return nil, fmt.Errorf("no file descriptor %d (--child is set by vigild's parent process)", parentFD)
	}
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("file descriptor %d: %w (--child is set by vigild's parent process)", parentFD, err)
	}
	return newParentLink(c, log, nil), nil
}

func newParentLink(c io.ReadWriteCloser, log *slog.Logger, gone func()) *parentLink {
	l := &parentLink{c: c, log: log, gone: gone, done: make(chan struct{})}
	if l.gone == nil {
		l.gone = func() { syscall.Kill(os.Getpid(), syscall.SIGTERM) }
	}
	go l.watch()
	return l
}

// watch reads the parent's messages until the socket fails: the
// parent's end. A line that is not a message is skipped.
func (l *parentLink) watch() {
	defer close(l.done)
	sc := bufio.NewScanner(l.c)
	for sc.Scan() {
		var m parentMsg
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			l.log.Warn("Unreadable message from the parent process", "line", sc.Text())
			continue
		}
		l.hmu.Lock()
		l.held, l.hasHeld = m.Held, true
		if l.onHeld != nil {
			l.onHeld(m.Held)
		}
		l.hmu.Unlock()
	}
	if !l.closed.Load() {
		l.log.Error("The parent process is gone: stopping")
		l.gone()
	}
}

// close closes the link and waits for its watcher.
func (l *parentLink) close() {
	l.closed.Store(true)
	l.c.Close()
	<-l.done
}

// send writes m, a line of JSON; a parent that does not read for a
// second is not waited for.
func (l *parentLink) send(m childMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if d, ok := l.c.(interface{ SetWriteDeadline(time.Time) error }); ok {
		d.SetWriteDeadline(time.Now().Add(time.Second))
	}
	_, err = l.c.Write(append(b, '\n'))
	return err
}

// notify is the child's sd_notify: READY=1 goes to the parent, which
// tells systemd once every child is ready; the rest is the parent's to
// say.
func (l *parentLink) notify(state string) error {
	if strings.HasPrefix(state, "READY=1") {
		return l.send(childMsg{Ready: true})
	}
	return nil
}

// heldSetter is a Supervisor that can be told what masters elsewhere
// hold (vigil.Supervisor.SetHeldVIPs).
type heldSetter interface {
	SetHeldVIPs(addrs []netip.Addr)
}

// relayHeld gives sup, the checker child's Supervisor, the VIPs the
// parent says the VRRP child holds, now and whenever they change.
func (l *parentLink) relayHeld(sup Supervisor) {
	h, ok := sup.(heldSetter)
	if !ok {
		return
	}
	l.hmu.Lock()
	defer l.hmu.Unlock()
	l.onHeld = h.SetHeldVIPs
	if l.hasHeld {
		h.SetHeldVIPs(l.held)
	}
}

// resumer is a Supervisor that can resume instances as MASTER
// (vigil.Supervisor.ResumeMasters).
type resumer interface {
	ResumeMasters(names ...string) error
}

// healthChecker is a Supervisor that says whether its loops beat
// (vigil.Supervisor.Healthy).
type healthChecker interface{ Healthy() bool }

// resume makes the VRRP child's Supervisor resume the instances its
// predecessor held as MASTER (names: resumeEnv's value).
func (l *parentLink) resume(sup Supervisor, names string) {
	if names == "" {
		return
	}
	r, ok := sup.(resumer)
	if !ok {
		return
	}
	list := strings.Split(names, ",")
	l.log.Info("Resuming the instances the previous VRRP child held as MASTER", "instances", names)
	if err := r.ResumeMasters(list...); err != nil {
		l.log.Warn("Resuming as MASTER", "err", err)
	}
}

// run beats every quarter of deadline while sup is healthy, until ctx is
// done; the VRRP child's beats name its MASTER instances and their VIPs
// (vipsOf, from the configuration running).
func (l *parentLink) run(ctx context.Context, sup Supervisor, deadline time.Duration, vipsOf func(instance string) []netip.Prefix) {
	t := time.NewTicker(max(deadline/4, time.Millisecond))
	defer t.Stop()
	failed := false
	for {
		if h, ok := sup.(healthChecker); !ok || h.Healthy() {
			m := childMsg{Beat: true}
			if vipsOf != nil {
				for _, is := range sup.State().Instances {
					if is.State == vrrp.Master.String() {
						m.Masters = append(m.Masters, is.Name)
						for _, v := range vipsOf(is.Name) {
							m.Held = append(m.Held, v.Addr())
						}
					}
				}
			}
			if err := l.send(m); err != nil && !failed && !l.closed.Load() {
				failed = true
				l.log.Error("Cannot send a heartbeat to the parent", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// dumpName is the dump file name for o's process: the checker child
// writes keepalived_check.data (keepalived's checker's name) and
// vigild_check.json, so that it does not overwrite the VRRP child's.
func dumpName(o *Options, name string) string {
	if o.Child != childChecker.String() {
		return name
	}
	switch name {
	case DataFile:
		return "keepalived_check.data"
	case JSONFile:
		return "vigild_check.json"
	}
	return name
}
