//go:build linux

// Command instances measures the CPU and memory of many VRRP instances on
// one interface, keepalived next to vigil (examples/vrrpd).
//
// One node (nstest.Build(1)) runs N instances (VRIDs 1..N, VRRPv3, 100 ms,
// priority 150, VIP 198.18.0.i/15 for VRID i) and becomes MASTER of all of
// them: the master is the costly side, it sends N adverts per interval,
// while a backup only receives. A peer would add nothing to the master's
// work (backups are silent) but would compete for the same CPUs, so
// there is none. After a warmup (past the second gratuitous ARP burst, 5 s
// after becoming master) the bench samples, over a window:
//
//   - CPU: utime+stime from /proc/PID/stat at the start and end of the
//     window (keepalived: parent + VRRP child), cross-checked with the
//     threads' /proc/PID/task/*/schedstat run time (nanoseconds);
//   - adverts sent in the window, counted in a tcpdump capture on the
//     bridge and compared with N x window / interval; CPU per advert is
//     the CPU time over the captured count;
//   - memory at the end: VmRSS from /proc/PID/status (keepalived: parent
//     plus VRRP child) and Pss from /proc/PID/smaps_rollup (which splits
//     shared pages, such as keepalived's shared libraries and the pages
//     its two processes share, among the processes mapping them).
//
// Run as root from the module root:
//
//	go run ./bench/instances              # 200 instances, 60 s window, both
//	go run ./bench/instances -quick       # 10 s window, under a minute
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
	"github.com/vigil-ha/vigil/internal/nstest"
)

const priority = 150

var firstVIP = netip.MustParsePrefix("198.18.0.1/15")

type config struct {
	instances int
	interval  time.Duration
	duration  time.Duration
	warmup    time.Duration
	impls     []string
	vrrpd     string
	workDir   string
	keep      bool
}

// sample is one implementation's measurements.
type sample struct {
	impl             string
	window           time.Duration
	ticks            int64         // utime+stime over the window
	sched            time.Duration // schedstat run time over the window
	adverts          int           // captured in the window
	expected         float64
	minPer, maxPer   int // adverts per VRID in the window
	vrids            int // VRIDs seen in the window
	mem              benchkit.Memory
	perProc          []benchkit.Memory
	procs, threads   int
	masters, dropped int
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("instances", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench/instances [flags] (as root, from the module root)\n\n"+
			"Measures CPU per advert and memory of N VRRP instances (one master node) for keepalived and vigil's vrrpd.\n\nflags:\n")
		fs.PrintDefaults()
	}
	c := &config{}
	fs.IntVar(&c.instances, "instances", 200, "VRRP instances (VRIDs 1..N), 1..255")
	fs.DurationVar(&c.interval, "interval", 100*time.Millisecond, "advert interval (VRRPv3: whole centiseconds below 1s)")
	fs.DurationVar(&c.duration, "duration", 60*time.Second, "measurement window")
	fs.DurationVar(&c.warmup, "warmup", 10*time.Second, "wait after all instances are MASTER before the window (the second GARP burst comes at 5s)")
	impls := fs.String("impl", "keepalived,vigil", "implementations, comma-separated: keepalived, vigil")
	quick := fs.Bool("quick", false, "short run: -duration 10s -warmup 6s (overrides them)")
	fs.StringVar(&c.vrrpd, "vrrpd", "", "vrrpd binary to use (default: go build ./examples/vrrpd into a temporary directory)")
	keep := fs.String("keep", "", "keep the pcaps and daemon logs under this directory")
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
	if *quick {
		c.duration, c.warmup = 10*time.Second, 6*time.Second
	}
	switch {
	case c.instances < 1 || c.instances > 255:
		fmt.Fprintln(stderr, "instances: -instances: want 1..255")
		return 2
	case c.interval < 10*time.Millisecond || c.interval >= time.Second || c.interval%(10*time.Millisecond) != 0:
		fmt.Fprintln(stderr, "instances: -interval: want whole centiseconds in 10ms..990ms (VRRPv3)")
		return 2
	case c.duration < time.Second || c.duration > time.Hour || c.warmup < 0 || c.warmup > time.Hour:
		fmt.Fprintln(stderr, "instances: -duration: want 1s..1h; -warmup: 0..1h")
		return 2
	}
	for _, f := range strings.Split(*impls, ",") {
		f = strings.TrimSpace(f)
		if f != "keepalived" && f != "vigil" {
			fmt.Fprintf(stderr, "instances: -impl %q: want keepalived or vigil\n", f)
			return 2
		}
		if !slices.Contains(c.impls, f) {
			c.impls = append(c.impls, f)
		}
	}

	ctx, stop := benchkit.SignalContext()
	defer stop()
	ws, cleanup, err := benchkit.Prepare(ctx, "instances", c.impls, c.vrrpd, *keep, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "instances:", err)
		return 1
	}
	defer cleanup()
	c.workDir, c.keep, c.vrrpd = ws.Dir, ws.Keep, ws.Vrrpd

	env := benchkit.Environment()
	var samples []sample
	for _, impl := range c.impls {
		fmt.Fprintf(stderr, "%s: %d instances at %v, warmup %v, window %v ...\n", impl, c.instances, c.interval, c.warmup, c.duration)
		s, err := measure(ctx, c, impl)
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "instances: interrupted; everything it created is removed")
			return 130
		}
		if err != nil {
			fmt.Fprintf(stderr, "instances: %s: %v\n", impl, err)
			printTables(stdout, env, c, samples)
			return 1
		}
		samples = append(samples, s)
	}
	printTables(stdout, env, c, samples)
	return 0
}

