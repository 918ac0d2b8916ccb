//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
	"github.com/vigil-ha/vigil/internal/nstest"
)

// massVIP is the VIP of VRID id in -mass: 198.18.0.id/15 (IPv4),
// 2001:db8::1:id/64 (IPv6), as vrrpd -count shifts its -vip.
func massVIP(fam string, id int) netip.Prefix {
	p := netip.MustParsePrefix("198.18.0.1/15")
	if fam == "ipv6" {
		p = netip.MustParsePrefix("2001:db8::1:1/64")
	}
	a := p.Addr()
	for range id - 1 {
		a = a.Next()
	}
	return netip.PrefixFrom(a, p.Bits())
}

// massKey identifies a cell of the mass results.
type massKey struct {
	impl string
	fam  string
	ival time.Duration
}

// massResult is one mass run: per VRID, B's first advert and first
// GARP/NA minus that VRID's due time (A's last advert +
// Master_Down_Interval), summarized across the VRIDs.
type massResult struct {
	advert, garp spread
	// gap is, per VRID, B's first GARP/NA minus its first advert: the
	// two are consecutive sends of one takeover in both daemons.
	gap spread
	// late is how many VRIDs' first GARP/NA came more than massSlack
	// after their due time.
	late int
	// dueSpan is the first to the last VRID's due time; garpSpan the
	// first to the last VRID's first GARP/NA: B's takeovers are
	// serialized when garpSpan is much longer than dueSpan.
	dueSpan, garpSpan time.Duration
	// crowd is the most VRIDs due within any crowdWindow: how dense the
	// takeovers came. A span says little (one VRID apart from a cluster
	// makes it 100 ms); the runs with the most VRIDs over +5 ms are
	// the crowded ones.
	crowd int
	// use is what B used from the signal to the end of the capture (300
	// ms after its last takeover): the takeovers, and around them a
	// backup's receiving and a master's adverts.
	use usage
}

// usage is what a process has used (so far, or in a window): CPU time,
// times its threads were put on a CPU, minor and major page faults.
type usage struct {
	cpu                   time.Duration
	wakes, faults, majors int64
}

// since is what was used from u0 to u.
func (u usage) since(u0 usage) usage {
	return usage{u.cpu - u0.cpu, u.wakes - u0.wakes, u.faults - u0.faults, u.majors - u0.majors}
}

// bUsage is the usage so far of r's processes.
func bUsage(r benchkit.Router) (u usage, err error) {
	for _, pid := range r.PIDs() {
		c, err1 := benchkit.SchedRuntime(pid)
		w, err2 := benchkit.SchedSlices(pid)
		f, mf, err3 := benchkit.Faults(pid)
		if err := errors.Join(err1, err2, err3); err != nil {
			return u, err
		}
		u.cpu, u.wakes, u.faults, u.majors = u.cpu+c, u.wakes+w, u.faults+f, u.majors+mf
	}
	return u, nil
}

// massSlack is the bound: every VRID's first GARP within
// Master_Down_Interval + 5 ms of A's last advert.
const massSlack = 5 * time.Millisecond

// spread is p50, p99 and max of a sample (nearest rank).
type spread struct{ p50, p99, max time.Duration }

func spreadOf(ds []time.Duration) spread {
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.9999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return spread{rank(0.50), rank(0.99), s[len(s)-1]}
}

