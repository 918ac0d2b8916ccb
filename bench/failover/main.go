//go:build linux

// Command failover measures VRRP failover of keepalived and of vigil
// (examples/vrrpd) in the same network-namespace topology, and prints the
// ratios.
//
// Two routers on a bridge (nstest.Build(2)): A priority 150 (master), B
// priority 100 (backup), VRID 51, VIP 192.0.2.100/24 (IPv4) or
// 2001:db8::100/64 (IPv6). Per run A is SIGKILLed (keepalived: VRRP child,
// then parent; no priority 0 advert) or SIGTERMed (graceful: priority 0
// advert). The headline is what the network sees, from a capture on the
// bridge, relative to when B's RFC timer was due (A's last advert plus B's
// Master_Down_Interval after SIGKILL; A's priority 0 advert plus B's
// Skew_Time after SIGTERM):
//
//   - B's first advert as master;
//   - B's first gratuitous ARP (IPv4) or neighbour advertisement (IPv6)
//     for the VIP.
//
// Secondary: signal → VIP present on B (`ip -ts -n B monitor address`,
// started before the signal), VIP present minus the due time, VIP present
// → first GARP/NA.
//
// With -mass it measures a mass failover instead: A master of -vrids
// VRIDs (200; VIP 198.18.0.i/15 for VRID i; keepalived in every run, or
// -mass-master), B their backup, A SIGKILLed; per VRID, B's first GARP
// for its VIP minus that VRID's due time, p50 / p99 / max across the
// VRIDs of each run, and B's CPU time. -impl floor is B as a floor: the
// same takeovers with raw system calls and nothing else (massfloor.go);
// with -vrids 1, the floor of a single takeover. -settle keeps the pair
// running longer before the kill: a settled keepalived master sends its
// adverts in a tighter cluster, so B's deadlines come denser.
//
// Every run builds a fresh topology, so it starts clean, and deletes it.
// Run as root from the module root:
//
//	go run ./bench/failover         # 10 runs x {1s, 100ms, 10ms} x {SIGKILL, SIGTERM} x {IPv4, IPv6} x both: ~21 min
//	go run ./bench/failover -quick  # 2 runs at 100ms, IPv4: under a minute
//	go run ./bench/failover -mass   # 5 runs, 200 VRIDs at 100ms, SIGKILL, IPv4, both: ~1 min
//	go run ./bench/failover -mass -impl keepalived,vigil,vigild,floor -runs 10
//	go run ./bench/failover -mass -impl keepalived,vigil,vigild,floor -runs 10 -settle 15s  # ~12 min
//	go run ./bench/failover -mass -vrids 1 -intervals 1s,100ms,10ms -impl floor,vigil -runs 20
//	go run ./bench/failover -runs 10 -intervals 10ms -impl vigil -signals kill -families ipv6
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
	// captureFilter: ARP, VRRP over IPv4 and IPv6, ICMPv6 (NAs).
	captureFilter = "arp or ip proto 112 or ip6 proto 112 or icmp6"
)

var (
	vips = map[string]netip.Prefix{
		"ipv4": netip.MustParsePrefix("192.0.2.100/24"),
		"ipv6": netip.MustParsePrefix("2001:db8::100/64"),
	}
	probe  = netip.MustParsePrefix("198.51.100.2/32") // proves ip monitor is listening
	allImp = []string{"keepalived", "vigil", "vigild"}
)

type config struct {
	runs      int
	intervals []time.Duration
	impls     []string
	signals   []string
	families  []string
	vrids     int           // -mass
	massA     string        // -mass-master: A's implementation, "" for B's
	settle    time.Duration // -settle: B's time as backup before A's crash, beyond the minimum
	approach  time.Duration // -floor-approach
	vrrpd     string
	vigild    string
	workDir   string
	keep      bool
	trace     bool // -trace: B's vrrpd writes a runtime trace into the run's directory
	maxFail   int
	gaps      string // the machine's own gaps (-hiccup), for the header; "" if not measured

	// From the flags, for run's start.
	mass    bool          // -mass
	hiccup  time.Duration // -hiccup: how long to measure the machine's gaps
	keepDir string        // -keep
}

