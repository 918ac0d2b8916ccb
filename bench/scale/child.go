//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
	"golang.org/x/sys/unix"
)

// The children are this program run again with -child MODE, in a
// namespace (`ip netns exec`). Each writes JSON lines to stdout: a
// message with Ready once it is up, and one with Report after each
// SIGUSR1; SIGTERM stops it.

// message is one line of a child's stdout.
type message struct {
	Ready bool `json:"ready,omitempty"`
	// Report: the answer to a SIGUSR1.
	Report bool `json:"report,omitempty"`
	// Listener: connections accepted so far.
	Accepts uint64 `json:"accepts,omitempty"`
	// Floors: connects that succeeded and failed so far.
	OK   uint64 `json:"ok,omitempty"`
	Fail uint64 `json:"fail,omitempty"`
	// vigil: startup, the state after the window, the reloads.
	NewMs      float64        `json:"new_ms,omitempty"`
	TableMs    float64        `json:"table_ms,omitempty"`
	Dests      int            `json:"dests,omitempty"`
	Up         int            `json:"up,omitempty"`
	Down       int            `json:"down,omitempty"`
	Downs      int            `json:"downs_reported,omitempty"` // EventServerDown seen since the start
	FirstErr   string         `json:"first_err,omitempty"`
	Reloads    []reloadSample `json:"reloads,omitempty"`
	ReloadsErr string         `json:"reloads_err,omitempty"`
}

// reloadSample is one Reload of the running Supervisor.
type reloadSample struct {
	// Kind is "weight" (one real server's weight differs) or "same".
	Kind string `json:"kind"`
	// Return is the time Reload took to return; Table the time from
	// calling Reload until the IPVS table showed the new weight (weight
	// reloads only).
	Return time.Duration `json:"return"`
	Table  time.Duration `json:"table,omitempty"`
	// Writes are the IPVS table's write operations by kind, counted from
	// the call until Settle after it.
	Writes map[string]int `json:"writes"`
	// Changed counts the real servers Changes listed as changed, added
	// or removed, and the services likewise.
	ChangedRS   int `json:"changed_rs"`
	ChangedSvcs int `json:"changed_svcs"`
}

// say writes m as one JSON line.
// raiseNofile raises RLIMIT_NOFILE's soft limit to the hard limit, and
// both to want where the process may (CAP_SYS_RESOURCE); it fails when
// the limit stays below need.
func raiseNofile(want, need uint64) error {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return err
	}
	if r.Max < want {
		up := unix.Rlimit{Cur: want, Max: want}
		if unix.Setrlimit(unix.RLIMIT_NOFILE, &up) == nil {
			return nil
		}
	}
	r.Cur = r.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return err
	}
	if r.Cur < need {
		return fmt.Errorf("RLIMIT_NOFILE: hard limit %d, need %d", r.Max, need)
	}
	return nil
}

// runChild runs mode; it returns the process's exit status.
func runChild(mode string, c *config, stdout, stderr io.Writer) int {
	if err := raiseNofile(1<<16, uint64(c.vs)+2048); err != nil {
		fmt.Fprintln(stderr, "scale:", err)
		return 1
	}
	var err error
	switch mode {
	case "listen":
		err = childListen(c, stdout)
	case "vigil":
		err = childVigil(c, stdout, stderr)
	case "floor-raw":
		err = childFloorRaw(c, stdout)
	case "floor-net":
		err = childFloorNet(c, stdout)
	default:
		err = fmt.Errorf("unknown child mode %q", mode)
	}
	if err != nil {
		fmt.Fprintf(stderr, "scale child %s: %v\n", mode, err)
		return 1
	}
	return 0
}

// childListen listens on 0.0.0.0:basePort+i for each virtual server i,
// accepts and closes every connection, and reports the count.
func childListen(c *config, stdout io.Writer) error {
	usr1, term := benchkit.ChildSignals()
	accepts, err := benchkit.AcceptAndClose(basePort, c.vs)
	if err != nil {
		return err
	}
	benchkit.Say(stdout, message{Ready: true})
	for {
		select {
		case <-usr1:
			benchkit.Say(stdout, message{Report: true, Accepts: accepts.Load()})
		case <-term:
			return nil
		}
	}
}

// targets are the check targets: real server j of virtual server i is
// rsAddr(j):basePort+i, virtual server by virtual server.
func targets(c *config) []netip.AddrPort {
	out := make([]netip.AddrPort, 0, c.vs*c.rs)
	for i := range c.vs {
		for j := range c.rs {
			out = append(out, netip.AddrPortFrom(rsAddr(j), basePort+uint16(i)))
		}
	}
	return out
}

// floorCounts are a floor's results.
type floorCounts struct{ ok, fail atomic.Uint64 }

