//go:build linux

package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
	"github.com/vigil-ha/vigil/internal/hist"
)

// The targets of issue 12 for the Group, at 10,000 checks per second.
const (
	ratioTarget = 1.5                  // CPU per check, Group / raw loop of the same run
	p99Target   = 5 * time.Millisecond // schedule lateness, strictly below
	rssTarget   = 64 << 10             // peak RSS, KiB, strictly below
)

// metric is one column of the tables.
type metric struct {
	name, verb string
	f          func(sample) float64
}

var metrics = []metric{
	{"CPU µs/check (stat)", "%.2f", func(s sample) float64 { return s.perCheck(s.cpu()) }},
	{"CPU µs/check (schedstat)", "%.2f", func(s sample) float64 { return s.perCheck(s.sched) }},
	{"CPU % of a core", "%.2f", sample.cpuPct},
	{"peak RSS MiB", "%.1f", func(s sample) float64 { return mib(s.mem.HWM) }},
}

// httpMetrics adds, for -kind http, the times the checker's threads
// were put on a CPU per check: a wake-up costs the most under TCG.
var httpMetrics = append(metrics[:len(metrics):len(metrics)],
	metric{"on-CPU runs/check", "%.2f", func(s sample) float64 {
		if s.checks == 0 {
			return 0
		}
		return float64(s.slices) / float64(s.checks)
	}})

func summ(ss []sample, f func(sample) float64) benchkit.Floats {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = f(s)
	}
	return benchkit.SummarizeFloats(xs)
}

func printTables(w io.Writer, env string, c *config, res map[string][]sample) {
	fmt.Fprintf(w, "%s; load average at the end %s\n\n", env, benchkit.LoadAvg())
	kind, group, raw := "TCP", "check.TCP", "socket/connect/close"
	if c.kind == "http" {
		kind, group, raw = "HTTP", "check.HTTP{Path /, Status 200, Version HTTP10}", "socket/setsockopt x2/connect/write/read to EOF/close, status line checked"
	}
	fmt.Fprintf(w, "%d addresses x %d ports = %d distinct %s targets, each checked every %v; targets in another process (listener on lo, one namespace); window %v after %v warmup; min / median / max over runs\n",
		c.addrs, c.ports, c.addrs*c.ports, kind, c.interval, c.window, c.warmup)
	if c.kind == "http" {
		fmt.Fprintln(w, "listener: reads each request, answers "+fmt.Sprintf("%q", httpResponse)+", closes")
	}
	fmt.Fprintln(w, "group: check.Group of "+group+", Policy{Interval, Timeout "+c.timeout.String()+"}, defaults otherwise; raw: one thread, blocking "+raw+" at the same rate (the reference)")
	if c.nice != 0 {
		fmt.Fprintf(w, "listener and checkers ran under nice -n %d\n", c.nice)
	}
	fmt.Fprintln(w, "lateness: check start minus due time, p50/p99 as the upper bound of their bucket of vigil_check_scheduler_lateness_seconds")
	fmt.Fprintln(w)

	ms := metrics
	if c.kind == "http" {
		ms = httpMetrics
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "impl\truns\tchecks/window\tfailed\t")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t", m.name)
	}
	fmt.Fprintln(tw, "lateness p50\tlateness p99\tlateness mean µs\tthreads\t")
	for _, impl := range c.impls {
		ss := res[impl]
		if len(ss) == 0 {
			continue
		}
		var late hist.Snapshot
		var fail uint64
		for _, s := range ss {
			late = late.Add(s.late)
			fail += s.fail
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t", impl, len(ss), summ(ss, func(s sample) float64 { return float64(s.checks) }).Format("%.0f"), fail)
		for _, m := range ms {
			fmt.Fprintf(tw, "%s\t", summ(ss, m.f).Format(m.verb))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t\n", quantile(late, 0.5), quantile(late, 0.99),
			summ(ss, meanMicros).Format("%.0f"), ss[len(ss)-1].mem.Threads)
	}
	tw.Flush()

	defer func() {
		// keepalived's (bench/checks/vm), after the Group's targets.
		ka := res["keepalived"]
		for _, impl := range []string{"group", "raw"} {
			ratioTable(w, ms, impl, "keepalived", res[impl], ka, "; keepalived's checks are the listener's accepts")
		}
	}()
	gs := res["group"]
	ratio, ok := ratioTable(w, ms, "group", "raw", gs, res["raw"], "")
	if !ok {
		return
	}

	var late hist.Snapshot
	var fail, downs uint64
	var hwm int64
	for _, s := range gs {
		late = late.Add(s.late)
		fail += s.fail
		downs += s.downs
		hwm = max(hwm, s.mem.HWM)
	}
	fmt.Fprintln(w, "\ngroup's targets (issue 12)")
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tmeasured\tmet\t")
	fmt.Fprintf(tw, "CPU/check <= %.1fx raw (median of runs)\t%.2fx (max %.2fx)\t%s\t\n", ratioTarget, ratio.Median, ratio.Max, yes(ratio.Median <= ratioTarget))
	p99 := quantileBound(late, 0.99)
	fmt.Fprintf(tw, "lateness p99 < %v (all runs)\t%s\t%s\t\n", p99Target, quantile(late, 0.99), yes(p99 < p99Target))
	fmt.Fprintf(tw, "peak RSS < %d MiB (max of runs)\t%.1f MiB\t%s\t\n", rssTarget>>10, mib(hwm), yes(hwm < rssTarget))
	fmt.Fprintf(tw, "no failed check\t%d failed, %d downs\t%s\t\n", fail, downs, yes(fail == 0 && downs == 0))
	tw.Flush()
}

// ratioTable prints the ratios a / b of each metric over the runs
// measured back to back, and returns the first metric's; ok is false
// when no run pairs up.
func ratioTable(w io.Writer, ms []metric, a, b string, as, bs []sample, note string) (ratio benchkit.Floats, ok bool) {
	pairs := pair(as, bs)
	if len(pairs) == 0 {
		return ratio, false
	}
	fmt.Fprintf(w, "\n%s / %s, per run (the two of run N measured back to back%s), over %d runs: min / median / max\n\n", a, b, note, len(pairs))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "metric\t%s / %s\t\n", a, b)
	for _, m := range ms {
		xs := make([]float64, len(pairs))
		for i, p := range pairs {
			xs[i] = m.f(p[0]) / m.f(p[1])
		}
		f := benchkit.SummarizeFloats(xs)
		if m.name == ms[0].name {
			ratio = f
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", m.name, f.Format("%.2f"))
	}
	tw.Flush()
	return ratio, true
}

// pair matches each run of gs with the run of rs of the same number.
func pair(gs, rs []sample) [][2]sample {
	var out [][2]sample
	for _, g := range gs {
		for _, r := range rs {
			if g.run == r.run {
				out = append(out, [2]sample{g, r})
			}
		}
	}
	return out
}

func meanMicros(s sample) float64 {
	n := s.late.Count()
	if n == 0 {
		return 0
	}
	return float64(s.late.Sum) / float64(n) / float64(time.Microsecond)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
