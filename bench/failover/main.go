//go:build linux

// Command failover measures VRRP failover time of keepalived and of vigil
// (examples/vrrpd) in the same network-namespace topology, and prints the
// ratios.
//
// Two routers on a bridge (nstest.Build(2)): A priority 150 (master), B
// priority 100 (backup), VRID 51, VIP 192.0.2.100/24. Per run A is
// SIGKILLed (keepalived: VRRP child, then parent; no priority 0 advert)
// or SIGTERMed (graceful: priority 0 advert), and the bench measures
//
//   - signal → VIP present on B: `ip -ts -n B monitor address`, started
//     before the signal, timestamps the kernel's address notification;
//   - signal → first gratuitous ARP for the VIP from B's MAC: tcpdump on
//     the bridge;
//   - the overhead over the RFC timers: after SIGKILL, VIP present minus
//     (A's last advert plus B's Master_Down_Interval); after SIGTERM, VIP
//     present minus (A's priority 0 advert plus B's Skew_Time); advert
//     times from the capture.
//
// Every run builds a fresh topology, so it starts clean, and deletes it.
// Run as root from the module root:
//
//	go run ./bench/failover                 # 5 runs x {1s v2, 100ms v3, 10ms v3} x {SIGKILL, SIGTERM} x both
//	go run ./bench/failover -quick          # 2 runs at 100ms, under a minute
//	go run ./bench/failover -runs 10 -intervals 10ms -impl vigil -signals kill
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
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

const (
	vrid  = 51
	prioA = 150
	prioB = 100
)

var (
	vip    = netip.MustParsePrefix("192.0.2.100/24")
	probe  = netip.MustParsePrefix("198.51.100.2/32") // proves ip monitor is listening
	allImp = []string{"keepalived", "vigil"}
)

type config struct {
	runs      int
	intervals []time.Duration
	impls     []string
	signals   []string
	vrrpd     string
	workDir   string
	keep      bool
	maxFail   int
}

// key identifies a cell of the results table.
type key struct {
	impl   string
	ival   time.Duration
	signal string
}