func keepalivedConf(h *nstest.Host, c *config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    router_id %s\n}\n", h.Name)
	a := firstVIP.Addr()
	for i := 1; i <= c.instances; i++ {
		fmt.Fprintf(&b, `vrrp_instance VI_%d {
    state MASTER
    interface %s
    version 3
    virtual_router_id %d
    priority %d
    advert_int %g
    virtual_ipaddress {
        %s
    }
}
`, i, h.Link, i, priority, c.interval.Seconds(), netip.PrefixFrom(a, firstVIP.Bits()))
		a = a.Next()
	}
	return b.String()
}

func startRouter(ctx context.Context, c *config, impl string, h *nstest.Host, dir string) (benchkit.Router, error) {
	if impl == "keepalived" {
		k, err := benchkit.StartKeepalived(ctx, h.Name, dir, keepalivedConf(h, c))
		if err != nil {
			return nil, err
		}
		return k, nil
	}
	v, err := benchkit.StartVrrpd(c.vrrpd, h.Name, "-interface", h.Link, "-vrid", "1", "-count", fmt.Sprint(c.instances),
		"-priority", fmt.Sprint(priority), "-version", "3", "-advert", c.interval.String(),
		"-vip", firstVIP.String(), "-state", "MASTER")
	if err != nil {
		return nil, err
	}
	return v, nil
}

// cpu sums the CPU counters of pids.
func cpu(pids []int) (int64, time.Duration, error) {
	var ticks int64
	var sched time.Duration
	for _, pid := range pids {
		t, err := benchkit.CPUTicks(pid)
		if err != nil {
			return 0, 0, err
		}
		s, err := benchkit.SchedRuntime(pid)
		if err != nil {
			return 0, 0, err
		}
		ticks, sched = ticks+t, sched+s
	}
	return ticks, sched, nil
}

// measure runs one implementation in a fresh topology, deleted before it
// returns.
func measure(ctx context.Context, c *config, impl string) (s sample, err error) {
	s.impl = impl
	dir, seg, release, err := benchkit.Fresh(benchkit.Workspace{Dir: c.workDir, Keep: c.keep}, impl, 1)
	if err != nil {
		return s, err
	}
	defer func() { err = errors.Join(err, release()) }()
	h := seg.Hosts[0]
	capture, err := benchkit.StartCapture(ctx, seg.Switch, "br0", filepath.Join(dir, "br0.pcap"), 64, "ip proto 112")
	if err != nil {
		return s, err
	}
	defer capture.Stop()

	r, err := startRouter(ctx, c, impl, h, dir)
	if err != nil {
		return s, err
	}
	defer func() {
		if serr := r.Stop(); serr != nil {
			err = errors.Join(err, serr)
		}
		if c.keep {
			_ = os.WriteFile(filepath.Join(dir, "daemon.log"), []byte(r.Output()), 0o644)
		}
		if err != nil {
			lines := strings.Split(strings.TrimRight(r.Output(), "\n"), "\n")
			err = fmt.Errorf("%w\n--- %s output (tail):\n%s", err, impl, strings.Join(lines[max(0, len(lines)-15):], "\n"))
		}
	}()
	limit := 3*c.interval + c.interval + 15*time.Second
	if err = r.AwaitStates(ctx, "MASTER", c.instances, limit); err != nil {
		return s, err
	}
	if err = benchkit.Sleep(ctx, c.warmup); err != nil {
		return s, err
	}
	pids := r.PIDs()
	masters := r.States("MASTER")
	states := func() string {
		return fmt.Sprintf("MASTER x%d, BACKUP x%d, FAULT x%d", r.States("MASTER"), r.States("BACKUP"), r.States("FAULT"))
	}
	before := states()
	t1 := time.Now()
	ticks1, sched1, err := cpu(pids)
	if err != nil {
		return s, err
	}
	if err = benchkit.Sleep(ctx, c.duration); err != nil {
		return s, err
	}
	ticks2, sched2, err := cpu(pids)
	t2 := time.Now()
	if err != nil {
		return s, err
	}
	for _, pid := range pids {
		m, err := benchkit.ReadMemory(pid)
		if err != nil {
			return s, err
		}
		s.perProc = append(s.perProc, m)
		s.mem.RSS += m.RSS
		s.mem.HWM += m.HWM
		s.mem.PSS += m.PSS
		s.threads += m.Threads
	}
	s.procs = len(pids)
	if r.Exited() {
		return s, errors.New("the daemon exited during the window")
	}
	if after := states(); after != before || masters != c.instances {
		return s, fmt.Errorf("transitions during the window: %s before, %s after, want MASTER x%d", before, after, c.instances)
	}
	s.masters = masters
	s.window = t2.Sub(t1)
	s.ticks = ticks2 - ticks1
	s.sched = sched2 - sched1
	s.expected = float64(c.instances) * float64(s.window) / float64(c.interval)

	if err = capture.Stop(); err != nil {
		return s, err
	}
	s.dropped = capture.Dropped
	per := map[uint8]int{}
	err = benchkit.ReadFrames(capture.File, func(f *benchkit.Frame) {
		if f.IsVRRP && f.SrcMAC.String() == h.MAC.String() && !f.Time.Before(t1) && !f.Time.After(t2) {
			per[f.VRID]++
			s.adverts++
		}
	})
	if err != nil {
		return s, err
	}
	s.vrids = len(per)
	s.minPer, s.maxPer = -1, 0
	for _, n := range per {
		if s.minPer < 0 || n < s.minPer {
			s.minPer = n
		}
		s.maxPer = max(s.maxPer, n)
	}
	if s.adverts == 0 {
		return s, errors.New("no adverts captured in the window")
	}
	if s.dropped > 0 {
		return s, fmt.Errorf("tcpdump dropped %d packets: the advert count is not exact", s.dropped)
	}
	return s, nil
}

