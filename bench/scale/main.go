//go:build linux

// Command scale measures a Supervisor at keepalived's scale of issue
// #1173: 300 virtual servers of 100 real servers each, 30,000 real
// servers each checked by check.TCP every 6 s (delay_loop 6), next to
// floors measured in the same run: the same 30,000 connects per 6 s made
// by a minimal program with no framework, with raw syscalls (floor-raw)
// and with Go's net package (floor-net). keepalived, with the equivalent
// keepalived.conf, is tried too: its checker needs IPVS in the kernel and
// exits without it, which the bench reports.
//
// Each run builds two namespaces joined by a veth pair: LB, where the
// checkers run, and RS, where the real servers are 100 addresses
// (198.18.1.1-100) on its lo with one listening socket per
// virtual server's port (10000-10299) bound to 0.0.0.0, which accepts and
// closes every connection and counts them. The Supervisor's IPVS table is
// the in-memory ipvstest.Table (vigiltest), which holds all 30,000
// destinations. After a warmup the bench samples, over a window of
// several check intervals:
//
//   - CPU: utime+stime of the checker process from /proc/PID/stat (and
//     the threads' run time from /proc/PID/task/*/schedstat), per second
//     of wall time and per check made (connections the listeners accepted
//     in the window);
//   - memory at the end of the window: VmRSS and VmHWM;
//   - for vigil, after the window: the real servers up, then Reload with
//     one real server's weight changed (and back), and with nothing
//     changed: the time until Reload returns, until the table holds the
//     new weight (the Balancer writes after Reload returns), and the
//     table's write operations.
//
// Run as root from the module root:
//
//	go run ./bench/scale              # 3 runs, 60 s window after 15 s warmup
//	go run ./bench/scale -quick       # 1 run, 12 s window after 8 s warmup
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
)

var allImpls = []string{"vigil", "floor-raw", "floor-net", "keepalived"}

