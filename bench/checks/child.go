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
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/hist"
	"golang.org/x/sys/unix"
)

// The children are this program run again with -child MODE in the
// bench's namespace (`ip netns exec`). Each writes JSON lines to stdout:
// a message with Ready once it is up, and a Report after each SIGUSR1;
// SIGTERM stops it.

// message is one line of a child's stdout.
type message struct {
	Ready  bool `json:"ready,omitempty"`
	Report bool `json:"report,omitempty"`
	// Checkers: checks finished so far, and those that failed.
	Checks uint64 `json:"checks,omitempty"`
	Fail   uint64 `json:"fail,omitempty"`
	// Checkers: the histogram of the checks' lateness so far (the
	// buckets of internal/hist, which vigil_check_scheduler_lateness_seconds
	// exports).
	Late    [len(hist.Bounds) + 1]uint64 `json:"late"`
	LateSum time.Duration                `json:"late_sum,omitempty"`
	// group: health changes to down seen on the Group's stream so far.
	Downs    uint64 `json:"downs,omitempty"`
	FirstErr string `json:"first_err,omitempty"`
}

func (m *message) setLate(s hist.Snapshot) { m.Late, m.LateSum = s.Counts, s.Sum }

// say writes m as one JSON line.
// runChild runs mode; it returns the process's exit status.
func runChild(mode string, c *config, stdout, stderr io.Writer) int {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err == nil && r.Cur < r.Max {
		r.Cur = r.Max
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &r)
	}
	var err error
	switch mode {
	case "listen":
		err = childListen(c, stdout)
	case "group":
		err = childGroup(c, stdout)
	case "raw":
		err = childRaw(c, stdout)
	default:
		err = fmt.Errorf("unknown child mode %q", mode)
	}
	if err != nil {
		fmt.Fprintf(stderr, "checks child %s: %v\n", mode, err)
		return 1
	}
	return 0
}

// childListen listens on 0.0.0.0:basePort+i for each of c.ports ports,
// accepts and closes every connection (-kind http: after answering its
// request with serveHTTP).
func childListen(c *config, stdout io.Writer) error {
	usr1, term := benchkit.ChildSignals()
	var serve func(net.Conn)
	if c.kind == "http" {
		serve = serveHTTP
	}
	accepts, err := benchkit.AcceptAndServe(basePort, c.ports, serve)
	if err != nil {
		return err
	}
	benchkit.Say(stdout, message{Ready: true})
	for {
		select {
		case <-usr1:
			benchkit.Say(stdout, message{Report: true, Checks: accepts.Load()})
		case <-term:
			return nil
		}
	}
}

// targets are the check targets, address by address: target k is
// addr(k % addrs) : basePort + k / addrs.
func targets(c *config) []netip.AddrPort {
	out := make([]netip.AddrPort, 0, c.addrs*c.ports)
	for i := range c.ports {
		for j := range c.addrs {
			out = append(out, netip.AddrPortFrom(targetAddr(j), basePort+uint16(i)))
		}
	}
	return out
}

// profiler writes a CPU profile between the first and the second
// report, and a heap profile at the second, under dir; with dir "" it
// does nothing.
type profiler struct {
	dir     string
	reports int
	f       *os.File
}

func (p *profiler) report() error {
	if p.dir == "" {
		return nil
	}
	p.reports++
	switch p.reports {
	case 1:
		if err := os.MkdirAll(p.dir, 0o755); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(p.dir, "cpu.pprof"))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		p.f = f
	case 2:
		pprof.StopCPUProfile()
		if err := p.f.Close(); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(p.dir, "heap.pprof"))
		if err != nil {
			return err
		}
		defer f.Close()
		return pprof.Lookup("heap").WriteTo(f, 0)
	}
	return nil
}

// checker is the group's checker of target t: check.TCP, or
// httpChecker for -kind http.
func checker(c *config, t netip.AddrPort) check.Checker {
	if c.kind == "http" {
		return httpChecker(t)
	}
	return &check.TCP{Addr: t}
}