func mib(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }

func (s sample) cpuTime() time.Duration { return time.Duration(s.ticks) * benchkit.ClockTick }

// perAdvert is CPU per captured advert, from stat (ticks) and schedstat.
func (s sample) perAdvert() (stat, sched float64) {
	n := float64(s.adverts)
	return float64(s.cpuTime()) / n / 1e3, float64(s.sched) / n / 1e3 // µs
}

func printTables(w io.Writer, env string, c *config, samples []sample) {
	if len(samples) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s; load average at the end %s\n", env, benchkit.LoadAvg())
	fmt.Fprintf(w, "\n%d VRRPv3 instances at %v on one interface, one node MASTER of all (priority %d); window %v after %v warmup\n\n",
		c.instances, c.interval, priority, c.duration, c.warmup)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "impl\tprocs/threads\twindow s\tadverts (captured / expected)\tper VRID min-max\tCPU s (stat)\tCPU % of a core\tCPU/advert µs (stat)\tCPU/advert µs (schedstat)\tRSS MiB\tPSS MiB\tpeak RSS MiB\t")
	for _, s := range samples {
		st, sc := s.perAdvert()
		fmt.Fprintf(tw, "%s\t%d/%d\t%.3f\t%d / %.0f (%+.2f%%)\t%d-%d (%d VRIDs)\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%s\t%s\t\n",
			s.impl, s.procs, s.threads, s.window.Seconds(), s.adverts, s.expected, 100*(float64(s.adverts)/s.expected-1),
			s.minPer, s.maxPer, s.vrids, s.cpuTime().Seconds(), 100*s.cpuTime().Seconds()/s.window.Seconds(), st, sc,
			mib(s.mem.RSS), mib(s.mem.PSS), mib(s.mem.HWM))
	}
	tw.Flush()
	for _, s := range samples {
		if s.impl == "keepalived" && len(s.perProc) == 2 {
			fmt.Fprintf(w, "keepalived RSS: parent %s MiB + VRRP child %s MiB (PSS %s + %s)\n",
				mib(s.perProc[0].RSS), mib(s.perProc[1].RSS), mib(s.perProc[0].PSS), mib(s.perProc[1].PSS))
		}
	}
	var ka, vg *sample
	for i := range samples {
		switch samples[i].impl {
		case "keepalived":
			ka = &samples[i]
		case "vigil":
			vg = &samples[i]
		}
	}
	if ka == nil || vg == nil {
		return
	}
	kst, ksc := ka.perAdvert()
	vst, vsc := vg.perAdvert()
	fmt.Fprintf(w, "\nvigil / keepalived; targets: CPU per advert ≤ 1, RSS ≤ 2\n\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tkeepalived\tvigil\tratio\ttarget met\t")
	fmt.Fprintf(tw, "CPU/advert µs (stat)\t%.2f\t%.2f\t%s\t%s\t\n", kst, vst, benchkit.Ratio(vst, kst), yesNo(vst <= kst))
	fmt.Fprintf(tw, "CPU/advert µs (schedstat)\t%.2f\t%.2f\t%s\t%s\t\n", ksc, vsc, benchkit.Ratio(vsc, ksc), yesNo(vsc <= ksc))
	fmt.Fprintf(tw, "RSS MiB\t%s\t%s\t%s\t%s\t\n", mib(ka.mem.RSS), mib(vg.mem.RSS),
		benchkit.Ratio(float64(vg.mem.RSS), float64(ka.mem.RSS)), yesNo(vg.mem.RSS <= 2*ka.mem.RSS))
	fmt.Fprintf(tw, "PSS MiB (no target)\t%s\t%s\t%s\t-\t\n", mib(ka.mem.PSS), mib(vg.mem.PSS),
		benchkit.Ratio(float64(vg.mem.PSS), float64(ka.mem.PSS)))
	tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}