// key identifies a cell of the results table.
type key struct {
	impl   string
	fam    string
	ival   time.Duration
	signal string
}

// result is one run's measurements.
type result struct {
	// advert and garp are B's first advert as master and its first
	// GARP/NA for the VIP, minus when B's RFC timer was due (the wire).
	advert, garp time.Duration
	// toVIP is signal → VIP present on B; overhead is VIP present minus
	// the due time; vipToGARP is VIP present → first GARP/NA.
	toVIP, overhead, vipToGARP time.Duration
	// aux: SIGKILL: A's last advert → signal (the phase); SIGTERM: signal
	// → A's priority 0 advert (the leaving master's latency).
	aux time.Duration
}

func main() {
	if code, ok := massFloorMain(os.Args[1:], os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	c, code := parse(args, stderr)
	if c == nil {
		return code
	}
	return measure(c, stdout, stderr)
}

// parse reads the flags into a config, or says on stderr what is wrong
// with them and returns nil and the exit code (0 for -help). It starts
// nothing: a test of the flags' bounds cannot start a benchmark.
func parse(args []string, stderr io.Writer) (*config, int) {
	fs := flag.NewFlagSet("failover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench/failover [flags] (as root, from the module root)\n\n"+
			"Measures VRRP failover of keepalived and vigil's vrrpd after SIGKILL and SIGTERM of the master.\n\nflags:\n")
		fs.PrintDefaults()
	}
	runs := fs.Int("runs", 0, "runs per (implementation, family, interval, signal) (0: 10; with -mass 5)")
	intervals := fs.String("intervals", "", `advert intervals, comma-separated: 1s and other whole seconds use VRRPv2 for IPv4 (v3 for IPv6), sub-second ones VRRPv3 (whole centiseconds) ("": 1s,100ms,10ms; with -mass 100ms)`)
	impls := fs.String("impl", "keepalived,vigil", "implementations to run, comma-separated: keepalived, vigil (examples/vrrpd), vigild (cmd/vigild on keepalived's file); with -mass also floor (B's takeovers with raw system calls and nothing else, IPv4: massfloor.go)")
	signals := fs.String("signals", "", `how the master stops, comma-separated: kill (SIGKILL: crash), term (SIGTERM: graceful, priority 0) ("": kill,term; with -mass kill)`)
	families := fs.String("families", "", `address families, comma-separated: ipv4, ipv6 ("": ipv4,ipv6; with -mass ipv4)`)
	quick := fs.Bool("quick", false, "short run: -runs 2 -intervals 100ms -families ipv4 (overrides them)")
	mass := fs.Bool("mass", false, "mass failover: A master of -vrids VRIDs, SIGKILLed; B's lateness per VRID")
	vrids := fs.Int("vrids", 200, "with -mass: VRIDs 1..N (1..255)")
	massA := fs.String("mass-master", "keepalived", "with -mass: the dying master A's implementation for every run (keepalived, vigil, vigild), or same: B's")
	approach := fs.Duration("floor-approach", -1, "with -mass -impl floor: the floor polls its socket and the clock this long before a deadline, as vigil's final approach for a lone takeover (0: it sleeps in epoll_wait until its timer fires; negative: 1ms with -vrids 1, else 0, as vigil, which polls only while no other router of the process takes over)")
	vrrpd := fs.String("vrrpd", "", "vrrpd binary to use (default: go build ./examples/vrrpd into a temporary directory)")
	vigild := fs.String("vigild", "", "vigild binary to use (default: CGO_ENABLED=0 go build ./cmd/vigild into a temporary directory)")
	keep := fs.String("keep", "", "keep every run's pcap and daemon logs under this directory")
	maxFail := fs.Int("max-failures", 3, "give up after this many failed runs")
	hiccup := fs.Duration("hiccup", 5*time.Second, "before the runs, measure the machine's own gaps this long with every CPU busy (bench/hiccup) and print them in the header: the floor a run's max stands on; 0: not measured")
	settle := fs.Duration("settle", 0, "with -mass: keep B a backup this much longer before A is killed (B starts ~0.5 s before the kill; vigil's daemons give their idle heap back 10 s after their last transition, and the Go runtime collects at least every 2 min, so a failover in production meets a settled backup: -settle 15s or more)")
	trace := fs.Bool("trace", false, "with -keep: B's vrrpd writes a Go execution trace of each run to B.trace in the run's directory (go tool trace; bench/README.md, \"Tracing a slow takeover\")")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %q\n", fs.Args())
		return nil, 2
	}
	defaults := func(p *string, matrix, massive string) {
		if *p != "" {
			return
		}
		*p = matrix
		if *mass {
			*p = massive
		}
	}
	defaults(intervals, "1s,100ms,10ms", "100ms")
	defaults(signals, "kill,term", "kill")
	defaults(families, "ipv4,ipv6", "ipv4")
	if *runs == 0 {
		*runs = 10
		if *mass {
			*runs = 5
		}
	}
	if *quick {
		*runs, *intervals, *families = 2, "100ms", "ipv4"
	}
	if *trace && *keep == "" {
		fmt.Fprintln(stderr, "failover: -trace needs -keep")
		return nil, 2
	}
	c := &config{approach: *approach, runs: *runs, vrrpd: *vrrpd, vigild: *vigild, maxFail: *maxFail, vrids: *vrids, trace: *trace, settle: *settle}
	var err error
	if c.intervals, err = parseIntervals(*intervals); err != nil {
		fmt.Fprintln(stderr, "failover: -intervals:", err)
		return nil, 2
	}
	known := allImp
	if *mass {
		known = append(slices.Clone(allImp), "floor")
	}
	if c.impls, err = benchkit.ParseList(*impls, known); err != nil {
		fmt.Fprintln(stderr, "failover: -impl:", err)
		return nil, 2
	}
	if c.signals, err = benchkit.ParseList(*signals, []string{"kill", "term"}); err != nil {
		fmt.Fprintln(stderr, "failover: -signals:", err)
		return nil, 2
	}
	if c.families, err = benchkit.ParseList(*families, []string{"ipv4", "ipv6"}); err != nil {
		fmt.Fprintln(stderr, "failover: -families:", err)
		return nil, 2
	}
	if c.runs < 1 || c.runs > 1000 {
		fmt.Fprintln(stderr, "failover: -runs: want 1..1000")
		return nil, 2
	}
	switch *massA {
	case "keepalived", "vigil", "vigild":
		c.massA = *massA
	case "same":
	default:
		fmt.Fprintln(stderr, "failover: -mass-master: want keepalived, vigil, vigild or same")
		return nil, 2
	}
	if c.approach < 0 {
		c.approach = 0
		if c.vrids == 1 {
			c.approach = time.Millisecond
		}
	}
	if c.vrids < 1 || c.vrids > 255 {
		fmt.Fprintln(stderr, "failover: -vrids: want 1..255")
		return nil, 2
	}
	if c.settle < 0 || c.settle > 10*time.Minute {
		fmt.Fprintln(stderr, "failover: -settle: want 0..10m")
		return nil, 2
	}

	if *hiccup < 0 || *hiccup > time.Minute {
		fmt.Fprintln(stderr, "failover: -hiccup: want 0..1m")
		return nil, 2
	}
	c.mass, c.hiccup, c.keepDir = *mass, *hiccup, *keep
	return c, 0
}