// childGroup checks every target with checker through one check.Group
// (its defaults: MaxInFlight 1024, first rounds spread over the
// interval), Policy{Interval: c.interval, Timeout: c.timeout}.
func childGroup(c *config, stdout io.Writer) error {
	usr1, term := benchkit.ChildSignals()
	g := check.NewGroup(check.GroupConfig{})
	p := check.Policy{Interval: c.interval, Timeout: c.timeout}
	tg := targets(c)
	handles := make([]*check.Handle, 0, len(tg))
	for _, t := range tg {
		h, err := g.Add(checker(c, t), p)
		if err != nil {
			return err
		}
		handles = append(handles, h)
	}
	sub := g.Subscribe(len(tg))
	var downs atomic.Uint64
	var firstErr atomic.Pointer[string]
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		for ch := range sub.C() {
			if !ch.Status.Healthy {
				downs.Add(1)
				s := fmt.Sprint(ch.Status.Err)
				firstErr.CompareAndSwap(nil, &s)
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- g.Run(ctx) }()
	benchkit.Say(stdout, message{Ready: true})
	prof := &profiler{dir: c.profile}
	for {
		select {
		case <-usr1:
			st := g.Stats()
			m := message{Report: true, Checks: st.Sched.Runs, Downs: downs.Load()}
			m.setLate(st.Sched.Lateness)
			for _, h := range handles {
				m.Fail += h.Stats().Failures
			}
			if s := firstErr.Load(); s != nil {
				m.FirstErr = *s
			}
			benchkit.Say(stdout, m)
			if err := prof.report(); err != nil {
				cancel()
				return err
			}
		case <-term:
			cancel()
			err := <-runErr
			<-subDone
			return err
		case err := <-runErr:
			cancel()
			return fmt.Errorf("Group.Run returned early: %v", err)
		}
	}
}

// rawCounts are the raw loop's results.
type rawCounts struct {
	checks, fail atomic.Uint64
	late         hist.Hist
	firstErr     atomic.Pointer[string]
}

// childRaw is the reference: one locked OS thread that makes the same
// checks at the same rate with blocking socket(2), connect(2) and
// close(2) (-kind http: rawHTTP's calls) and nothing else: no Go netpoller, no goroutine, timer or
// context per check. The targets are spread evenly over the interval;
// the thread sleeps (nanosleep(2)) until the next is due, at least 1 ms
// at a time, and then makes every check due.
func childRaw(c *config, stdout io.Writer) error {
	usr1, term := benchkit.ChildSignals()
	var rc rawCounts
	var stop atomic.Bool
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- rawLoop(c, &rc, &stop)
	}()
	benchkit.Say(stdout, message{Ready: true})
	prof := &profiler{dir: c.profile}
	for {
		select {
		case <-usr1:
			m := message{Report: true, Checks: rc.checks.Load(), Fail: rc.fail.Load()}
			if s := rc.firstErr.Load(); s != nil {
				m.FirstErr = *s
			}
			m.setLate(rc.late.Snapshot())
			benchkit.Say(stdout, m)
			if err := prof.report(); err != nil {
				stop.Store(true)
				return err
			}
		case <-term:
			stop.Store(true)
			return <-errc
		case err := <-errc:
			return err
		}
	}
}

// rawLoop is childRaw's thread.
func rawLoop(c *config, rc *rawCounts, stop *atomic.Bool) error {
	tg := targets(c)
	sas := make([]unix.SockaddrInet4, len(tg))
	for i, t := range tg {
		sas[i] = unix.SockaddrInet4{Port: int(t.Port()), Addr: t.Addr().As4()}
	}
	check := func(i int) error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = unix.Connect(fd, &sas[i])
		unix.Close(fd)
		return err
	}
	if c.kind == "http" {
		reqs := make([][]byte, len(tg))
		for i, t := range tg {
			reqs[i] = httpRequest(t.String())
		}
		check = rawHTTP(sas, reqs, c.timeout)
	}
	n := len(tg)
	start := time.Now()
	due := func(k int) time.Duration {
		return time.Duration(k/n)*c.interval + time.Duration(k%n)*c.interval/time.Duration(n)
	}
	next := 0 // the next check overall; target next % n
	for !stop.Load() {
		wake := time.Since(start)
		for d := due(next); d <= wake; d = due(next) {
			rc.late.Observe(time.Since(start) - d)
			i := next % n
			next++
			if err := check(i); err != nil {
				rc.fail.Add(1)
				s := fmt.Sprintf("%v: %v", tg[i], err)
				rc.firstErr.CompareAndSwap(nil, &s)
			}
			rc.checks.Add(1)
		}
		sleep := max(due(next)-time.Since(start), time.Millisecond)
		ts := unix.NsecToTimespec(int64(sleep))
		if err := unix.Nanosleep(&ts, nil); err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
	}
	return nil
}
