//go:build linux

// Command checks measures the CPU a check.Group spends per TCP check at
// 10,000 distinct targets checked every second, next to the reference
// measured in the same run: a plain loop of blocking socket(2),
// connect(2), close(2) at the same rate to the same targets.
//
// One namespace, made by the bench and deleted after it, holds the
// targets: 100 addresses (198.18.1.1-100) on its lo and a listener
// process with one socket per port (10000-10099) bound to 0.0.0.0, which
// accepts and closes every connection. The checker runs in its own
// process in that namespace (the program again, -child group or -child
// raw), so that its CPU (utime+stime from /proc/PID/stat, and the
// threads' run time from /proc/PID/task/*/schedstat) is the checking
// only. Runs alternate group and raw; after a warmup, over a window:
// CPU per check (CPU time / checks finished in the window), the checks'
// schedule lateness (when a check started minus when it was due, p50
// and p99 from the histogram the scheduler exports as
// vigil_check_scheduler_lateness_seconds; the raw loop fills the same
// histogram), peak RSS (VmHWM) and failed checks.
//
// With -kind http the checks are HTTP GETs (http.go): the listener
// answers each request with a minimal HTTP/1.0 200, the group runs
// check.HTTP, the raw loop sends the same request with raw system
// calls and checks the status line; 2,000 targets by default. With
// -impl keepalived (keepalived.go) keepalived's checker does the same
// with HTTP_GET; it needs IPVS, so bench/checks/vm runs the three in
// the VM of tools/ipvsvm (with -here: no namespace of its own), or
// -fake-ipvs runs it natively on a stand-in for IPVS (fakeipvs.go).
//
// Run as root from the module root:
//
//	go run ./bench/checks            # 5 runs of each, 20 s window after 5 s warmup: ~4.5 min
//	go run ./bench/checks -quick     # 2 runs of each, 8 s window after 3 s warmup: ~1 min
//	go run ./bench/checks -kind http # HTTP GET, 2,000 targets: ~4.2 min
//	bench/checks/vm                  # keepalived, group and raw in the VM: ~5 min
//	go run ./bench/checks -kind http -impl keepalived,group,raw -fake-ipvs # the three natively
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
	"github.com/vigil-ha/vigil/internal/hist"
	"github.com/vigil-ha/vigil/internal/nstest"
)

// allImpls are the implementations measured by default; knownImpls
// adds keepalived (-kind http, where IPVS is: bench/checks/vm).
var (
	allImpls   = []string{"group", "raw"}
	knownImpls = []string{"group", "raw", "keepalived"}
)

// The targets' addresses and ports, from 198.18.0.0/15 (RFC 2544).
var (
	addrBase = netip.MustParseAddr("198.18.1.0")
	basePort = uint16(10000)
)

// targetAddr is the address of target address j (0-based): 198.18.1.(j+1).
func targetAddr(j int) netip.Addr {
	b := addrBase.As4()
	b[3] = byte(j + 1)
	return netip.AddrFrom4(b)
}

type config struct {
	kind              string // tcp, http
	addrs, ports      int
	interval, timeout time.Duration
	runs              int
	window, warmup    time.Duration
	impls             []string
	self              string
	profile           string
	nice              int
	here              bool   // in this namespace, not one of the bench's
	keepalived        string // the keepalived program
	fakeIPVS          string // -fake-ipvs: the stand-in's shared object, preloaded into keepalived
}

// httpAddrs is -addrs's default for -kind http: 20 x 100 = 2,000
// targets (see bench/README.md, "checks").
const httpAddrs = 20