func runMass(ctx context.Context, c *config, stdout, stderr io.Writer) int {
	env := benchkit.Environment()
	results := map[massKey][]massResult{}
	failed := 0
	start := time.Now()
	for _, fam := range c.families {
		for _, ival := range c.intervals {
			for i := 1; i <= c.runs; i++ {
				for _, impl := range c.impls {
					k := massKey{impl, fam, ival}
					r, err := massRun(ctx, c, k, i)
					what := fmt.Sprintf("mass %s %s %s run %d", impl, fam, ivalName(ival, fam), i)
					if code, ok := c.tally(ctx, err, &failed, what, stderr, func() { printMass(stdout, env, c, results) }); !ok {
						if code != 0 {
							return code
						}
						continue
					}
					results[k] = append(results[k], r)
					fmt.Fprintf(stderr, "mass %-10s %s %-9s run %d/%d, %d VRIDs: first GARP/NA − due p50 %s p99 %s max %s ms (%d over +%v); first advert − due p50 %s p99 %s max %s ms; advert→GARP/NA p50 %s p99 %s ms; due times span %s ms, %d due within %v, first GARP/NAs %s ms; B's CPU %s ms, %d times on a CPU, %d page faults (%d major)\n",
						impl, fam, ivalName(ival, fam), i, c.runs, c.vrids, benchkit.Ms(r.garp.p50), benchkit.Ms(r.garp.p99),
						benchkit.Ms(r.garp.max), r.late, massSlack, benchkit.Ms(r.advert.p50), benchkit.Ms(r.advert.p99), benchkit.Ms(r.advert.max),
						benchkit.Ms(r.gap.p50), benchkit.Ms(r.gap.p99), benchkit.Ms(r.dueSpan), r.crowd, crowdWindow, benchkit.Ms(r.garpSpan), benchkit.Ms(r.use.cpu), r.use.wakes, r.use.faults, r.use.majors)
				}
			}
		}
	}
	fmt.Fprintf(stderr, "done in %v\n", time.Since(start).Round(time.Second))
	printMass(stdout, env, c, results)
	if failed > 0 {
		return 1
	}
	return 0
}

// massStart starts impl on h as the router of VRIDs 1..c.vrids.
func massStart(ctx context.Context, c *config, k massKey, impl string, h *nstest.Host, state string, prio int, dir string, extra ...string) (benchkit.Router, error) {
	if impl == "floor" {
		if state != "BACKUP" || k.fam != "ipv4" {
			return nil, errors.New("the mass floor is B only, IPv4 only")
		}
		f, err := startMassFloor(h.Name, massFloorFlags{iface: h.Link, vrids: c.vrids, interval: k.ival, prio: prio, garps: 5, approach: c.approach})
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return f, nil
	}
	var blocks []string
	if impl == "keepalived" || impl == "vigild" { // both run keepalived.conf
		for id := 1; id <= c.vrids; id++ {
			blocks = append(blocks, instanceConf(h, state, prio, k.ival, k.fam, id, massVIP(k.fam, id)))
		}
	}
	args := append([]string{"-vrid", "1", "-count", fmt.Sprint(c.vrids), "-priority", fmt.Sprint(prio),
		"-version", fmt.Sprint(version(k.ival, k.fam)), "-advert", k.ival.String(),
		"-vip", massVIP(k.fam, 1).String(), "-state", state}, extra...)
	return startRouter(ctx, c, impl, h, dir, keepalivedConf(h, blocks...), args...)
}