// measure runs the benchmark c describes and prints its tables.
func measure(c *config, stdout, stderr io.Writer) int {
	ctx, stop := benchkit.SignalContext()
	defer stop()
	need := c.impls
	if c.mass && c.massA != "" && !slices.Contains(need, c.massA) {
		need = append(slices.Clone(need), c.massA)
	}
	ws, cleanup, err := benchkit.Prepare(ctx, "failover", need, benchkit.Workspace{Vrrpd: c.vrrpd, Vigild: c.vigild}, c.keepDir, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "failover:", err)
		return 1
	}
	defer cleanup()
	c.workDir, c.keep, c.vrrpd, c.vigild = ws.Dir, ws.Keep, ws.Vrrpd, ws.Vigild
	if c.hiccup > 0 {
		fmt.Fprintf(stderr, "measuring the machine's own gaps for %v (-hiccup 0: not)\n", c.hiccup)
		c.gaps = benchkit.MachineGaps(c.hiccup)
		fmt.Fprintln(stderr, c.gaps)
	}
	if c.mass {
		return runMass(ctx, c, stdout, stderr)
	}

	env := benchkit.Environment()
	results := map[key][]result{}
	failed := 0
	start := time.Now()
	for _, fam := range c.families {
		for _, ival := range c.intervals {
			for _, sig := range c.signals {
				// Alternate the implementations run by run, so that slow
				// drifts of the machine touch both alike.
				for i := 1; i <= c.runs; i++ {
					for _, impl := range c.impls {
						k := key{impl, fam, ival, sig}
						r, err := oneRun(ctx, c, k, i)
						what := fmt.Sprintf("%s %s %s %s run %d", impl, fam, ivalName(ival, fam), sig, i)
						if code, ok := c.tally(ctx, err, &failed, what, stderr, func() { printTables(stdout, env, c, results) }); !ok {
							if code != 0 {
								return code
							}
							continue
						}
						results[k] = append(results[k], r)
						fmt.Fprintf(stderr, "%-10s %s %-9s %s run %d/%d: advert %s ms, GARP/NA %s ms after due; VIP %s ms after due, signal→VIP %s ms, %s %s ms\n",
							impl, fam, ivalName(ival, fam), sig, i, c.runs, benchkit.Ms(r.advert), benchkit.Ms(r.garp),
							benchkit.Ms(r.overhead), benchkit.Ms(r.toVIP), auxName(sig), benchkit.Ms(r.aux))
					}
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

// tally judges one run's outcome: ok if it worked; otherwise code is 130
// if the bench was interrupted, 1 (after printing the tables) once
// c.maxFail runs have failed, and 0 to go on with the next run.
func (c *config) tally(ctx context.Context, err error, failed *int, what string, stderr io.Writer, tables func()) (code int, ok bool) {
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "failover: interrupted; everything it created is removed")
		return 130, false
	}
	if err == nil {
		return 0, true
	}
	*failed++
	fmt.Fprintf(stderr, "FAILED %s: %v\n", what, err)
	if *failed >= c.maxFail {
		fmt.Fprintf(stderr, "failover: %d failed runs, giving up\n", *failed)
		tables()
		return 1, false
	}
	return 0, false
}

func parseIntervals(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		switch {
		case d >= time.Second && d%time.Second == 0 && d <= 40*time.Second:
		case d >= 10*time.Millisecond && d < time.Second && d%(10*time.Millisecond) == 0:
		default:
			return nil, fmt.Errorf("%v: want whole seconds up to 40 s (VRRPv2 for IPv4) or whole centiseconds below 1s (VRRPv3)", d)
		}
		out = append(out, d)
	}
	return out, nil
}

// version is the VRRP version used at interval ival: v2 for whole
// seconds over IPv4, v3 otherwise (VRRPv2 has no IPv6).
func version(ival time.Duration, fam string) int {
	if ival >= time.Second && fam == "ipv4" {
		return 2
	}
	return 3
}

func ivalName(ival time.Duration, fam string) string {
	return fmt.Sprintf("%v v%d", ival, version(ival, fam))
}

func auxName(sig string) string {
	if sig == "kill" {
		return "last advert→signal"
	}
	return "signal→prio0"
}

// skew is Skew_Time of a router of priority prio: (256-prio)/256 s in v2,
// (256-prio)*interval/256 in v3.
func skew(ival time.Duration, fam string, prio int) time.Duration {
	if version(ival, fam) == 2 {
		return time.Duration(256-prio) * time.Second / 256
	}
	return time.Duration(256-prio) * ival / 256
}

// masterDown is Master_Down_Interval: 3 x interval + Skew_Time.
func masterDown(ival time.Duration, fam string, prio int) time.Duration {
	return 3*ival + skew(ival, fam, prio)
}

// instanceConf is one vrrp_instance block of keepalived.conf.
func instanceConf(h *nstest.Host, state string, prio int, ival time.Duration, fam string, id int, vip netip.Prefix) string {
	return fmt.Sprintf(`vrrp_instance VI_%d {
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
`, id, state, h.Link, version(ival, fam), id, prio, ival.Seconds(), vip)
}

func keepalivedConf(h *nstest.Host, blocks ...string) string {
	return fmt.Sprintf("global_defs {\n    router_id %s\n}\n%s", h.Name, strings.Join(blocks, ""))
}

// startRouter starts impl on h: keepalived and vigild with conf, vrrpd
// with args.
func startRouter(ctx context.Context, c *config, impl string, h *nstest.Host, dir, conf string, args ...string) (benchkit.Router, error) {
	if impl == "vigild" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		v, err := benchkit.StartVigild(c.vigild, h.Name, dir, conf)
		if err != nil {
			return nil, err
		}
		return v, nil
	}
	if impl == "keepalived" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		k, err := benchkit.StartKeepalived(ctx, h.Name, dir, conf)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return k, nil
	}
	v, err := benchkit.StartVrrpd(c.vrrpd, h.Name, append([]string{"-interface", h.Link}, args...)...)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// startOne starts impl on h as the one router of VRID vrid; vrrpd gets