// serveFloor reports counts on SIGUSR1 until SIGTERM.
func serveFloor(stdout io.Writer, fc *floorCounts, usr1, term chan os.Signal) {
	for {
		select {
		case <-usr1:
			benchkit.Say(stdout, message{Report: true, OK: fc.ok.Load(), Fail: fc.fail.Load()})
		case <-term:
			return
		}
	}
}

// dueAt is when, after the start, a floor makes its k-th connect: the n
// targets in turn, spread evenly over each interval.
func dueAt(k, n int, interval time.Duration) time.Duration {
	return time.Duration(k/n)*interval + time.Duration(k%n)*interval/time.Duration(n)
}

// floorTick is how the floors batch their connects: the connects due in
// one tick are made together at its start.
const floorTick = 10 * time.Millisecond

// childFloorRaw is the raw-syscall floor: one locked OS thread that, at
// each tick, makes the connects due (the targets spread evenly over the
// interval) with non-blocking socket(2) and connect(2), waits for them in
// one epoll set, reads SO_ERROR and closes. No Go netpoller, no
// goroutine per connect, no timer per target.
func childFloorRaw(c *config, stdout io.Writer) error {
	usr1, term := benchkit.ChildSignals()
	var fc floorCounts
	stop := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- floorRawLoop(c, &fc, stop)
	}()
	benchkit.Say(stdout, message{Ready: true})
	done := make(chan struct{})
	go func() { serveFloor(stdout, &fc, usr1, term); close(done) }()
	select {
	case <-done:
		close(stop)
		return <-errc
	case err := <-errc:
		return err
	}
}

func floorRawLoop(c *config, fc *floorCounts, stop <-chan struct{}) error {
	tgts := targets(c)
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(epfd)
	pending := map[int]time.Time{} // fd → connect time
	events := make([]unix.EpollEvent, 256)
	n := len(tgts)
	start := time.Now()
	due := func(k int) time.Duration { return dueAt(k, n, c.delay) }
	next := 0 // the k-th connect overall; target k % n
	lastSweep := start
	for {
		select {
		case <-stop:
			for fd := range pending {
				unix.Close(fd)
			}
			return nil
		default:
		}
		now := time.Since(start)
		// The connects due up to the end of this tick.
		tickEnd := (now/floorTick + 1) * floorTick
		for due(next) < tickEnd {
			t := tgts[next%n]
			next++
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				fc.fail.Add(1)
				continue
			}
			err = unix.Connect(fd, &unix.SockaddrInet4{Port: int(t.Port()), Addr: t.Addr().As4()})
			switch {
			case err == nil:
				fc.ok.Add(1)
				unix.Close(fd)
				continue
			case !errors.Is(err, unix.EINPROGRESS):
				fc.fail.Add(1)
				unix.Close(fd)
				continue
			}
			ev := unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(fd)}
			if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
				fc.fail.Add(1)
				unix.Close(fd)
				continue
			}
			pending[fd] = time.Now()
		}
		wait := max(int((due(next)-time.Since(start)+time.Millisecond-1)/time.Millisecond), 0)
		k, err := unix.EpollWait(epfd, events, min(wait, 100))
		if err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
		for _, ev := range events[:max(k, 0)] {
			fd := int(ev.Fd)
			if soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && soerr == 0 {
				fc.ok.Add(1)
			} else {
				fc.fail.Add(1)
			}
			unix.Close(fd) // also leaves the epoll set
			delete(pending, fd)
		}
		if time.Since(lastSweep) >= time.Second {
			lastSweep = time.Now()
			for fd, t := range pending {
				if lastSweep.Sub(t) > c.timeout {
					fc.fail.Add(1)
					unix.Close(fd)
					delete(pending, fd)
				}
			}
		}
	}
}

// childFloorNet is the Go standard library floor: a ticker and, for each
// connect due in a tick, a goroutine that dials with net.Dialer (the Go
// netpoller, a context with the timeout) and closes, as a hand-written
// checker without a framework would.
func childFloorNet(c *config, stdout io.Writer) error {
	usr1, term := benchkit.ChildSignals()
	var fc floorCounts
	tgts := targets(c)
	n := len(tgts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		d := net.Dialer{KeepAlive: -1}
		start := time.Now()
		due := func(k int) time.Duration { return dueAt(k, n, c.delay) }
		next := 0
		tick := time.NewTicker(floorTick)
		defer tick.Stop()
		for {
			tickEnd := (time.Since(start)/floorTick + 1) * floorTick
			for due(next) < tickEnd {
				t := tgts[next%n]
				next++
				go func() {
					dctx, dcancel := context.WithTimeout(ctx, c.timeout)
					defer dcancel()
					conn, err := d.DialContext(dctx, "tcp4", t.String())
					if err != nil {
						fc.fail.Add(1)
						return
					}
					conn.Close()
					fc.ok.Add(1)
				}()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	benchkit.Say(stdout, message{Ready: true})
	serveFloor(stdout, &fc, usr1, term)
	return nil
}