// massRun is one mass failover in a fresh topology, deleted before it
// returns.
func massRun(ctx context.Context, c *config, k massKey, n int) (res massResult, err error) {
	dir, seg, release, err := benchkit.Fresh(benchkit.Workspace{Dir: c.workDir, Keep: c.keep},
		fmt.Sprintf("mass-%s-%s-%v-%d", k.impl, k.fam, k.ival, n), 2)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, release()) }()
	A, B := seg.Hosts[0], seg.Hosts[1]
	first, last := massVIP(k.fam, 1).Addr(), massVIP(k.fam, c.vrids).Addr()

	var ra, rb benchkit.Router
	defer func() { err = benchkit.StopRouters(err, dir, c.keep, ra, rb) }()
	implA := c.massA
	if implA == "" {
		implA = k.impl
	}
	ra, err = massStart(ctx, c, k, implA, A, "MASTER", prioA, filepath.Join(dir, "a"))
	if err != nil {
		return res, fmt.Errorf("router A: %w", err)
	}
	if err = ra.AwaitStates(ctx, "MASTER", c.vrids, masterDown(k.ival, k.fam, prioA)+10*time.Second); err != nil {
		return res, err
	}
	for _, a := range []netip.Addr{first, last} {
		if err = benchkit.AwaitAddr(ctx, A, a, true, 5*time.Second); err != nil {
			return res, err
		}
	}
	var extra []string
	if c.trace && k.impl == "vigil" {
		extra = []string{"-trace", filepath.Join(dir, "B.trace")}
	}
	rb, err = massStart(ctx, c, k, k.impl, B, "BACKUP", prioB, filepath.Join(dir, "b"), extra...)
	if err != nil {
		return res, fmt.Errorf("router B: %w", err)
	}
	if err = rb.AwaitStates(ctx, "BACKUP", c.vrids, 10*time.Second); err != nil {
		return res, err
	}
	mdi := masterDown(k.ival, k.fam, prioB)
	if err = benchkit.Sleep(ctx, max(mdi, 300*time.Millisecond)+c.settle+rand.N(k.ival)); err != nil {
		return res, err
	}
	hasA, errA := A.HasAddr(last)
	hasB, errB := B.HasAddr(first)
	if err = errors.Join(errA, errB); err != nil {
		return res, err
	}
	if ra.States("MASTER") != c.vrids || rb.States("MASTER") != 0 || !hasA || hasB || ra.Exited() || rb.Exited() {
		return res, fmt.Errorf("not a clean start: A master x%d (last VIP %v), B master x%d (first VIP %v)",
			ra.States("MASTER"), hasA, rb.States("MASTER"), hasB)
	}
	// The capture starts now, not with the topology: A sends c.vrids /
	// interval adverts a second. Two intervals put every VRID's adverts
	// in it before the signal.
	capture, err := benchkit.StartCapture(ctx, seg.Switch, "br0", filepath.Join(dir, "br0.pcap"), 128, captureFilter)
	if err != nil {
		return res, err
	}
	defer capture.Stop()
	if err = benchkit.Sleep(ctx, 2*k.ival+20*time.Millisecond); err != nil {
		return res, err
	}
	u0, err := bUsage(rb)
	if err != nil {
		return res, err
	}
	t0, err := ra.Crash()
	if err != nil {
		return res, fmt.Errorf("signal A: %w", err)
	}
	if err = rb.AwaitStates(ctx, "MASTER", c.vrids, mdi+5*time.Second); err != nil {
		return res, err
	}
	if !ra.WaitExit(10 * time.Second) {
		return res, fmt.Errorf("router A (%s) did not exit within 10s of SIGKILL", implA)
	}
	// Let the first bursts (5 frames per VIP) reach the capture.
	if err = benchkit.Sleep(ctx, 300*time.Millisecond); err != nil {
		return res, err
	}
	if err = capture.Stop(); err != nil {
		return res, err
	}
	u1, err := bUsage(rb)
	if err != nil {
		return res, err
	}
	if capture.Dropped > 0 {
		return res, fmt.Errorf("tcpdump: %d packets dropped by the kernel", capture.Dropped)
	}
	res, err = analyzeMass(capture.File, c, k, A, B, t0)
	res.use = u1.since(u0)
	return res, err
}