// result is one run's measurements.
type result struct {
	toVIP, toGARP, overhead time.Duration
	// SIGKILL: A's last advert → signal (the phase); SIGTERM: signal → A's
	// priority 0 advert (the leaving master's latency).
	aux time.Duration
	// vipToGARP is B's VIP present → its first GARP.
	vipToGARP time.Duration
	// advertOverhead is the overhead of B's first advert as master (the
	// timer's lateness, before any address work), as overhead.
	advertOverhead time.Duration
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("failover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench/failover [flags] (as root, from the module root)\n\n"+
			"Measures VRRP failover of keepalived and vigil's vrrpd after SIGKILL and SIGTERM of the master.\n\nflags:\n")
		fs.PrintDefaults()
	}
	runs := fs.Int("runs", 5, "runs per (implementation, interval, signal)")
	intervals := fs.String("intervals", "1s,100ms,10ms", "advert intervals, comma-separated: 1s and other whole seconds use VRRPv2, sub-second ones VRRPv3 (whole centiseconds)")
	impls := fs.String("impl", "keepalived,vigil", "implementations to run, comma-separated: keepalived, vigil")
	signals := fs.String("signals", "kill,term", "how the master stops, comma-separated: kill (SIGKILL: crash), term (SIGTERM: graceful, priority 0)")
	quick := fs.Bool("quick", false, "short run: -runs 2 -intervals 100ms (overrides them)")
	vrrpd := fs.String("vrrpd", "", "vrrpd binary to use (default: go build ./examples/vrrpd into a temporary directory)")
	keep := fs.String("keep", "", "keep every run's pcap and daemon logs under this directory")
	maxFail := fs.Int("max-failures", 3, "give up after this many failed runs")
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
		*runs, *intervals = 2, "100ms"
	}
	c := &config{runs: *runs, vrrpd: *vrrpd, maxFail: *maxFail}
	var err error
	if c.intervals, err = parseIntervals(*intervals); err != nil {
		fmt.Fprintln(stderr, "failover: -intervals:", err)
		return 2
	}
	if c.impls, err = benchkit.ParseList(*impls, allImp); err != nil {
		fmt.Fprintln(stderr, "failover: -impl:", err)
		return 2
	}
	if c.signals, err = benchkit.ParseList(*signals, []string{"kill", "term"}); err != nil {
		fmt.Fprintln(stderr, "failover: -signals:", err)
		return 2
	}
	if c.runs < 1 || c.runs > 1000 {
		fmt.Fprintln(stderr, "failover: -runs: want 1..1000")
		return 2
	}

	ctx, stop := benchkit.SignalContext()
	defer stop()
	ws, cleanup, err := benchkit.Prepare(ctx, "failover", c.impls, c.vrrpd, *keep, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "failover:", err)
		return 1
	}
	defer cleanup()
	c.workDir, c.keep, c.vrrpd = ws.Dir, ws.Keep, ws.Vrrpd

	env := benchkit.Environment()
	results := map[key][]result{}
	failed := 0
	start := time.Now()
	for _, ival := range c.intervals {
		for _, sig := range c.signals {
			// Alternate the implementations run by run, so that slow
			// drifts of the machine touch both alike.
			for i := 1; i <= c.runs; i++ {
				for _, impl := range c.impls {
					k := key{impl, ival, sig}
					r, err := oneRun(ctx, c, k, i)
					if ctx.Err() != nil {
						fmt.Fprintln(stderr, "failover: interrupted; everything it created is removed")
						return 130
					}
					if err != nil {
						failed++
						fmt.Fprintf(stderr, "FAILED %s %s %s run %d: %v\n", impl, ivalName(ival), sig, i, err)
						if failed >= c.maxFail {
							fmt.Fprintf(stderr, "failover: %d failed runs, giving up\n", failed)
							printTables(stdout, env, c, results)
							return 1
						}
						continue
					}
					results[k] = append(results[k], r)
					fmt.Fprintf(stderr, "%-10s %-9s %s run %d/%d: VIP %s ms, GARP %s ms, overhead %s ms (first advert %s ms), %s %s ms\n",
						impl, ivalName(ival), sig, i, c.runs, benchkit.Ms(r.toVIP), benchkit.Ms(r.toGARP),
						benchkit.Ms(r.overhead), benchkit.Ms(r.advertOverhead), auxName(sig), benchkit.Ms(r.aux))
				}
			}
		}
	}
	fmt.Fprintf(stderr, "done in %v\n", time.Since(start).Round(time.Second))
	printTables(stdout, env, c, results)
	if failed > 0 {
		return 1
	}
	return 0
}

func parseIntervals(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		switch {
		case d >= time.Second && d%time.Second == 0 && d <= 255*time.Second:
		case d >= 10*time.Millisecond && d < time.Second && d%(10*time.Millisecond) == 0:
		default:
			return nil, fmt.Errorf("%v: want whole seconds (VRRPv2) or whole centiseconds below 1s (VRRPv3)", d)
		}
		out = append(out, d)
	}
	return out, nil
}

// version is the VRRP version used at interval ival: v2 for whole
// seconds, v3 below.
func version(ival time.Duration) int {
	if ival >= time.Second {
		return 2
	}
	return 3
}

func ivalName(ival time.Duration) string { return fmt.Sprintf("%v v%d", ival, version(ival)) }

func auxName(sig string) string {
	if sig == "kill" {
		return "last advert→signal"
	}
	return "signal→prio0"
}

// skew is Skew_Time of a router of priority prio: (256-prio)/256 s in v2,
// (256-prio)*interval/256 in v3.
func skew(ival time.Duration, prio int) time.Duration {
	if version(ival) == 2 {
		return time.Duration(256-prio) * time.Second / 256
	}
	return time.Duration(256-prio) * ival / 256
}

