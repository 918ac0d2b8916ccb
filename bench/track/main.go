//go:build linux

// Command track measures how fast a failing health check moves VRRP
// mastership, keepalived's vrrp_script next to vigil's Supervisor tracker,
// in the same network-namespace topology, and prints the ratios.
//
// Two routers on a bridge (nstest.Build(2)): A priority 150 (master), B
// priority 100 (backup, preempting), VRID 51, VRRPv3 at 100 ms, VIP
// 192.0.2.100/24. A tracks a script, `test -f FLAG`, run every second
// (fall 1, rise 1, timeout 1 s; keepalived 2.2.7 reads the interval in
// whole seconds only): keepalived as a vrrp_script, vigil as a Tracker
// with a check.Exec of the same script file, in a vigil.Supervisor on
// vigil.OpenLinux run by this command re-executed in the namespace (the
// hidden subcommand __node); B is the same kind of daemon, tracking
// nothing. Two scenarios:
//
//   - fault: weight 0, a failing script puts A in FAULT;
//   - weight: weight -60, a failing script lowers A to 90, below B, which
//     preempts.
//
// Per run the bench removes FLAG at a random phase of the script's
// schedule and measures, on the wire (tcpdump on the bridge) and from
// the daemons' output:
//
//   - removal → the deciding failure: vigil's EventTracker time, printed
//     by the node; keepalived's "VRRP_Script(chk) failed" log line, timed
//     when it reaches the bench (its own timestamps have a resolution of
//     one second);
//   - deciding failure → B's first advert as master, → B's first
//     gratuitous ARP for the VIP; removal → the same;
//   - deciding failure → A's first advert showing it (priority 0 or the
//     lowered priority), and B's takeover against its RFC timer.
//
// Every run builds a fresh topology and deletes it. Run as root from the
// module root:
//
//	go run ./bench/track            # 5 runs x {fault, weight} x both daemons
//	go run ./bench/track -quick     # 2 runs of each
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
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
	vrid        = 51
	prioA       = 150
	prioB       = 100
	advert      = 100 * time.Millisecond // VRRPv3
	trackerName = "chk"
	// scriptTimeout bounds one run of the script, in both daemons.
	scriptTimeout = time.Second
	// dropWeight lowers A to 90 in the weight scenario.
	dropWeight = -60
)

var (
	vip       = netip.MustParsePrefix("192.0.2.100/24")
	allImp    = []string{"keepalived", "vigil"}
	scenarios = []string{"fault", "weight"}
	// kaFailed is keepalived's line for the deciding failure (with fall 1,
	// right after "Script `chk` now returning 1").
	kaFailed = "VRRP_Script(" + trackerName + ") failed"
)

type config struct {
	runs      int
	scenarios []string
	impls     []string
	interval  time.Duration // the script's
	self      string        // this program, run as the vigil node
	workDir   string
	keep      bool
	maxFail   int
}

// key identifies a cell of the results table.
type key struct {
	impl, scenario string
}