// analyzeMass reads the capture of one mass run.
func analyzeMass(file string, c *config, k massKey, A, B *nstest.Host, t0 time.Time) (massResult, error) {
	n := c.vrids
	lastA, advertB, garpB := make([]time.Time, n+1), make([]time.Time, n+1), make([]time.Time, n+1)
	byVIP := map[netip.Addr]int{}
	for id := 1; id <= n; id++ {
		byVIP[massVIP(k.fam, id).Addr()] = id
	}
	amac, bmac := A.MAC.String(), B.MAC.String()
	err := benchkit.ReadFrames(file, func(f *benchkit.Frame) {
		src := f.SrcMAC.String()
		switch {
		case f.IsVRRP && src == amac && int(f.VRID) <= n && f.Priority != 0:
			lastA[f.VRID] = f.Time
		case f.IsVRRP && src == bmac && int(f.VRID) <= n && f.Priority == prioB && f.Time.After(t0):
			if advertB[f.VRID].IsZero() {
				advertB[f.VRID] = f.Time
			}
		case src == bmac && f.Time.After(t0) && (f.IsARP || f.IsNA):
			a := f.ARPSender
			if f.IsNA {
				a = f.NATarget
			}
			if id, ok := byVIP[a]; ok && f.Announces(a) && garpB[id].IsZero() {
				garpB[id] = f.Time
			}
		}
	})
	if err != nil {
		return massResult{}, err
	}
	mdi := masterDown(k.ival, k.fam, prioB)
	var adverts, garps, gaps []time.Duration
	var res massResult
	var dues, firsts []time.Time
	for id := 1; id <= n; id++ {
		switch {
		case lastA[id].IsZero():
			return res, fmt.Errorf("VRID %d: no advert from A in the capture", id)
		case advertB[id].IsZero():
			return res, fmt.Errorf("VRID %d: no advert from B as master in the capture", id)
		case garpB[id].IsZero():
			return res, fmt.Errorf("VRID %d: no GARP/NA for %v from B in the capture", id, massVIP(k.fam, id).Addr())
		}
		due := lastA[id].Add(mdi)
		dues, firsts = append(dues, due), append(firsts, garpB[id])
		adverts = append(adverts, advertB[id].Sub(due))
		g := garpB[id].Sub(due)
		garps = append(garps, g)
		gaps = append(gaps, garpB[id].Sub(advertB[id]))
		if g > massSlack {
			res.late++
		}
	}
	res.advert, res.garp, res.gap = spreadOf(adverts), spreadOf(garps), spreadOf(gaps)
	span := func(ts []time.Time) time.Duration {
		return slices.MaxFunc(ts, time.Time.Compare).Sub(slices.MinFunc(ts, time.Time.Compare))
	}
	res.dueSpan, res.garpSpan = span(dues), span(firsts)
	res.crowd = crowded(dues, crowdWindow)
	return res, nil
}

// crowdWindow is the window of massResult.crowd.
const crowdWindow = 10 * time.Millisecond

// crowded returns the most of ts that fall within any window w long
// (from a time of ts, inclusive, to w after it, exclusive).
func crowded(ts []time.Time, w time.Duration) int {
	ts = slices.SortedFunc(slices.Values(ts), time.Time.Compare)
	most, j := 0, 0
	for i := range ts {
		for j < len(ts) && ts[j].Sub(ts[i]) < w {
			j++
		}
		most = max(most, j-i)
	}
	return most
}