// flagSet reports whether flag name was given.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("checks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench/checks [flags] (as root, from the module root)\n\n"+
			"Measures the CPU per TCP check of a check.Group at 10,000 targets checked every second,\n"+
			"next to a raw socket/connect/close loop at the same rate, in the same run\n"+
			"(-kind http: HTTP GET checks, 2,000 targets by default).\n\nflags:\n")
		fs.PrintDefaults()
	}
	c := &config{}
	fs.StringVar(&c.kind, "kind", "tcp", "checks: tcp (check.TCP; raw: socket/connect/close) or http (check.HTTP GET /, HTTP/1.0, status 200; raw: the same request with blocking syscalls)")
	fs.IntVar(&c.addrs, "addrs", 100, "target addresses (198.18.1.1..), 1..254 (-kind http: default 20)")
	fs.IntVar(&c.ports, "ports", 100, "target ports per address (10000..), 1..1000")
	fs.DurationVar(&c.interval, "interval", time.Second, "check interval")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "the Group's check timeout (Policy.Timeout)")
	fs.IntVar(&c.runs, "runs", 5, "runs of each implementation")
	fs.DurationVar(&c.window, "window", 20*time.Second, "measurement window")
	fs.DurationVar(&c.warmup, "warmup", 5*time.Second, "wait after the checker is up before the window")
	impls := fs.String("impl", strings.Join(allImpls, ","), "implementations, comma-separated: group (check.Group), raw (the reference), keepalived (-kind http; needs IPVS: see bench/checks/vm)")
	fs.BoolVar(&c.here, "here", false, "run in this network namespace instead of a new one (the ipvsvm VM, which has only lo and no `ip netns`): the target addresses are added to lo and removed at the end")
	fs.StringVar(&c.keepalived, "keepalived", "keepalived", "the keepalived program (-impl keepalived)")
	fakeIPVS := fs.Bool("fake-ipvs", false, "with -impl keepalived: run keepalived's checker natively where the kernel has no IPVS, with a stand-in for IPVS preloaded (fakeipvs.go; needs cc); checking does not touch IPVS")
	quick := fs.Bool("quick", false, "short run: -runs 2 -window 8s -warmup 3s (overrides them)")
	fs.StringVar(&c.profile, "profile", "", "write the checker's CPU profile over the window (cpu.pprof) and a heap profile at its end (heap.pprof) under DIR/IMPL-N/")
	fs.IntVar(&c.nice, "nice", 0, "run the children (listener, checkers) under nice(1) with this niceness, -20..19: a negative one shields the measurement from other work on a shared machine")
	child := fs.String("child", "", "internal: run as a child (listen, group, raw)")
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
	if c.kind != "tcp" && c.kind != "http" {
		fmt.Fprintf(stderr, "checks: -kind %q: want tcp or http\n", c.kind)
		return 2
	}
	if *child != "" {
		return runChild(*child, c, stdout, stderr)
	}
	if c.kind == "http" && !flagSet(fs, "addrs") {
		c.addrs = httpAddrs
	}
	if *quick {
		c.runs, c.window, c.warmup = 2, 8*time.Second, 3*time.Second
	}
	switch {
	case c.addrs < 1 || c.addrs > 254 || c.ports < 1 || c.ports > 1000:
		fmt.Fprintln(stderr, "checks: -addrs: want 1..254; -ports: 1..1000")
		return 2
	case c.interval < 10*time.Millisecond || c.timeout <= 0:
		fmt.Fprintln(stderr, "checks: -interval: want at least 10ms; -timeout: positive")
		return 2
	case c.runs < 1 || c.runs > 100 || c.nice < -20 || c.nice > 19:
		fmt.Fprintln(stderr, "checks: -runs: want 1..100; -nice: -20..19")
		return 2
	case c.window < time.Second || c.window > time.Hour || c.warmup < 0 || c.warmup > time.Hour:
		fmt.Fprintln(stderr, "checks: -window: want 1s..1h; -warmup: 0..1h")
		return 2
	}
	var err error
	if c.impls, err = benchkit.ParseList(*impls, knownImpls); err != nil {
		fmt.Fprintln(stderr, "checks: -impl:", err)
		return 2
	}
	if slices.Contains(c.impls, "keepalived") && (c.kind != "http" || c.interval%time.Second != 0) {
		fmt.Fprintln(stderr, "checks: -impl keepalived: needs -kind http and an -interval of whole seconds (delay_loop)")
		return 2
	}
	if *fakeIPVS && !slices.Contains(c.impls, "keepalived") {
		fmt.Fprintln(stderr, "checks: -fake-ipvs: only with -impl keepalived")
		return 2
	}
	tools := []string{"ip"}
	if *fakeIPVS {
		tools = append(tools, "cc")
	}
	if err := benchkit.Preflight(tools...); err != nil {
		fmt.Fprintln(stderr, "checks:", err)
		return 1
	}
	if *fakeIPVS {
		dir, err := os.MkdirTemp("", "vigil-bench-checks-fakeipvs-*")
		if err != nil {
			fmt.Fprintln(stderr, "checks:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		if c.fakeIPVS, err = buildFakeIPVS(dir); err != nil {
			fmt.Fprintln(stderr, "checks: -fake-ipvs:", err)
			return 1
		}
	}
	if c.self, err = os.Executable(); err != nil {
		fmt.Fprintln(stderr, "checks:", err)
		return 1
	}
	ctx, stop := benchkit.SignalContext()
	defer stop()
	code := measure(ctx, c, stdout, stderr)
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "checks: interrupted; everything it created is removed")
		return 130
	}
	return code
}

