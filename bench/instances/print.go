//go:build linux

package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
)

func mib(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }

// metric is one figure of a sample; ok reports whether it has one.
type metric struct {
	name   string
	verb   string
	cpu    bool    // a CPU figure: in the table of ratios to the floor
	target float64 // vigil / keepalived at most; 0: none
	get    func(s sample) (v float64, ok bool)
}

var metrics = []metric{
	{"adverts captured / expected, % off", "%+.2f", false, 0, func(s sample) (float64, bool) {
		return 100 * (float64(s.adverts)/s.expected - 1), true
	}},
	{"master: CPU, % of a core", "%.2f", true, 0, func(s sample) (float64, bool) {
		return 100 * s.master.cpuTime().Seconds() / s.window.Seconds(), true
	}},
	{"master: CPU/advert sent µs (stat)", "%.2f", true, 0.5, func(s sample) (float64, bool) { st, _ := s.perAdvert(s.master); return st, true }},
	{"master: CPU/advert sent µs (schedstat)", "%.2f", true, 0.5, func(s sample) (float64, bool) { _, sc := s.perAdvert(s.master); return sc, true }},
	{"backup: CPU/advert received µs (stat)", "%.2f", true, 0.5, func(s sample) (float64, bool) { st, _ := s.perAdvert(s.backup); return st, s.hasBackup }},
	{"backup: CPU/advert received µs (schedstat)", "%.2f", true, 0.5, func(s sample) (float64, bool) {
		_, sc := s.perAdvert(s.backup)
		return sc, s.hasBackup
	}},
	{"master: RSS MiB (keepalived: parent + VRRP child)", "%.1f", false, 1, func(s sample) (float64, bool) { return float64(s.master.mem.RSS) / 1024, true }},
	{"backup: RSS MiB", "%.1f", false, 1, func(s sample) (float64, bool) { return float64(s.backup.mem.RSS) / 1024, s.hasBackup }},
	{"master: peak RSS MiB", "%.1f", false, 0, func(s sample) (float64, bool) { return float64(s.master.mem.HWM) / 1024, true }},
	{"master: PSS MiB", "%.1f", false, 0, func(s sample) (float64, bool) { return float64(s.master.mem.PSS) / 1024, true }},
	{"master: threads", "%.0f", false, 0, func(s sample) (float64, bool) { return float64(s.master.mem.Threads), true }},
	{"backup: threads", "%.0f", false, 0, func(s sample) (float64, bool) { return float64(s.backup.mem.Threads), s.hasBackup }},
}

func printTables(w io.Writer, env string, c *config, results []map[string][]sample, failed []map[string]int) {
	fmt.Fprintf(w, "\n%s; load average at the end %s\n", env, benchkit.LoadAvg())
	for i, l := range c.sizes {
		res := results[i]
		if len(res) == 0 && len(failed[i]) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%d VRRPv3 instances at %v: %d interface(s) x %d VRIDs, each interface on a bridge of its own; master (priority %d)",
			l.n, c.interval, l.ifaces, l.per, masterPriority)
		if !c.noBackup {
			fmt.Fprintf(w, " and backup (priority %d)", backupPriority)
		}
		fmt.Fprintf(w, " nodes; window %v after %v warmup; min / median / max over runs\n\n", c.duration, c.warmup)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprint(tw, "metric\t")
		for _, impl := range c.impls {
			fmt.Fprintf(tw, "%s (%d runs", impl, len(res[impl]))
			if f := failed[i][impl]; f > 0 {
				fmt.Fprintf(tw, ", %d FAILED", f)
			}
			fmt.Fprint(tw, ")\t")
		}
		fmt.Fprintln(tw)
		for _, m := range metrics {
			row := m.name + "\t"
			any := false
			for _, impl := range c.impls {
				xs := values(res[impl], m)
				any = any || len(xs) > 0
				row += benchkit.SummarizeFloats(xs).Format(m.verb) + "\t"
			}
			if any {
				fmt.Fprintln(tw, row)
			}
		}
		tw.Flush()
		for r, s := range res["keepalived"] {
			if len(s.master.perProc) == 2 {
				fmt.Fprintf(w, "keepalived master RSS, run %d: parent %s MiB + VRRP child %s MiB (PSS %s + %s)\n", r+1,
					mib(s.master.perProc[0].RSS), mib(s.master.perProc[1].RSS), mib(s.master.perProc[0].PSS), mib(s.master.perProc[1].PSS))
			}
		}
		printVsKeepalived(w, res)
		printFloor(w, res, min(c.wakes, l.n))
	}
}