// masterDown is Master_Down_Interval: 3 x interval + Skew_Time.
func masterDown(ival time.Duration, prio int) time.Duration { return 3*ival + skew(ival, prio) }

func keepalivedConf(h *nstest.Host, state string, prio int, ival time.Duration) string {
	return fmt.Sprintf(`global_defs {
    router_id %s
}
vrrp_instance VI_%d {
    state %s
    interface %s
    version %d
    virtual_router_id %d
    priority %d
    advert_int %g
    virtual_ipaddress {
        %s
    }
}
`, h.Name, vrid, state, h.Link, version(ival), vrid, prio, ival.Seconds(), vip)
}

func startRouter(ctx context.Context, c *config, impl string, h *nstest.Host, state string, prio int, ival time.Duration, dir string) (benchkit.Router, error) {
	if impl == "keepalived" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		k, err := benchkit.StartKeepalived(ctx, h.Name, dir, keepalivedConf(h, state, prio, ival))
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return k, nil
	}
	v, err := benchkit.StartVrrpd(c.vrrpd, h.Name, "-interface", h.Link, "-vrid", fmt.Sprint(vrid),
		"-priority", fmt.Sprint(prio), "-version", fmt.Sprint(version(ival)), "-advert", ival.String(),
		"-vip", vip.String(), "-state", state)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// oneRun is one failover in a fresh topology, deleted before it returns.
func oneRun(ctx context.Context, c *config, k key, n int) (res result, err error) {
	dir, seg, release, err := benchkit.Fresh(benchkit.Workspace{Dir: c.workDir, Keep: c.keep},
		fmt.Sprintf("%s-%v-%s-%d", k.impl, k.ival, k.signal, n), 2)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, release()) }()
	A, B := seg.Hosts[0], seg.Hosts[1]

	capture, err := benchkit.StartCapture(ctx, seg.Switch, "br0", filepath.Join(dir, "br0.pcap"), 128, "arp or ip proto 112")
	if err != nil {
		return res, err
	}
	defer capture.Stop()
	mon, err := benchkit.StartMonitor(ctx, B.Name, probe)
	if err != nil {
		return res, err
	}
	defer mon.Stop()

	var ra, rb benchkit.Router
	// Stop B, then A (if still running), and wait for both; on failure
	// say what the daemons said.
	defer func() { err = benchkit.StopRouters(err, dir, c.keep, ra, rb) }()

	ra, err = startRouter(ctx, c, k.impl, A, "MASTER", prioA, k.ival, filepath.Join(dir, "a"))
	if err != nil {
		return res, fmt.Errorf("router A: %w", err)
	}
	if err = ra.AwaitStates(ctx, "MASTER", 1, masterDown(k.ival, prioA)+5*time.Second); err != nil {
		return res, err
	}
	if err = benchkit.AwaitAddr(ctx, A, vip.Addr(), true, 2*time.Second); err != nil {
		return res, err
	}
	rb, err = startRouter(ctx, c, k.impl, B, "BACKUP", prioB, k.ival, filepath.Join(dir, "b"))
	if err != nil {
		return res, fmt.Errorf("router B: %w", err)
	}
	if err = rb.AwaitStates(ctx, "BACKUP", 1, 5*time.Second); err != nil {
		return res, err
	}
	// B must hear A for longer than its Master_Down_Interval, and the
	// signal must fall at a random phase of A's advert timer.
	mdi := masterDown(k.ival, prioB)
	settle := max(mdi, 300*time.Millisecond) + rand.N(k.ival)
	if err = benchkit.Sleep(ctx, settle); err != nil {
		return res, err
	}
	// Clean start: A master (once) with the VIP, B backup without it.
	hasA, errA := A.HasAddr(vip.Addr())
	hasB, errB := B.HasAddr(vip.Addr())
	if err = errors.Join(errA, errB); err != nil {
		return res, err
	}
	if ra.States("MASTER") != 1 || rb.States("MASTER") != 0 || !hasA || hasB || ra.Exited() || rb.Exited() {
		return res, fmt.Errorf("not a clean start: A master x%d (VIP %v), B master x%d (VIP %v)",
			ra.States("MASTER"), hasA, rb.States("MASTER"), hasB)
	}

	var t0 time.Time
	if k.signal == "kill" {
		t0, err = ra.Crash()
	} else {
		t0, err = ra.Leave()
	}
	if err != nil {
		return res, fmt.Errorf("signal A: %w", err)
	}
	tVIP, err := mon.AwaitAdd(ctx, vip.Addr(), t0, mdi+3*time.Second)
	if err != nil {
		return res, err
	}
	if err = rb.AwaitStates(ctx, "MASTER", 1, 3*time.Second); err != nil {
		return res, err
	}
	if !ra.WaitExit(10 * time.Second) {
		return res, fmt.Errorf("router A (%s) did not exit within 10s of %s", k.impl, k.signal)
	}
	// Let the first GARP burst reach the capture, then read it.
	if err = benchkit.Sleep(ctx, 200*time.Millisecond); err != nil {
		return res, err
	}
	if err = capture.Stop(); err != nil {
		return res, err
	}
	if capture.Dropped > 0 {
		return res, fmt.Errorf("tcpdump: %d packets dropped by the kernel", capture.Dropped)
	}
	return analyze(capture.File, k, A, B, t0, tVIP)
}