// measure makes the namespace and the listener, runs the checkers and
// prints the tables.
func measure(ctx context.Context, c *config, stdout, stderr io.Writer) (code int) {
	env := benchkit.Environment()
	ns, del, err := newNamespace(c.addrs, c.here)
	if err != nil {
		fmt.Fprintln(stderr, "checks:", err)
		return 1
	}
	defer func() {
		if err := del(); err != nil {
			fmt.Fprintln(stderr, "checks:", err)
			code = 1
		}
	}()
	ln, err := startChild(c, ns, "listen", "")
	if err != nil {
		fmt.Fprintln(stderr, "checks:", err)
		return 1
	}
	defer func() {
		if err := ln.stop(); err != nil {
			fmt.Fprintln(stderr, "checks:", err)
			code = 1
		}
	}()
	if _, err := ln.next(ctx, 30*time.Second); err != nil {
		fmt.Fprintln(stderr, "checks:", err)
		return 1
	}

	res := map[string][]sample{}
	failed := 0
	start := time.Now()
	for i := 1; i <= c.runs; i++ {
		order := slices.Clone(c.impls)
		if i%2 == 0 { // alternate which goes first, so drifts touch both alike
			slices.Reverse(order)
		}
		for _, impl := range order {
			fmt.Fprintf(stderr, "%s run %d/%d: %d targets every %v, warmup %v, window %v, load average %s ...\n",
				impl, i, c.runs, c.addrs*c.ports, c.interval, c.warmup, c.window, benchkit.LoadAvg())
			s, err := oneRun(ctx, c, ns, ln, impl, i)
			if ctx.Err() != nil {
				return 130
			}
			if err != nil {
				failed++
				fmt.Fprintf(stderr, "FAILED %s run %d: %v\n", impl, i, err)
				continue
			}
			for _, w := range s.warnings() {
				failed++
				fmt.Fprintf(stderr, "WARNING %s run %d: %s\n", impl, i, w)
			}
			s.run = i
			res[impl] = append(res[impl], s)
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

// newNamespace makes a namespace with lo up and addrs target addresses
// on it, and returns it with the function that deletes it. With here,
// it adds the addresses to this namespace's lo instead, one `ip addr
// add` each (busybox's ip has no -batch), and del removes them.
func newNamespace(addrs int, here bool) (ns string, del func() error, err error) {
	if here {
		var added []netip.Addr
		del = func() error {
			var errs []error
			for _, a := range added {
				_, err := nstest.Run("ip", "addr", "del", a.String()+"/32", "dev", "lo")
				errs = append(errs, err)
			}
			return errors.Join(errs...)
		}
		_, err := nstest.Run("ip", "link", "set", "lo", "up")
		for j := 0; j < addrs && err == nil; j++ {
			if _, err = nstest.Run("ip", "addr", "add", targetAddr(j).String()+"/32", "dev", "lo"); err == nil {
				added = append(added, targetAddr(j))
			}
		}
		if err != nil {
			return "", nil, errors.Join(err, del())
		}
		return "", del, nil
	}
	ns, err = newNamespaceNamed(addrs)
	del = func() error {
		_, err := nstest.Run("ip", "netns", "del", ns)
		return err
	}
	return ns, del, err
}

// newNamespaceNamed makes the namespace of newNamespace.
func newNamespaceNamed(addrs int) (string, error) {
	ns := fmt.Sprintf("vgchk%d", os.Getpid())
	if _, err := nstest.Run("ip", "netns", "add", ns); err != nil {
		return "", err
	}
	var batch strings.Builder
	batch.WriteString("link set lo up\n")
	for j := range addrs {
		fmt.Fprintf(&batch, "addr add %s/32 dev lo\n", targetAddr(j))
	}
	f, err := os.CreateTemp("", "vigil-bench-checks-*.batch")
	if err == nil {
		defer os.Remove(f.Name())
		_, err = f.WriteString(batch.String())
		err = errors.Join(err, f.Close())
	}
	if err == nil {
		_, err = nstest.Run("ip", "-n", ns, "-batch", f.Name())
	}
	if err != nil {
		_, derr := nstest.Run("ip", "netns", "del", ns)
		return "", errors.Join(err, derr)
	}
	return ns, nil
}

// child is a running child.
type child struct {
	proc *benchkit.Proc
	out  *benchkit.Log
	errs *benchkit.Log
	n    int // messages read so far
}

// startChild runs this program with -child mode in namespace ns.
func startChild(c *config, ns, mode, profile string) (*child, error) {
	ch := &child{out: &benchkit.Log{}, errs: &benchkit.Log{}}
	var args []string
	if !c.here {
		args = append(args, "ip", "netns", "exec", ns)
	}
	if c.nice != 0 {
		args = append(args, "nice", "-n", fmt.Sprint(c.nice))
	}
	args = append(args, c.self, "-child", mode, "-kind", c.kind,
		"-addrs", fmt.Sprint(c.addrs), "-ports", fmt.Sprint(c.ports),
		"-interval", c.interval.String(), "-timeout", c.timeout.String())
	if profile != "" {
		args = append(args, "-profile", profile)
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
	err := ch.out.Await(ctx, limit, ch.proc.Name+": message", func(s string) bool {
		return strings.Count(s, "\n") >= want || ch.proc.Exited()
	})
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
func (ch *child) ask(ctx context.Context) (message, error) {
	if err := ch.proc.Signal(syscall.SIGUSR1); err != nil {
		return message{}, err
	}
	return ch.next(ctx, 30*time.Second)
}

// stop stops the child and returns what went wrong, with its stderr.
func (ch *child) stop() error {
	err := ch.proc.Stop(syscall.SIGTERM, 30*time.Second)
	if err == nil && ch.proc.Err() != nil {
		err = fmt.Errorf("%s: %v: %s", ch.proc.Name, ch.proc.Err(), ch.errs.Tail(10))
	}
	return err
}

// sample is one run of one implementation.
type sample struct {
	impl     string
	run      int
	window   time.Duration
	ticks    int64         // utime+stime over the window, clock ticks
	sched    time.Duration // schedstat run time over the window
	slices   int64         // schedstat times put on a CPU over the window
	checks   uint64        // checks finished in the window
	accepts  uint64        // connections the listener accepted in the window
	fail     uint64        // checks failed, whole run
	expected float64       // checks due in the window
	late     hist.Snapshot // lateness of the window's checks
	mem      benchkit.Memory
	downs    uint64
	firstErr string
}

// oneRun measures impl once: a fresh checker process, the warmup, the
// window.
func oneRun(ctx context.Context, c *config, ns string, ln *child, impl string, n int) (s sample, err error) {
	if impl == "keepalived" {
		return oneRunKeepalived(ctx, c, ns, ln)
	}
	s.impl = impl
	prof := ""
	if c.profile != "" {
		prof = filepath.Join(c.profile, fmt.Sprintf("%s-%d", impl, n))
	}
	ch, err := startChild(c, ns, impl, prof)
	if err != nil {
		return s, err
	}
	defer func() { err = errors.Join(err, ch.stop()) }()
	if _, err := ch.next(ctx, time.Minute); err != nil {
		return s, err
	}
	pid := ch.proc.PID()
	if err := benchkit.Sleep(ctx, c.warmup); err != nil {
		return s, err
	}
	var m0, m1 message
	if err := s.measure(ctx, c, pid, ln,
		func() (err error) { m0, err = ch.ask(ctx); return err },
		func() (err error) { m1, err = ch.ask(ctx); return err }); err != nil {
		return s, err
	}
	s.checks = m1.Checks - m0.Checks
	s.fail = m1.Fail
	s.downs, s.firstErr = m1.Downs, m1.FirstErr
	for i := range s.late.Counts {
		s.late.Counts[i] = m1.Late[i] - m0.Late[i]
	}
	s.late.Sum = m1.LateSum - m0.LateSum
	return s, nil
}

// measure measures pid over c.window: its CPU use, the connections the
// listener ln accepted (s.accepts), its memory at the end and the checks
// due. before and after run right before the window starts and right
// after it ends (a checker's own counters).
func (s *sample) measure(ctx context.Context, c *config, pid int, ln *child, before, after func() error) error {
	a0, err := ln.ask(ctx)
	if err != nil {
		return err
	}
	if err := before(); err != nil {
		return err
	}
	t0 := time.Now()
	u0, err := readUsage(pid)
	if err != nil {
		return err
	}
	if err := benchkit.Sleep(ctx, c.window); err != nil {
		return err
	}
	u1, err := readUsage(pid)
	s.window = time.Since(t0)
	if err != nil {
		return err
	}
	if err := after(); err != nil {
		return err
	}
	a1, err := ln.ask(ctx)
	if err != nil {
		return err
	}
	if s.mem, err = benchkit.ReadMemory(pid); err != nil {
		return err
	}
	s.setUsage(u0, u1)
	s.accepts = a1.Checks - a0.Checks
	s.expected = float64(c.addrs*c.ports) * s.window.Seconds() / c.interval.Seconds()
	return nil
}

// usage is a process's CPU use so far.
type usage struct {
	ticks  int64         // utime+stime, clock ticks
	sched  time.Duration // its threads' schedstat run time
	slices int64         // its threads' schedstat times put on a CPU
}

func readUsage(pid int) (u usage, err error) {
	var errs [3]error
	u.ticks, errs[0] = benchkit.CPUTicks(pid)
	u.sched, errs[1] = benchkit.SchedRuntime(pid)
	u.slices, errs[2] = benchkit.SchedSlices(pid)
	return u, errors.Join(errs[:]...)
}

// setUsage sets the window's CPU use, from u0 at its start to u1 at
// its end.
func (s *sample) setUsage(u0, u1 usage) {
	s.ticks, s.sched, s.slices = u1.ticks-u0.ticks, u1.sched-u0.sched, u1.slices-u0.slices
}

func (s sample) cpu() time.Duration { return time.Duration(s.ticks) * benchkit.ClockTick }

// cpuPct is the CPU time per wall time, in % of one core.
func (s sample) cpuPct() float64 { return 100 * s.cpu().Seconds() / s.window.Seconds() }

// perCheck is CPU time d per check finished in the window, in µs.
func (s sample) perCheck(d time.Duration) float64 {
	if s.checks == 0 {
		return 0
	}
	return float64(d) / float64(time.Microsecond) / float64(s.checks)
}

func (s sample) line() string {
	return fmt.Sprintf("CPU %.2f s in %.1f s (%.1f%% of a core, %.1f µs/check, schedstat %.1f µs/check), checks %d/%.0f (accepted %d), failed %d, lateness p50 %s p99 %s mean %s, peak RSS %.1f MiB, %d threads",
		s.cpu().Seconds(), s.window.Seconds(), s.cpuPct(), s.perCheck(s.cpu()), s.perCheck(s.sched), s.checks, s.expected, s.accepts,
		s.fail, quantile(s.late, 0.5), quantile(s.late, 0.99), mean(s.late), mib(s.mem.HWM), s.mem.Threads)
}

// warnings are what makes a run's numbers suspect.
func (s sample) warnings() []string {
	var w []string
	if float64(s.checks) < 0.95*s.expected {
		w = append(w, fmt.Sprintf("%d checks in the window, %.0f due: the checker did not keep up", s.checks, s.expected))
	}
	if s.fail > 0 && s.downs == 0 && s.firstErr != "" {
		w = append(w, fmt.Sprintf("%d checks failed (first: %s)", s.fail, s.firstErr))
	} else if s.fail > 0 {
		w = append(w, fmt.Sprintf("%d checks failed", s.fail))
	}
	if s.downs > 0 {
		w = append(w, fmt.Sprintf("%d targets reported down (first: %s)", s.downs, s.firstErr))
	}
	return w
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// quantile returns the upper bound of the bucket holding quantile q of
// h, as "≤BOUND" (or ">10s").
func quantile(h hist.Snapshot, q float64) string {
	n := h.Count()
	if n == 0 {
		return "-"
	}
	var cum uint64
	for i, c := range h.Counts {
		cum += c
		if float64(cum) >= q*float64(n) {
			if i == len(hist.Bounds) {
				return ">" + hist.Bounds[i-1].String()
			}
			return "≤" + hist.Bounds[i].String()
		}
	}
	return "?"
}

// quantileBound is quantile's bound as a duration (the last bucket's:
// an hour).
func quantileBound(h hist.Snapshot, q float64) time.Duration {
	n := h.Count()
	var cum uint64
	for i, c := range h.Counts {
		cum += c
		if float64(cum) >= q*float64(n) && i < len(hist.Bounds) {
			return hist.Bounds[i]
		}
	}
	return time.Hour
}

// mean is the mean lateness, rounded to the microsecond.
func mean(h hist.Snapshot) string {
	n := h.Count()
	if n == 0 {
		return "-"
	}
	return (h.Sum / time.Duration(n)).Round(time.Microsecond).String()
}