func printMass(w io.Writer, env string, c *config, results map[massKey][]massResult) {
	fmt.Fprintf(w, "\n%s; load average at the end %s\n", env, benchkit.LoadAvg())
	if c.gaps != "" {
		fmt.Fprintln(w, c.gaps)
	}
	a := "the same implementation as B"
	if c.massA != "" {
		a = c.massA + " in every run"
	}
	settled := "B a backup for ~0.5 s before"
	if c.settle > 0 {
		settled = fmt.Sprintf("B a backup for ~%v before (-settle)", (c.settle + 500*time.Millisecond).Round(100*time.Millisecond))
	}
	fmt.Fprintf(w, "\nmass failover: A (%s) master of VRIDs 1..%d (VIP 198.18.0.i/15 or 2001:db8::1:i/64 for VRID i) SIGKILLed, %s,\nB (impl) prio %d takes over; "+
		"per VRID, B's first GARP/NA for its VIP (and its first advert) minus A's last advert + Master_Down_Interval,\n"+
		"p50 / p99 / max across the VRIDs of a run; each cell min / median / max over the runs (ms)\n\n", a, c.vrids, settled, prioB)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "impl\tfamily\tinterval\truns\tGARP/NA p50\tGARP/NA p99\tGARP/NA max\tadvert p50\tadvert p99\tadvert max\tVRIDs over +5 ms\tdue times span\tmost due in %v\tfirst GARP/NAs span\tadvert→GARP/NA p99\tB's CPU\tB on a CPU (times)\tB's page faults\tmajor\t\n", crowdWindow)
	over := func(rs []massResult, f func(massResult) time.Duration) benchkit.Summary {
		ds := make([]time.Duration, len(rs))
		for i, r := range rs {
			ds[i] = f(r)
		}
		return benchkit.Summarize(ds)
	}
	count := func(rs []massResult, f func(massResult) int64) string {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = float64(f(r))
		}
		return benchkit.SummarizeFloats(xs).Format("%.0f")
	}
	gp50 := func(r massResult) time.Duration { return r.garp.p50 }
	gp99 := func(r massResult) time.Duration { return r.garp.p99 }
	gmax := func(r massResult) time.Duration { return r.garp.max }
	lateSum := func(rs []massResult) int {
		n := 0
		for _, r := range rs {
			n += r.late
		}
		return n
	}
	for _, fam := range c.families {
		for _, ival := range c.intervals {
			for _, impl := range c.impls {
				rs := results[massKey{impl, fam, ival}]
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%v\t%v\t%v\t%v\t%v\t%v\t%d of %d\t%v\t%s\t%v\t%v\t%v\t%s\t%s\t%s\t\n", impl, fam, ivalName(ival, fam), len(rs),
					over(rs, gp50), over(rs, gp99), over(rs, gmax),
					over(rs, func(r massResult) time.Duration { return r.advert.p50 }),
					over(rs, func(r massResult) time.Duration { return r.advert.p99 }),
					over(rs, func(r massResult) time.Duration { return r.advert.max }),
					lateSum(rs), len(rs)*c.vrids,
					over(rs, func(r massResult) time.Duration { return r.dueSpan }),
					count(rs, func(r massResult) int64 { return int64(r.crowd) }),
					over(rs, func(r massResult) time.Duration { return r.garpSpan }),
					over(rs, func(r massResult) time.Duration { return r.gap.p99 }),
					over(rs, func(r massResult) time.Duration { return r.use.cpu }),
					count(rs, func(r massResult) int64 { return r.use.wakes }),
					count(rs, func(r massResult) int64 { return r.use.faults }),
					count(rs, func(r massResult) int64 { return r.use.majors }))
			}
		}
	}
	tw.Flush()
	if slices.Contains(c.impls, "keepalived") {
		for _, impl := range []string{"vigil", "vigild"} {
			if !slices.Contains(c.impls, impl) {
				continue
			}
			fmt.Fprintf(w, "\n%s / keepalived, ratio of the medians over runs; target: %s's GARP/NA p99 ≤ 0.5x keepalived's, every VRID within +5 ms\n\n", impl, impl)
			tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "family\tinterval\tGARP/NA p50\tGARP/NA p99\tGARP/NA max\tp99 ≤ 0.5x\tall within +5 ms\t")
			for _, fam := range c.families {
				for _, ival := range c.intervals {
					v, ka := results[massKey{impl, fam, ival}], results[massKey{"keepalived", fam, ival}]
					if len(v) == 0 || len(ka) == 0 {
						continue
					}
					r := func(f func(massResult) time.Duration) string {
						return benchkit.Ratio(float64(over(v, f).Median), float64(over(ka, f).Median))
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", fam, ivalName(ival, fam), r(gp50), r(gp99), r(gmax),
						yesNo(over(v, gp99).Median <= over(ka, gp99).Median/2), yesNo(lateSum(v) == 0))
				}
			}
			tw.Flush()
		}
	}
	if !slices.Contains(c.impls, "floor") {
		return
	}
	fmt.Fprintf(w, "\neach / floor (the same takeovers with raw system calls and nothing else), ratio of the medians over runs; VRIDs over +5 ms, each and the floor's\n\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "impl\tfamily\tinterval\tGARP/NA p50\tGARP/NA p99\tGARP/NA max\tB's CPU\tover +5 ms\tfloor over +5 ms\t")
	for _, impl := range c.impls {
		if impl == "floor" {
			continue
		}
		for _, fam := range c.families {
			for _, ival := range c.intervals {
				v, fl := results[massKey{impl, fam, ival}], results[massKey{"floor", fam, ival}]
				if len(v) == 0 || len(fl) == 0 {
					continue
				}
				r := func(f func(massResult) time.Duration) string {
					return benchkit.Ratio(float64(over(v, f).Median), float64(over(fl, f).Median))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d of %d\t%d of %d\t\n", impl, fam, ivalName(ival, fam), r(gp50), r(gp99), r(gmax),
					r(func(r massResult) time.Duration { return r.use.cpu }),
					lateSum(v), len(v)*c.vrids, lateSum(fl), len(fl)*c.vrids)
			}
		}
	}
	tw.Flush()
}