// analyze reads the capture of one run.
func analyze(file string, k key, A, B *nstest.Host, t0, tVIP time.Time) (result, error) {
	var (
		lastA, zeroA, garpB, advertB time.Time
		advertsA                     int
	)
	err := benchkit.ReadFrames(file, func(f *benchkit.Frame) {
		switch {
		case f.IsVRRP && f.VRID == vrid && f.SrcMAC.String() == A.MAC.String():
			advertsA++
			if f.Priority == 0 {
				if zeroA.IsZero() {
					zeroA = f.Time
				}
			} else {
				lastA = f.Time
			}
		case f.IsARP && f.ARPOp == 1 && f.ARPSender == vip.Addr() && f.ARPTarget == vip.Addr() &&
			f.SrcMAC.String() == B.MAC.String() && f.Time.After(t0) && garpB.IsZero():
			garpB = f.Time
		case f.IsVRRP && f.VRID == vrid && f.SrcMAC.String() == B.MAC.String() && f.Priority == prioB &&
			f.Time.After(t0) && advertB.IsZero():
			advertB = f.Time
		}
	})
	if err != nil {
		return result{}, err
	}
	res := result{toVIP: tVIP.Sub(t0)}
	if garpB.IsZero() {
		return res, errors.New("no gratuitous ARP for the VIP from B in the capture")
	}
	res.toGARP = garpB.Sub(t0)
	res.vipToGARP = garpB.Sub(tVIP)
	if lastA.IsZero() {
		return res, errors.New("no advert from A in the capture")
	}
	if advertB.IsZero() {
		return res, errors.New("no advert from B as master in the capture")
	}
	var due time.Time // when B's timer should fire
	switch k.signal {
	case "kill":
		if !zeroA.IsZero() {
			return res, fmt.Errorf("router A sent a priority 0 advert after SIGKILL (%v after the signal)", zeroA.Sub(t0))
		}
		res.aux = t0.Sub(lastA)
		due = lastA.Add(masterDown(k.ival, prioB))
	case "term":
		if zeroA.IsZero() {
			return res, errors.New("no priority 0 advert from A after SIGTERM")
		}
		res.aux = zeroA.Sub(t0)
		due = zeroA.Add(skew(k.ival, prioB))
	}
	res.overhead = tVIP.Sub(due)
	res.advertOverhead = advertB.Sub(due)
	_ = advertsA
	return res, nil
}