type config struct {
	vs, rs         int
	delay, timeout time.Duration
	runs           int
	window, warmup time.Duration
	reloads        int
	impls          []string
	workDir        string
	keep           bool
	self           string // this program, run again for the children
	profile        string // vigil: write pprof profiles here
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench/scale [flags] (as root, from the module root)\n\n"+
			"Measures the CPU and memory of a Supervisor checking 300 x 100 real servers by TCP every 6 s,\n"+
			"next to floors doing the same connects without a framework, and its Reload.\n\nflags:\n")
		fs.PrintDefaults()
	}
	c := &config{}
	fs.IntVar(&c.vs, "vs", 300, "virtual servers (ports 10000..), 1..1000")
	fs.IntVar(&c.rs, "rs", 100, "real servers per virtual server (198.18.1.1..), 1..254")
	fs.DurationVar(&c.delay, "delay", 6*time.Second, "check interval (delay_loop), whole seconds")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "connect timeout (connect_timeout), whole seconds")
	fs.IntVar(&c.runs, "runs", 3, "runs per implementation")
	fs.DurationVar(&c.window, "window", 60*time.Second, "measurement window")
	fs.DurationVar(&c.warmup, "warmup", 15*time.Second, "wait after the checker is up before the window (first checks spread over one interval)")
	fs.IntVar(&c.reloads, "reloads", 5, "vigil: weight-change reload pairs (there and back) and unchanged reloads per run")
	impls := fs.String("impl", strings.Join(allImpls, ","), "implementations, comma-separated: "+strings.Join(allImpls, ", "))
	quick := fs.Bool("quick", false, "short run: -runs 1 -window 12s -warmup 8s -reloads 3 (overrides them)")
	fs.StringVar(&c.profile, "profile", "", "vigil: write CPU profiles (steady-cpu.pprof: from ready to the end of the window; reload-cpu.pprof: the reloads) and heap.pprof (after the window) under this directory, run N as DIR/N/")
	keep := fs.String("keep", "", "keep the configurations and logs under this directory")
	child := fs.String("child", "", "internal: run as a child (listen, vigil, floor-raw, floor-net)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %q\n", fs.Args())
		return 2
	}
	if *child != "" {
		return runChild(*child, c, stdout, stderr)
	}
	if *quick {
		c.runs, c.window, c.warmup, c.reloads = 1, 12*time.Second, 8*time.Second, 3
	}
	switch {
	case c.vs < 1 || c.vs > 1000 || c.rs < 1 || c.rs > 254:
		fmt.Fprintln(stderr, "scale: -vs: want 1..1000; -rs: 1..254")
		return 2
	case c.delay < time.Second || c.delay%time.Second != 0 || c.timeout < time.Second || c.timeout%time.Second != 0:
		fmt.Fprintln(stderr, "scale: -delay, -timeout: want whole seconds (keepalived's units)")
		return 2
	case c.runs < 1 || c.runs > 100 || c.reloads < 0 || c.reloads > 1000:
		fmt.Fprintln(stderr, "scale: -runs: want 1..100; -reloads: 0..1000")
		return 2
	case c.window < time.Second || c.window > time.Hour || c.warmup < 0 || c.warmup > time.Hour:
		fmt.Fprintln(stderr, "scale: -window: want 1s..1h; -warmup: 0..1h")
		return 2
	}
	for _, f := range strings.Split(*impls, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(allImpls, f) {
			fmt.Fprintf(stderr, "scale: -impl %q: want one of %s\n", f, strings.Join(allImpls, ", "))
			return 2
		}
		if !slices.Contains(c.impls, f) {
			c.impls = append(c.impls, f)
		}
	}

	progs := []string{"ip"}
	if slices.Contains(c.impls, "keepalived") {
		progs = append(progs, "keepalived")
	}
	if err := benchkit.Preflight(progs...); err != nil {
		fmt.Fprintln(stderr, "scale:", err)
		return 1
	}
	var err error
	if c.self, err = os.Executable(); err != nil {
		fmt.Fprintln(stderr, "scale:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "vigil-bench-scale-")
	if err != nil {
		fmt.Fprintln(stderr, "scale:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	c.workDir = tmp
	if *keep != "" {
		c.workDir, c.keep = *keep, true
	}
	ctx, stop := benchkit.SignalContext()
	defer stop()

	env := benchkit.Environment()
	res := results{}
	failed := 0
	start := time.Now()
	// Alternate the implementations run by run, so that drifts of the
	// machine touch all alike.
	for i := 1; i <= c.runs; i++ {
		for _, impl := range c.impls {
			if impl == "keepalived" && res.kaSkip != "" {
				continue
			}
			fmt.Fprintf(stderr, "%s run %d/%d: %d x %d real servers, check every %v, warmup %v, window %v ...\n",
				impl, i, c.runs, c.vs, c.rs, c.delay, c.warmup, c.window)
			s, err := oneRun(ctx, c, impl, i)
			if ctx.Err() != nil {
				fmt.Fprintln(stderr, "scale: interrupted; everything it created is removed")
				return 130
			}
			var skip *unavailable
			switch {
			case errors.As(err, &skip):
				res.kaSkip = skip.why
				fmt.Fprintf(stderr, "%s: not measured: %s\n", impl, skip.why)
				continue
			case err != nil:
				failed++
				fmt.Fprintf(stderr, "FAILED %s run %d: %v\n", impl, i, err)
				continue
			}
			for _, w := range s.warnings(c) {
				failed++
				fmt.Fprintf(stderr, "WARNING %s run %d: %s\n", impl, i, w)
			}
			res.add(s)
			fmt.Fprintf(stderr, "%s run %d: %s\n", impl, i, s.line())
		}
	}
	fmt.Fprintf(stderr, "done in %v\n", time.Since(start).Round(time.Second))
	printTables(stdout, env, c, res)
	if failed > 0 {
		return 1
	}
	return 0
}

// unavailable is an implementation that cannot run here (keepalived
// without IPVS); it is reported, not counted as a failure.
type unavailable struct{ why string }

func (u *unavailable) Error() string { return u.why }

// sample is one run of one implementation.
type sample struct {
	impl     string
	window   time.Duration
	ticks    int64         // utime+stime over the window, clock ticks
	sched    time.Duration // schedstat run time over the window
	accepts  uint64        // connections the listeners accepted in the window
	expected float64       // checks due in the window
	mem      benchkit.Memory
	procs    int
	report   message // the child's answer after the window (vigil, floors)
	startup  message // the child's ready message (vigil)
}

func (s sample) cpu() time.Duration { return time.Duration(s.ticks) * benchkit.ClockTick }

// cpuPct is the CPU time per wall time, in % of one core.
func (s sample) cpuPct() float64 { return 100 * s.cpu().Seconds() / s.window.Seconds() }

// perCheck is the CPU time per accepted connection, in µs.
func (s sample) perCheck(d time.Duration) float64 {
	if s.accepts == 0 {
		return 0
	}
	return float64(d) / float64(time.Microsecond) / float64(s.accepts)
}

func (s sample) line() string {
	l := fmt.Sprintf("CPU %.2f s in %.1f s (%.1f%% of a core, %.1f µs/check), checks %d/%.0f, RSS %.1f MiB, peak %.1f MiB, %d threads",
		s.cpu().Seconds(), s.window.Seconds(), s.cpuPct(), s.perCheck(s.cpu()), s.accepts, s.expected,
		mib(s.mem.RSS), mib(s.mem.HWM), s.mem.Threads)
	if s.impl == "vigil" {
		l += fmt.Sprintf("; New %.0f ms, table complete %.0f ms after Run; %d up, %d down", s.startup.NewMs, s.startup.TableMs, s.report.Up, s.report.Down)
	}
	if strings.HasPrefix(s.impl, "floor") {
		l += fmt.Sprintf("; connects ok %d, failed %d (whole run)", s.report.OK, s.report.Fail)
	}
	return l
}

// warnings are what makes a run's numbers suspect: checks that did not
// keep up or failed, reloads that did not work.
func (s sample) warnings(c *config) []string {
	var w []string
	if float64(s.accepts) < 0.95*s.expected {
		w = append(w, fmt.Sprintf("%d connections accepted in the window, %.0f checks due: the checker did not keep up", s.accepts, s.expected))
	}
	if s.report.Fail > 0 {
		w = append(w, fmt.Sprintf("%d connects failed", s.report.Fail))
	}
	if s.impl == "vigil" {
		if s.report.Down > 0 || s.report.Downs > 0 {
			w = append(w, fmt.Sprintf("%d real servers down, %d downs reported (first: %s)", s.report.Down, s.report.Downs, s.report.FirstErr))
		}
		if s.report.Dests != c.vs*c.rs {
			w = append(w, fmt.Sprintf("the IPVS table holds %d destinations, want %d", s.report.Dests, c.vs*c.rs))
		}
		if s.report.ReloadsErr != "" {
			w = append(w, "reloads: "+s.report.ReloadsErr)
		}
	}
	return w
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// results are the samples by implementation.
type results struct {
	by     map[string][]sample
	kaSkip string // why keepalived was not measured
}

func (r *results) add(s sample) {
	if r.by == nil {
		r.by = map[string][]sample{}
	}
	r.by[s.impl] = append(r.by[s.impl], s)
}

// child is a running child program or keepalived.
type child struct {
	proc *benchkit.Proc
	out  *benchkit.Log
	errs *benchkit.Log
	n    int // messages read so far
}

// startChild runs this program with -child mode in namespace ns.
func startChild(c *config, ns, mode string) (*child, error) {
	ch := &child{out: &benchkit.Log{}, errs: &benchkit.Log{}}
	args := []string{"ip", "netns", "exec", ns, c.self, "-child", mode,
		"-vs", fmt.Sprint(c.vs), "-rs", fmt.Sprint(c.rs), "-delay", c.delay.String(),
		"-timeout", c.timeout.String(), "-reloads", fmt.Sprint(c.reloads)}
	if c.profile != "" {
		args = append(args, "-profile", c.profile)
	}
	p, err := benchkit.Start(mode, ch.out, ch.errs, args...)
	if err != nil {
		return nil, err
	}
	ch.proc = p
	return ch, nil
}

// next waits for the child's next message.
func (ch *child) next(ctx context.Context, limit time.Duration) (message, error) {
	var m message
	want := ch.n + 1
	// Poll in steps: an exit writes nothing to wake Await.
	deadline := time.Now().Add(limit)
	var err error
	for {
		err = ch.out.Await(ctx, 200*time.Millisecond, ch.proc.Name+": message", func(s string) bool {
			return strings.Count(s, "\n") >= want
		})
		if err == nil || ctx.Err() != nil || ch.proc.Exited() {
			break
		}
		if time.Now().After(deadline) {
			err = fmt.Errorf("%s: no message within %v", ch.proc.Name, limit)
			break
		}
	}
	if ch.proc.Exited() {
		err = nil // what it wrote before it exited decides, below
	}
	out := ch.out.String()
	if err == nil && strings.Count(out, "\n") < want {
		err = fmt.Errorf("%s exited (%v)", ch.proc.Name, ch.proc.Err())
	}
	if err != nil {
		return m, fmt.Errorf("%w\n%s stderr: %s", err, ch.proc.Name, ch.errs.Tail(10))
	}
	lines := strings.Split(out, "\n")
	ch.n = want
	if err := json.Unmarshal([]byte(lines[want-1]), &m); err != nil {
		return m, fmt.Errorf("%s: %q: %w", ch.proc.Name, lines[want-1], err)
	}
	return m, nil
}

// ask sends SIGUSR1 and waits for the report.
func (ch *child) ask(ctx context.Context, limit time.Duration) (message, error) {
	if err := ch.proc.Signal(syscall.SIGUSR1); err != nil {
		return message{}, err
	}
	return ch.next(ctx, limit)
}

// stop stops the child and returns what went wrong, with its stderr.
func (ch *child) stop() error {
	err := ch.proc.Stop(syscall.SIGTERM, 30*time.Second)
	if err == nil && ch.proc.Err() != nil {
		err = fmt.Errorf("%s: %v: %s", ch.proc.Name, ch.proc.Err(), ch.errs.Tail(10))
	}
	return err
}

// oneRun measures impl in fresh namespaces, deleted before it returns.
func oneRun(ctx context.Context, c *config, impl string, n int) (s sample, err error) {
	s.impl = impl
	dir := filepath.Join(c.workDir, fmt.Sprintf("%s-%d", impl, n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return s, err
	}
	if !c.keep {
		defer os.RemoveAll(dir)
	}
	t, err := newTopo(dir, c.rs)
	if err != nil {
		return s, err
	}
	defer func() { err = errors.Join(err, t.Close()) }()

	ln, err := startChild(c, t.RS, "listen")
	if err != nil {
		return s, err
	}
	defer func() { err = errors.Join(err, ln.stop()) }()
	if _, err := ln.next(ctx, 30*time.Second); err != nil {
		return s, err
	}

	var (
		pids []int
		ch   *child
	)
	if impl == "keepalived" {
		k, err := startKeepalived(ctx, c, t.LB, dir)
		if err != nil {
			return s, &unavailable{err.Error()}
		}
		defer func() {
			if c.keep {
				_ = os.WriteFile(filepath.Join(dir, "keepalived.log"), []byte(k.Out.String()), 0o644)
			}
			err = errors.Join(err, k.stop())
		}()
		pids = k.PIDs()
	} else {
		cc := *c
		if c.profile != "" && impl == "vigil" {
			cc.profile = filepath.Join(c.profile, fmt.Sprint(n))
		} else {
			cc.profile = ""
		}
		ch, err = startChild(&cc, t.LB, impl)
		if err != nil {
			return s, err
		}
		defer func() {
			if c.keep {
				_ = os.WriteFile(filepath.Join(dir, impl+".stderr"), []byte(ch.errs.String()), 0o644)
			}
			err = errors.Join(err, ch.stop())
		}()
		if s.startup, err = ch.next(ctx, 2*time.Minute); err != nil {
			return s, err
		}
		pids = []int{ch.proc.PID()}
	}
	s.procs = len(pids)

	if err := benchkit.Sleep(ctx, c.warmup); err != nil {
		return s, err
	}
	a0, err := ln.ask(ctx, 10*time.Second)
	if err != nil {
		return s, err
	}
	t0 := time.Now()
	k0, r0, err := cpuOf(pids)
	if err != nil {
		return s, err
	}
	if err := benchkit.Sleep(ctx, c.window); err != nil {
		return s, err
	}
	k1, r1, err := cpuOf(pids)
	s.window = time.Since(t0)
	if err != nil {
		return s, err
	}
	a1, err := ln.ask(ctx, 10*time.Second)
	if err != nil {
		return s, err
	}
	s.ticks, s.sched = k1-k0, r1-r0
	s.accepts = a1.Accepts - a0.Accepts
	s.expected = float64(c.vs*c.rs) * s.window.Seconds() / c.delay.Seconds()
	for _, pid := range pids {
		m, err := benchkit.ReadMemory(pid)
		if err != nil {
			return s, err
		}
		s.mem.RSS += m.RSS
		s.mem.HWM += m.HWM
		s.mem.PSS += m.PSS
		s.mem.Threads += m.Threads
	}
	if ch != nil {
		// vigil: its state and the reloads, after the window.
		if s.report, err = ch.ask(ctx, 10*time.Minute); err != nil {
			return s, err
		}
	}
	return s, nil
}

// cpuOf sums utime+stime and the schedstat run time of pids.
func cpuOf(pids []int) (ticks int64, sched time.Duration, err error) {
	for _, pid := range pids {
		t, err := benchkit.CPUTicks(pid)
		if err != nil {
			return 0, 0, err
		}
		r, err := benchkit.SchedRuntime(pid)
		if err != nil {
			return 0, 0, err
		}
		ticks += t
		sched += r
	}
	return ticks, sched, nil
}