// extra arguments after its own.
func startOne(ctx context.Context, c *config, k key, h *nstest.Host, state string, prio int, dir string, extra ...string) (benchkit.Router, error) {
	vip := vips[k.fam]
	return startRouter(ctx, c, k.impl, h, dir, keepalivedConf(h, instanceConf(h, state, prio, k.ival, k.fam, vrid, vip)),
		append([]string{"-vrid", fmt.Sprint(vrid), "-priority", fmt.Sprint(prio), "-version", fmt.Sprint(version(k.ival, k.fam)),
			"-advert", k.ival.String(), "-vip", vip.String(), "-state", state}, extra...)...)
}

// oneRun is one failover in a fresh topology, deleted before it returns.
func oneRun(ctx context.Context, c *config, k key, n int) (res result, err error) {
	dir, seg, release, err := benchkit.Fresh(benchkit.Workspace{Dir: c.workDir, Keep: c.keep},
		fmt.Sprintf("%s-%s-%v-%s-%d", k.impl, k.fam, k.ival, k.signal, n), 2)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, release()) }()
	A, B := seg.Hosts[0], seg.Hosts[1]
	vip := vips[k.fam]

	capture, err := benchkit.StartCapture(ctx, seg.Switch, "br0", filepath.Join(dir, "br0.pcap"), 128, captureFilter)
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

	ra, err = startOne(ctx, c, k, A, "MASTER", prioA, filepath.Join(dir, "a"))
	if err != nil {
		return res, fmt.Errorf("router A: %w", err)
	}
	if err = ra.AwaitStates(ctx, "MASTER", 1, masterDown(k.ival, k.fam, prioA)+5*time.Second); err != nil {
		return res, err
	}
	if err = benchkit.AwaitAddr(ctx, A, vip.Addr(), true, 2*time.Second); err != nil {
		return res, err
	}
	var extra []string
	if c.trace {
		extra = []string{"-trace", filepath.Join(dir, "B.trace")}
	}
	rb, err = startOne(ctx, c, k, B, "BACKUP", prioB, filepath.Join(dir, "b"), extra...)
	if err != nil {
		return res, fmt.Errorf("router B: %w", err)
	}
	if err = rb.AwaitStates(ctx, "BACKUP", 1, 5*time.Second); err != nil {
		return res, err
	}
	// B must hear A for longer than its Master_Down_Interval, and the
	// signal must fall at a random phase of A's advert timer.
	mdi := masterDown(k.ival, k.fam, prioB)
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
	var lastA, zeroA, garpB, advertB time.Time
	vip := vips[k.fam].Addr()
	err := benchkit.ReadFrames(file, func(f *benchkit.Frame) {
		switch {
		case f.IsVRRP && f.VRID == vrid && f.SrcMAC.String() == A.MAC.String():
			if f.Priority == 0 {
				if zeroA.IsZero() {
					zeroA = f.Time
				}
			} else {
				lastA = f.Time
			}
		case f.Announces(vip) && f.SrcMAC.String() == B.MAC.String() && f.Time.After(t0) && garpB.IsZero():
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
		return res, errors.New("no gratuitous ARP / NA for the VIP from B in the capture")
	}
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
		due = lastA.Add(masterDown(k.ival, k.fam, prioB))
	case "term":
		if zeroA.IsZero() {
			return res, errors.New("no priority 0 advert from A after SIGTERM")
		}
		res.aux = zeroA.Sub(t0)
		due = zeroA.Add(skew(k.ival, k.fam, prioB))
	}
	res.advert, res.garp, res.overhead = advertB.Sub(due), garpB.Sub(due), tVIP.Sub(due)
	return res, nil
}