// ratios are a/b of metric m, run by run: the samples of two
// implementations at one size paired by their run (the two of a pair
// one after the other, in the same run of the bench); a run that failed
// for either has no ratio, and does not shift the pairs after it.
func ratios(a, b []sample, m metric) []float64 {
	var rs []float64
	for _, sa := range a {
		i := slices.IndexFunc(b, func(sb sample) bool { return sb.run == sa.run })
		if i < 0 {
			continue
		}
		x, ok1 := m.get(sa)
		y, ok2 := m.get(b[i])
		if ok1 && ok2 && y > 0 {
			rs = append(rs, x/y)
		}
	}
	return rs
}

// printVsKeepalived prints vigil / keepalived and vigild / keepalived
// and the targets, for each that ran at this size with keepalived.
func printVsKeepalived(w io.Writer, res map[string][]sample) {
	for _, impl := range []string{"vigil", "vigild"} {
		printVs(w, res, impl)
	}
}

func printVs(w io.Writer, res map[string][]sample, impl string) {
	ka, vg := res["keepalived"], res[impl]
	if min(len(ka), len(vg)) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s / keepalived, per run (both measured in the same run): min / median / max; targets: CPU per advert ≤ 0.5, RSS ≤ 1.0\n\n", impl)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tratio\ttarget\tmet (median)\tmet (every run)\t")
	for _, m := range metrics[1:] {
		rs := ratios(vg, ka, m)
		if len(rs) == 0 {
			continue
		}
		sum := benchkit.SummarizeFloats(rs)
		target, med, all := "-", "-", "-"
		if m.target > 0 {
			target = fmt.Sprintf("≤ %.1f", m.target)
			med, all = yesNo(sum.Median <= m.target), yesNo(sum.Max <= m.target)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", m.name, sum.Format("%.2f"), target, med, all)
	}
	tw.Flush()
}

// printFloor prints, when the floor ran at this size (its sender waking
// wakes times per interval), each daemon's CPU as a ratio to the
// floor's, run by run, and each CPU-per-advert target in µs (its ratio
// times keepalived's median) next to the floor's median: a target below
// the floor is one no implementation reaches, since the floor is the
// kernel's work on the adverts and hardly anything else.
func printFloor(w io.Writer, res map[string][]sample, wakes int) {
	fl := res["floor"]
	var impls []string
	for _, impl := range []string{"keepalived", "vigil", "vigild"} {
		if min(len(res[impl]), len(fl)) > 0 {
			impls = append(impls, impl)
		}
	}
	if len(impls) == 0 {
		return
	}
	fmt.Fprintf(w, "\nCPU next to the floor (the same adverts by raw sockets and nothing else, sent in %d wake-up(s) per interval), per run (measured in the same run): min / median / max\n\n", wakes)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "metric\t")
	for _, impl := range impls {
		fmt.Fprintf(tw, "%s / floor\t", impl)
	}
	fmt.Fprintln(tw)
	for _, m := range metrics {
		if !m.cpu {
			continue
		}
		row, any := m.name+"\t", false
		for _, impl := range impls {
			rs := ratios(res[impl], fl, m)
			any = any || len(rs) > 0
			row += benchkit.SummarizeFloats(rs).Format("%.2f") + "\t"
		}
		if any {
			fmt.Fprintln(tw, row)
		}
	}
	tw.Flush()
	ka := res["keepalived"]
	if len(ka) == 0 {
		fmt.Fprintln(w, "\nno keepalived runs: no target in µs")
		return
	}
	fmt.Fprintf(w, "\ntargets in µs (ratio x keepalived's median) next to the floor's median\n\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, m := range metrics {
		if !m.cpu || m.target == 0 {
			continue
		}
		k, f := benchkit.SummarizeFloats(values(ka, m)), benchkit.SummarizeFloats(values(fl, m))
		if k.N == 0 || f.N == 0 {
			continue
		}
		t := m.target * k.Median
		verdict := fmt.Sprintf("the target is %.2f µs above the floor", t-f.Median)
		if t < f.Median {
			verdict = fmt.Sprintf("the target is BELOW the floor by %.2f µs: unreachable", f.Median-t)
		}
		fmt.Fprintf(tw, "%s:\ttarget %.2f µs (%.1f x keepalived's %.2f),\tfloor %.2f µs:\t%s\n",
			m.name, t, m.target, k.Median, f.Median, verdict)
	}
	tw.Flush()
}

func values(ss []sample, m metric) []float64 {
	var xs []float64
	for _, s := range ss {
		if v, ok := m.get(s); ok {
			xs = append(xs, v)
		}
	}
	return xs
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}