func summarize(rs []result, f func(result) time.Duration) benchkit.Summary {
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = f(r)
	}
	return benchkit.Summarize(ds)
}

func printTables(w io.Writer, env string, c *config, results map[key][]result) {
	fmt.Fprintf(w, "\n%s; load average at the end %s\n", env, benchkit.LoadAvg())
	fmt.Fprintf(w, "\nVRRP failover, A prio %d → B prio %d, VIP %v (times in ms: min / median / max)\n\n", prioA, prioB, vip)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "impl\tinterval\tsignal\truns\tsignal→VIP on B\tsignal→first GARP\toverhead over RFC timers\t")
	for _, ival := range c.intervals {
		for _, sig := range c.signals {
			for _, impl := range c.impls {
				rs := results[key{impl, ival, sig}]
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%v\t%v\t%v\t\n", impl, ivalName(ival), sigName(sig), len(rs),
					summarize(rs, func(r result) time.Duration { return r.toVIP }),
					summarize(rs, func(r result) time.Duration { return r.toGARP }),
					summarize(rs, func(r result) time.Duration { return r.overhead }))
			}
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\nwhere the time goes (ms: min / median / max): RFC timer = B's Master_Down_Interval (SIGKILL) or Skew_Time (SIGTERM);\n"+
		"timer overhead = B's first advert as master minus when the RFC timer was due; phase = A's last advert → SIGKILL;\n"+
		"prio-0 latency = SIGTERM → A's priority 0 advert; VIP→GARP = B's VIP present → its first GARP\n\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "impl\tinterval\tsignal\tRFC timer\ttimer overhead (first advert)\tphase / prio-0 latency\tVIP→GARP\t")
	for _, ival := range c.intervals {
		for _, sig := range c.signals {
			for _, impl := range c.impls {
				rs := results[key{impl, ival, sig}]
				timer := benchkit.Ms(masterDown(ival, prioB))
				if sig == "term" {
					timer = benchkit.Ms(skew(ival, prioB))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%v\t%v\t\n", impl, ivalName(ival), sigName(sig), timer,
					summarize(rs, func(r result) time.Duration { return r.advertOverhead }),
					summarize(rs, func(r result) time.Duration { return r.aux }),
					summarize(rs, func(r result) time.Duration { return r.vipToGARP }))
			}
		}
	}
	tw.Flush()
	if !slices.Contains(c.impls, "vigil") || !slices.Contains(c.impls, "keepalived") {
		return
	}
	fmt.Fprintf(w, "\nvigil / keepalived, ratio of medians; target: vigil's overhead < 1 ms and ≤ keepalived's median\n\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "interval\tsignal\tsignal→VIP\tsignal→GARP\toverhead\tvigil overhead max\t< 1 ms\t≤ keepalived median\t")
	for _, ival := range c.intervals {
		for _, sig := range c.signals {
			v, ka := results[key{"vigil", ival, sig}], results[key{"keepalived", ival, sig}]
			if len(v) == 0 || len(ka) == 0 {
				continue
			}
			med := func(rs []result, f func(result) time.Duration) float64 { return float64(summarize(rs, f).Median) }
			toVIP := func(r result) time.Duration { return r.toVIP }
			garp := func(r result) time.Duration { return r.toGARP }
			over := func(r result) time.Duration { return r.overhead }
			vo, ko := summarize(v, over), summarize(ka, over)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", ivalName(ival), sigName(sig),
				benchkit.Ratio(med(v, toVIP), med(ka, toVIP)), benchkit.Ratio(med(v, garp), med(ka, garp)),
				benchkit.Ratio(med(v, over), med(ka, over)), benchkit.Ms(vo.Max),
				yesNo(vo.Max < time.Millisecond), yesNo(vo.Median <= ko.Median))
		}
	}
	tw.Flush()
}

func sigName(s string) string {
	if s == "kill" {
		return "SIGKILL"
	}
	return "SIGTERM"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}