func summarize(rs []result, f func(result) time.Duration) benchkit.Summary {
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = f(r)
	}
	return benchkit.Summarize(ds)
}

// The measures of a result, by name.
var (
	mAdvert    = func(r result) time.Duration { return r.advert }
	mGARP      = func(r result) time.Duration { return r.garp }
	mToVIP     = func(r result) time.Duration { return r.toVIP }
	mOverhead  = func(r result) time.Duration { return r.overhead }
	mVIPToGARP = func(r result) time.Duration { return r.vipToGARP }
	mAux       = func(r result) time.Duration { return r.aux }
)

// cells calls f for every (family, interval, signal) in table order.
func cells(c *config, f func(fam string, ival time.Duration, sig string)) {
	for _, fam := range c.families {
		for _, ival := range c.intervals {
			for _, sig := range c.signals {
				f(fam, ival, sig)
			}
		}
	}
}

func printTables(w io.Writer, env string, c *config, results map[key][]result) {
	fmt.Fprintf(w, "\n%s; load average at the end %s\n", env, benchkit.LoadAvg())
	if c.gaps != "" {
		fmt.Fprintln(w, c.gaps)
	}
	fmt.Fprintf(w, "\nVRRP failover at the wire, A prio %d → B prio %d, VIP %v / %v: B's first advert as master and its first\n"+
		"gratuitous ARP (IPv4) / neighbour advertisement (IPv6), in the capture, minus when B's RFC timer was due\n"+
		"(A's last advert + Master_Down_Interval after SIGKILL, A's priority 0 advert + Skew_Time after SIGTERM)\n"+
		"(ms: min / median / max)\n\n", prioA, prioB, vips["ipv4"], vips["ipv6"])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "impl\tfamily\tinterval\tsignal\truns\tfirst advert − due\tfirst GARP/NA − due\t")
	cells(c, func(fam string, ival time.Duration, sig string) {
		for _, impl := range c.impls {
			rs := results[key{impl, fam, ival, sig}]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%v\t%v\t\n", impl, fam, ivalName(ival, fam), sigName(sig), len(rs),
				summarize(rs, mAdvert), summarize(rs, mGARP))
		}
	})
	tw.Flush()
	for _, impl := range vsKeepalived(c) {
		fmt.Fprintf(w, "\n%s / keepalived at the wire, ratio of medians; target: its median ≤ 0.5x keepalived's and its max < 1 ms, for each\n\n", impl)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "family\tinterval\tsignal\tfirst advert\tfirst GARP/NA\t%s max advert / GARP\t≤ 0.5x\t< 1 ms\t\n", impl)
		cells(c, func(fam string, ival time.Duration, sig string) {
			v, ka := results[key{impl, fam, ival, sig}], results[key{"keepalived", fam, ival, sig}]
			if len(v) == 0 || len(ka) == 0 {
				return
			}
			va, ga := summarize(v, mAdvert), summarize(v, mGARP)
			ka1, kg := summarize(ka, mAdvert), summarize(ka, mGARP)
			half := func(a, b benchkit.Summary) bool { return a.Median <= b.Median/2 }
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s / %s\t%s\t%s\t\n", fam, ivalName(ival, fam), sigName(sig),
				benchkit.Ratio(float64(va.Median), float64(ka1.Median)), benchkit.Ratio(float64(ga.Median), float64(kg.Median)),
				benchkit.Ms(va.Max), benchkit.Ms(ga.Max), yesNo(half(va, ka1) && half(ga, kg)),
				yesNo(va.Max < time.Millisecond && ga.Max < time.Millisecond))
		})
		tw.Flush()
	}
	fmt.Fprintf(w, "\nin the kernel, and where the time goes (ms: min / median / max): VIP present = `ip -ts monitor address` on B\n"+
		"(its own wake-up included); RFC timer = B's Master_Down_Interval (SIGKILL) or Skew_Time (SIGTERM);\n"+
		"phase = A's last advert → SIGKILL; prio-0 latency = SIGTERM → A's priority 0 advert\n\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "impl\tfamily\tinterval\tsignal\tRFC timer\tsignal→VIP on B\tVIP present − due\tVIP→GARP/NA\tphase / prio-0 latency\t")
	cells(c, func(fam string, ival time.Duration, sig string) {
		for _, impl := range c.impls {
			rs := results[key{impl, fam, ival, sig}]
			timer := benchkit.Ms(masterDown(ival, fam, prioB))
			if sig == "term" {
				timer = benchkit.Ms(skew(ival, fam, prioB))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%v\t%v\t%v\t\n", impl, fam, ivalName(ival, fam), sigName(sig), timer,
				summarize(rs, mToVIP), summarize(rs, mOverhead), summarize(rs, mVIPToGARP), summarize(rs, mAux))
		}
	})
	tw.Flush()
	for _, impl := range vsKeepalived(c) {
		fmt.Fprintf(w, "\n%s / keepalived in the kernel, ratio of medians (signal→VIP after SIGKILL carries the phase: not a comparison)\n\n", impl)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "family\tinterval\tsignal\tsignal→VIP\tVIP present − due\t")
		cells(c, func(fam string, ival time.Duration, sig string) {
			v, ka := results[key{impl, fam, ival, sig}], results[key{"keepalived", fam, ival, sig}]
			if len(v) == 0 || len(ka) == 0 {
				return
			}
			med := func(rs []result, f func(result) time.Duration) float64 { return float64(summarize(rs, f).Median) }
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", fam, ivalName(ival, fam), sigName(sig),
				benchkit.Ratio(med(v, mToVIP), med(ka, mToVIP)), benchkit.Ratio(med(v, mOverhead), med(ka, mOverhead)))
		})
		tw.Flush()
	}
}

// vsKeepalived are the implementations measured next to keepalived.
func vsKeepalived(c *config) []string {
	var out []string
	if slices.Contains(c.impls, "keepalived") {
		for _, impl := range []string{"vigil", "vigild"} {
			if slices.Contains(c.impls, impl) {
				out = append(out, impl)
			}
		}
	}
	return out
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