// result is one run's measurements, all from the removal of FLAG or from
// the deciding failure.
type result struct {
	toDecide                    time.Duration // removal → deciding failure
	decideToAdvB, decideToGARP  time.Duration // deciding failure → B's first advert as master, first GARP
	rmToAdvB, rmToGARP          time.Duration // removal → the same
	decideToReact               time.Duration // deciding failure → A's first advert with its new priority
	reacted                     bool          // A sent such an advert before B took over
	reactPrio                   uint8         // that advert's priority
	timerOverhead, advertToGARP time.Duration // B's first advert minus its RFC timer; B's advert → GARP
	timer                       string        // which RFC timer B ran: "Skew_Time" or "Master_Down" (Master_Down_Interval)
	stampLag                    time.Duration // vigil: its tracker line's arrival minus the event's time
	hasStampLag                 bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == nodeCmd {
		os.Exit(runNode(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("track", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench/track [flags] (as root, from the module root)\n\n"+
			"Measures health change → VRRP takeover: keepalived's vrrp_script next to vigil's Supervisor tracker.\n\nflags:\n")
		fs.PrintDefaults()
	}
	runs := fs.Int("runs", 5, "runs per (implementation, scenario)")
	scen := fs.String("scenarios", "fault,weight", "scenarios, comma-separated: fault (weight 0: FAULT), weight (weight -60: below the backup)")
	impls := fs.String("impl", "keepalived,vigil", "implementations to run, comma-separated: keepalived, vigil")
	interval := fs.Duration("interval", time.Second, "the script's interval, in both daemons: whole seconds with keepalived (2.2.7 reads no fraction), whole milliseconds for vigil alone")
	quick := fs.Bool("quick", false, "short run: -runs 2 (overrides it)")
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
		*runs = 2
	}
	c := &config{runs: *runs, interval: *interval, maxFail: *maxFail}
	var err error
	if c.scenarios, err = benchkit.ParseList(*scen, scenarios); err != nil {
		fmt.Fprintln(stderr, "track: -scenarios:", err)
		return 2
	}
	if c.impls, err = benchkit.ParseList(*impls, allImp); err != nil {
		fmt.Fprintln(stderr, "track: -impl:", err)
		return 2
	}
	if c.runs < 1 || c.runs > 1000 {
		fmt.Fprintln(stderr, "track: -runs: want 1..1000")
		return 2
	}
	switch {
	case c.interval < 10*time.Millisecond || c.interval%time.Millisecond != 0:
		fmt.Fprintln(stderr, "track: -interval: want whole milliseconds, at least 10ms")
		return 2
	case slices.Contains(c.impls, "keepalived") && c.interval%time.Second != 0:
		// keepalived 2.2.7 warns "invalid number '0.2'" and runs the
		// script every second.
		fmt.Fprintln(stderr, "track: -interval: keepalived's vrrp_script interval is whole seconds")
		return 2
	}
	if c.self, err = os.Executable(); err != nil {
		fmt.Fprintln(stderr, "track:", err)
		return 1
	}

	ctx, stop := benchkit.SignalContext()
	defer stop()
	// The vigil node is this program: nothing to build.
	ws, cleanup, err := benchkit.Prepare(ctx, "track", c.impls, benchkit.Workspace{Vrrpd: c.self}, *keep, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "track:", err)
		return 1
	}
	defer cleanup()
	c.workDir, c.keep = ws.Dir, ws.Keep

	env := benchkit.Environment()
	results := map[key][]result{}
	failed := 0
	start := time.Now()
	for _, sc := range c.scenarios {
		// Alternate the implementations run by run, so that slow drifts
		// of the machine touch both alike.
		for i := 1; i <= c.runs; i++ {
			for _, impl := range c.impls {
				k := key{impl, sc}
				r, err := oneRun(ctx, c, k, i)
				if ctx.Err() != nil {
					fmt.Fprintln(stderr, "track: interrupted; everything it created is removed")
					return 130
				}
				if err != nil {
					failed++
					fmt.Fprintf(stderr, "FAILED %s %s run %d: %v\n", impl, sc, i, err)
					if failed >= c.maxFail {
						fmt.Fprintf(stderr, "track: %d failed runs, giving up\n", failed)
						printTables(stdout, env, c, results)
						return 1
					}
					continue
				}
				results[k] = append(results[k], r)
				react := "A's advert -"
				if r.reacted {
					react = fmt.Sprintf("A's prio %d advert %s ms", r.reactPrio, benchkit.Ms(r.decideToReact))
				}
				lag := ""
				if r.hasStampLag {
					lag = fmt.Sprintf(", event→line %s ms", benchkit.Ms(r.stampLag))
				}
				fmt.Fprintf(stderr, "%-10s %-6s run %d/%d: removal→decision %s ms; decision→ B advert %s ms, GARP %s ms, %s; B timer overhead %s ms (%s)%s\n",
					impl, sc, i, c.runs, benchkit.Ms(r.toDecide), benchkit.Ms(r.decideToAdvB), benchkit.Ms(r.decideToGARP),
					react, benchkit.Ms(r.timerOverhead), r.timer, lag)
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

// skew is Skew_Time of a VRRPv3 router of priority prio at the advert
// interval: (256-prio) x interval / 256.
func skew(prio int) time.Duration { return time.Duration(256-prio) * advert / 256 }

// masterDown is Master_Down_Interval: 3 x interval + Skew_Time.
func masterDown(prio int) time.Duration { return 3*advert + skew(prio) }

// weight is the tracker's weight in scenario sc.
func weight(sc string) int {
	if sc == "weight" {
		return dropWeight
	}
	return 0
}

// writeScript writes the tracked script, the same file for both daemons:
// it passes while flag exists.
func writeScript(dir, flag string) (string, error) {
	p := filepath.Join(dir, "chk.sh")
	return p, os.WriteFile(p, []byte("#!/bin/sh\ntest -f "+flag+"\n"), 0o755)
}

func keepalivedConf(h *nstest.Host, state string, prio int, script string, c *config, sc string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    router_id %s\n    script_user root\n}\n", h.Name)
	if script != "" {
		fmt.Fprintf(&b, `vrrp_script %s {
    script "%s"
    interval %g
    timeout %g
    fall 1
    rise 1
    weight %d
}
`, trackerName, script, c.interval.Seconds(), scriptTimeout.Seconds(), weight(sc))
	}
	fmt.Fprintf(&b, `vrrp_instance VI_%d {
    state %s
    interface %s
    version 3
    virtual_router_id %d
    priority %d
    advert_int %g
    virtual_ipaddress {
        %s
    }
`, vrid, state, h.Link, vrid, prio, advert.Seconds(), vip)
	if script != "" {
		fmt.Fprintf(&b, "    track_script {\n        %s\n    }\n", trackerName)
	}
	b.WriteString("}\n")
	return b.String()
}

// startRouter starts keepalived or the vigil node on h; script is the
// tracked script ("" for none).
func startRouter(ctx context.Context, c *config, sc, impl string, h *nstest.Host, state string, prio int, script, dir string) (benchkit.Router, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if impl == "keepalived" {
		k, err := benchkit.StartKeepalived(ctx, h.Name, dir, keepalivedConf(h, state, prio, script, c, sc))
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return k, nil
	}
	args := []string{nodeCmd, "-netns", "/run/netns/" + h.Name, "-interface", h.Link,
		"-priority", fmt.Sprint(prio), "-advert", advert.String(), "-vip", vip.String(), "-state", state}
	if script != "" {
		args = append(args, "-script", script, "-interval", c.interval.String(), "-timeout", scriptTimeout.String(),
			"-fall", "1", "-rise", "1", "-weight", fmt.Sprint(weight(sc)))
	}
	v, err := benchkit.StartVrrpd(c.self, h.Name, args...)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// lined is a Router whose output lines carry their arrival times.
type lined interface {
	benchkit.Router
	Lines() []benchkit.Line
}

// decision returns the deciding failure after t0: for vigil the
// EventTracker time the node printed (and when its line arrived), for
// keepalived when its "failed" line arrived.
func decision(r benchkit.Router, t0 time.Time) (at, arrived time.Time, ok bool) {
	lr, isLined := r.(lined)
	if !isLined {
		return at, arrived, false
	}
	for _, l := range lr.Lines() {
		if l.Time.Before(t0) {
			continue
		}
		if r.Impl() == "keepalived" {
			if strings.Contains(l.Text, kaFailed) {
				return l.Time, l.Time, true
			}
			continue
		}
		var e struct {
			Kind    string    `json:"kind"`
			Time    time.Time `json:"time"`
			Tracker string    `json:"tracker"`
			Up      *bool     `json:"up"`
		}
		if json.Unmarshal([]byte(l.Text), &e) == nil && e.Kind == "tracker" && e.Tracker == trackerName && e.Up != nil && !*e.Up {
			return e.Time, l.Time, true
		}
	}
	return at, arrived, false
}

// failedBefore reports whether r's tracker failed before t0 (not a clean
// start).
func failedBefore(r benchkit.Router, t0 time.Time) bool {
	_, _, ok := decision(r, time.Time{})
	if !ok {
		return false
	}
	_, _, after := decision(r, t0)
	return !after
}

// oneRun is one health change in a fresh topology, deleted before it
// returns.
func oneRun(ctx context.Context, c *config, k key, n int) (res result, err error) {
	dir, seg, release, err := benchkit.Fresh(benchkit.Workspace{Dir: c.workDir, Keep: c.keep},
		fmt.Sprintf("%s-%s-%d", k.impl, k.scenario, n), 2)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, release()) }()
	A, B := seg.Hosts[0], seg.Hosts[1]
	flagFile := filepath.Join(dir, "healthy")
	if err := os.WriteFile(flagFile, nil, 0o644); err != nil {
		return res, err
	}
	script, err := writeScript(dir, flagFile)
	if err != nil {
		return res, err
	}

	capture, err := benchkit.StartCapture(ctx, seg.Switch, "br0", filepath.Join(dir, "br0.pcap"), 128, "arp or ip proto 112")
	if err != nil {
		return res, err
	}
	defer capture.Stop()

	var ra, rb benchkit.Router
	// Stop B, then A (if still running), and wait for both; on failure
	// say what the daemons said.
	defer func() { err = benchkit.StopRouters(err, dir, c.keep, ra, rb) }()

	ra, err = startRouter(ctx, c, k.scenario, k.impl, A, "MASTER", prioA, script, filepath.Join(dir, "a"))
	if err != nil {
		return res, fmt.Errorf("router A: %w", err)
	}
	if err = ra.AwaitStates(ctx, "MASTER", 1, masterDown(prioA)+5*time.Second); err != nil {
		return res, err
	}
	if err = benchkit.AwaitAddr(ctx, A, vip.Addr(), true, 2*time.Second); err != nil {
		return res, err
	}
	rb, err = startRouter(ctx, c, k.scenario, k.impl, B, "BACKUP", prioB, "", filepath.Join(dir, "b"))
	if err != nil {
		return res, fmt.Errorf("router B: %w", err)
	}
	if err = rb.AwaitStates(ctx, "BACKUP", 1, 5*time.Second); err != nil {
		return res, err
	}
	// B must hear A for longer than its Master_Down_Interval, A's script
	// must have run a few times, and the removal must fall at a random
	// phase of the script's schedule.
	settle := max(masterDown(prioB), 2*c.interval, 300*time.Millisecond) + 200*time.Millisecond + rand.N(c.interval)
	if err = benchkit.Sleep(ctx, settle); err != nil {
		return res, err
	}
	hasA, errA := A.HasAddr(vip.Addr())
	hasB, errB := B.HasAddr(vip.Addr())
	if err = errors.Join(errA, errB); err != nil {
		return res, err
	}
	now := time.Now()
	if ra.States("MASTER") != 1 || rb.States("MASTER") != 0 || !hasA || hasB || ra.Exited() || rb.Exited() || failedBefore(ra, now) {
		return res, fmt.Errorf("not a clean start: A master x%d (VIP %v), B master x%d (VIP %v), A's tracker failed: %v",
			ra.States("MASTER"), hasA, rb.States("MASTER"), hasB, failedBefore(ra, now))
	}
	leave := "FAULT" // A's state after the change
	if k.scenario == "weight" {
		leave = "BACKUP"
	}
	leaves := ra.States(leave)

	t0 := time.Now()
	if err = os.Remove(flagFile); err != nil {
		return res, err
	}
	deadline := time.Now().Add(c.interval + scriptTimeout + 3*time.Second)
	var tDecide, tArrived time.Time
	for {
		var ok bool
		if tDecide, tArrived, ok = decision(ra, t0); ok {
			break
		}
		if time.Now().After(deadline) || ra.Exited() {
			return res, fmt.Errorf("router A (%s): no deciding failure of the script within %v (exited: %v)",
				k.impl, time.Until(deadline)+time.Since(t0), ra.Exited())
		}
		if err = benchkit.Sleep(ctx, 5*time.Millisecond); err != nil {
			return res, err
		}
	}
	if err = rb.AwaitStates(ctx, "MASTER", 1, masterDown(prioB)+3*time.Second); err != nil {
		return res, err
	}
	if err = ra.AwaitStates(ctx, leave, leaves+1, 3*time.Second); err != nil {
		return res, err
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
	res, err = analyze(capture.File, A, B, t0, tDecide)
	if k.impl == "vigil" {
		res.stampLag, res.hasStampLag = tArrived.Sub(tDecide), true
	}
	return res, err
}

// analyze reads the capture of one run: t0 is the removal, tDecide the
// deciding failure.
func analyze(file string, A, B *nstest.Host, t0, tDecide time.Time) (result, error) {
	type advert struct {
		t    time.Time
		prio uint8
	}
	var (
		advertsA       []advert
		advB, garpB    time.Time
		aMAC, bMAC     = A.MAC.String(), B.MAC.String()
		react, zeroA   time.Time
		reactPrio      uint8
		lastHighBefore func(time.Time) time.Time
	)
	err := benchkit.ReadFrames(file, func(f *benchkit.Frame) {
		switch {
		case f.IsVRRP && f.VRID == vrid && f.SrcMAC.String() == aMAC:
			advertsA = append(advertsA, advert{f.Time, f.Priority})
		case f.IsVRRP && f.VRID == vrid && f.SrcMAC.String() == bMAC && f.Priority == prioB && f.Time.After(t0) && advB.IsZero():
			advB = f.Time
		case f.IsARP && f.ARPOp == 1 && f.ARPSender == vip.Addr() && f.ARPTarget == vip.Addr() &&
			f.SrcMAC.String() == bMAC && f.Time.After(t0) && garpB.IsZero():
			garpB = f.Time
		}
	})
	if err != nil {
		return result{}, err
	}
	if advB.IsZero() {
		return result{}, errors.New("no advert from B as master in the capture")
	}
	if garpB.IsZero() {
		return result{}, errors.New("no gratuitous ARP for the VIP from B in the capture")
	}
	lastHighBefore = func(t time.Time) time.Time {
		var last time.Time
		for _, a := range advertsA {
			if a.t.Before(t) && a.prio >= prioB {
				last = a.t
			}
		}
		return last
	}
	for _, a := range advertsA {
		if a.t.After(t0) && a.t.Before(advB) && a.prio != prioA {
			react, reactPrio = a.t, a.prio
			break
		}
	}
	for _, a := range advertsA {
		if a.t.After(t0) && a.prio == 0 {
			zeroA = a.t
			break
		}
	}
	res := result{
		toDecide:     tDecide.Sub(t0),
		decideToAdvB: advB.Sub(tDecide), decideToGARP: garpB.Sub(tDecide),
		rmToAdvB: advB.Sub(t0), rmToGARP: garpB.Sub(t0),
		advertToGARP: garpB.Sub(advB),
	}
	if !react.IsZero() {
		res.reacted, res.reactPrio, res.decideToReact = true, reactPrio, react.Sub(tDecide)
	}
	// B's RFC timer: Skew_Time after A's priority 0 advert, else
	// Master_Down_Interval after A's last advert B did not discard (a
	// preempting backup discards those of a lower priority than its own).
	var due time.Time
	if !zeroA.IsZero() && zeroA.Before(advB) {
		due, res.timer = zeroA.Add(skew(prioB)), "Skew_Time"
	} else {
		last := lastHighBefore(advB)
		if last.IsZero() {
			return res, errors.New("no advert from A at priority ≥ B's in the capture")
		}
		due, res.timer = last.Add(masterDown(prioB)), "Master_Down"
	}
	res.timerOverhead = advB.Sub(due)
	return res, nil
}

func summarize(rs []result, f func(result) (time.Duration, bool)) benchkit.Summary {
	var ds []time.Duration
	for _, r := range rs {
		if d, ok := f(r); ok {
			ds = append(ds, d)
		}
	}
	return benchkit.Summarize(ds)
}

// always adapts a measurement every run has.
func always(f func(result) time.Duration) func(result) (time.Duration, bool) {
	return func(r result) (time.Duration, bool) { return f(r), true }
}

var (
	toDecide     = always(func(r result) time.Duration { return r.toDecide })
	decideToAdvB = always(func(r result) time.Duration { return r.decideToAdvB })
	decideToGARP = always(func(r result) time.Duration { return r.decideToGARP })
	rmToAdvB     = always(func(r result) time.Duration { return r.rmToAdvB })
	rmToGARP     = always(func(r result) time.Duration { return r.rmToGARP })
	timerOver    = always(func(r result) time.Duration { return r.timerOverhead })
	advToGARP    = always(func(r result) time.Duration { return r.advertToGARP })
	toReact      = func(r result) (time.Duration, bool) { return r.decideToReact, r.reacted }
	stampLag     = func(r result) (time.Duration, bool) { return r.stampLag, r.hasStampLag }
)

// reactions describes A's first changed adverts: "prio P (n/N runs)".
func reactions(rs []result) string {
	counts := map[uint8]int{}
	for _, r := range rs {
		if r.reacted {
			counts[r.reactPrio]++
		}
	}
	if len(counts) == 0 {
		return "none"
	}
	var parts []string
	for _, p := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("prio %d in %d/%d", p, counts[p], len(rs)))
	}
	return strings.Join(parts, ", ")
}

// timers names the RFC timers B ran, over the runs.
func timers(rs []result) string {
	var ts []string
	for _, r := range rs {
		if !slices.Contains(ts, r.timer) {
			ts = append(ts, r.timer)
		}
	}
	return strings.Join(ts, "/")
}

func printTables(w io.Writer, env string, c *config, results map[key][]result) {
	fmt.Fprintf(w, "\n%s; load average at the end %s\n", env, benchkit.LoadAvg())
	fmt.Fprintf(w, "\nhealth change → VRRP: A prio %d tracks `test -f FLAG` every %v (fall 1, timeout %v), B prio %d preempts;\n"+
		"VRRPv3 at %v, VIP %v; fault: weight 0, weight: weight %d (A → %d). Times in ms: min / median / max\n"+
		"decision = vigil: the Supervisor's EventTracker time; keepalived: arrival of its %q line\n\n",
		prioA, c.interval, scriptTimeout, prioB, advert, vip, dropWeight, prioA+dropWeight, kaFailed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "impl\tscenario\truns\tremoval→decision\tdecision→B's first advert\tdecision→B's first GARP\tremoval→B's first GARP\t")
	for _, sc := range c.scenarios {
		for _, impl := range c.impls {
			rs := results[key{impl, sc}]
			fmt.Fprintf(tw, "%s\t%s\t%d\t%v\t%v\t%v\t%v\t\n", impl, sc, len(rs),
				summarize(rs, toDecide), summarize(rs, decideToAdvB), summarize(rs, decideToGARP), summarize(rs, rmToGARP))
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\nwhere the time goes (ms: min / median / max): A's advert = decision → A's first advert with its new priority\n"+
		"(which priorities, in how many runs); B's timer overhead = B's first advert as master minus when its RFC timer was due\n"+
		"(Skew_Time %s after A's priority 0 advert, else Master_Down_Interval %s after A's last advert at priority ≥ %d)\n\n",
		benchkit.Ms(skew(prioB)), benchkit.Ms(masterDown(prioB)), prioB)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "impl\tscenario\tA's advert\tA's new priority\tB's timer\tB's timer overhead\tB's advert→GARP\tremoval→B's first advert\t")
	for _, sc := range c.scenarios {
		for _, impl := range c.impls {
			rs := results[key{impl, sc}]
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%v\t%v\t%v\t\n", impl, sc, summarize(rs, toReact), reactions(rs), timers(rs),
				summarize(rs, timerOver), summarize(rs, advToGARP), summarize(rs, rmToAdvB))
		}
	}
	tw.Flush()
	var lags []result
	for _, sc := range c.scenarios {
		lags = append(lags, results[key{"vigil", sc}]...)
	}
	if s := summarize(lags, stampLag); s.N > 0 {
		fmt.Fprintf(w, "\nvigil's tracker line reached the bench %v ms after its event time (min / median / max): keepalived's decision carries such a delay\n", s)
	}
	if !slices.Contains(c.impls, "vigil") || !slices.Contains(c.impls, "keepalived") {
		return
	}
	fmt.Fprintf(w, "\nvigil / keepalived, ratio of medians (same run)\n\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tremoval→decision\tdecision→B's advert\tdecision→B's GARP\tremoval→B's GARP\tdecision→A's advert\t")
	for _, sc := range c.scenarios {
		v, ka := results[key{"vigil", sc}], results[key{"keepalived", sc}]
		if len(v) == 0 || len(ka) == 0 {
			continue
		}
		ratio := func(f func(result) (time.Duration, bool)) string {
			vs, ks := summarize(v, f), summarize(ka, f)
			if vs.N == 0 || ks.N == 0 {
				return "-"
			}
			return benchkit.Ratio(float64(vs.Median), float64(ks.Median))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", sc, ratio(toDecide), ratio(decideToAdvB), ratio(decideToGARP),
			ratio(rmToGARP), ratio(toReact))
	}
	tw.Flush()
}
