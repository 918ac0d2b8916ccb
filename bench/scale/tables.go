//go:build linux

package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
)

// reloadTarget is the longest a Reload may take to return.
const reloadTarget = 50 * time.Millisecond

func printTables(w io.Writer, env string, c *config, r results) {
	fmt.Fprintf(w, "%s; load average at the end %s\n\n", env, benchkit.LoadAvg())
	fmt.Fprintf(w, "%d virtual servers x %d real servers = %d TCP checks every %v (connect timeout %v), checkers in one namespace, real servers in another (veth); window %v after %v warmup; min / median / max over runs\n",
		c.vs, c.rs, c.vs*c.rs, c.delay, c.timeout, c.window, c.warmup)
	fmt.Fprintln(w, "vigil's IPVS table is the in-memory ipvstest.Table (vigiltest): this kernel has no IPVS")
	if r.kaSkip != "" {
		fmt.Fprintf(w, "keepalived: not measured: %s\n", r.kaSkip)
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "impl\truns\tprocs/threads\tchecks due\tchecks accepted\tCPU % of a core\tCPU µs/check (stat)\tCPU µs/check (schedstat)\tRSS MiB\tpeak RSS MiB\t")
	for _, impl := range c.impls {
		ss := r.by[impl]
		if len(ss) == 0 {
			continue
		}
		last := ss[len(ss)-1]
		fmt.Fprintf(tw, "%s\t%d\t%d/%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t\n", impl, len(ss), last.procs, last.mem.Threads, last.expected,
			summ(ss, func(s sample) float64 { return float64(s.accepts) }).Format("%.0f"),
			summ(ss, sample.cpuPct).Format("%.2f"),
			summ(ss, func(s sample) float64 { return s.perCheck(s.cpu()) }).Format("%.2f"),
			summ(ss, func(s sample) float64 { return s.perCheck(s.sched) }).Format("%.2f"),
			summ(ss, func(s sample) float64 { return mib(s.mem.RSS) }).Format("%.1f"),
			summ(ss, func(s sample) float64 { return mib(s.mem.HWM) }).Format("%.1f"))
	}
	tw.Flush()

	if vs := r.by["vigil"]; len(vs) > 0 {
		var refs []string
		for _, impl := range c.impls {
			if impl != "vigil" && len(r.by[impl]) > 0 {
				refs = append(refs, impl)
			}
		}
		if len(refs) > 0 {
			fmt.Fprintln(w, "\nvigil / reference, ratio of medians (what the Supervisor adds over a program that only connects)")
			fmt.Fprintln(w)
			tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprint(tw, "metric\tvigil\t")
			for _, ref := range refs {
				fmt.Fprintf(tw, "%s\tvigil / %s\t", ref, ref)
			}
			fmt.Fprintln(tw)
			metrics := []struct {
				name, verb string
				f          func(sample) float64
			}{
				{"CPU µs/check (stat)", "%.2f", func(s sample) float64 { return s.perCheck(s.cpu()) }},
				{"CPU µs/check (schedstat)", "%.2f", func(s sample) float64 { return s.perCheck(s.sched) }},
				{"CPU % of a core", "%.2f", sample.cpuPct},
				{"RSS MiB", "%.1f", func(s sample) float64 { return mib(s.mem.RSS) }},
				{"peak RSS MiB", "%.1f", func(s sample) float64 { return mib(s.mem.HWM) }},
			}
			for _, m := range metrics {
				v := summ(vs, m.f).Median
				fmt.Fprintf(tw, "%s\t"+m.verb+"\t", m.name, v)
				for _, ref := range refs {
					rv := summ(r.by[ref], m.f).Median
					fmt.Fprintf(tw, m.verb+"\t%s\t", rv, benchkit.Ratio(v, rv))
				}
				fmt.Fprintln(tw)
			}
			tw.Flush()
		}

		fmt.Fprintf(w, "\nvigil startup: New %s ms; IPVS table complete (%d destinations) %s ms after Run\n",
			summ(vs, func(s sample) float64 { return s.startup.NewMs }).Format("%.0f"), c.vs*c.rs,
			summ(vs, func(s sample) float64 { return s.startup.TableMs }).Format("%.0f"))
		printReloads(w, c, vs)
	}
}

// summ summarizes f over the samples.
func summ(ss []sample, f func(sample) float64) benchkit.Floats {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = f(s)
	}
	return benchkit.SummarizeFloats(xs)
}

func printReloads(w io.Writer, c *config, vs []sample) {
	var weight, same []reloadSample
	for _, s := range vs {
		for _, rl := range s.report.Reloads {
			if rl.Kind == "weight" {
				weight = append(weight, rl)
			} else {
				same = append(same, rl)
			}
		}
	}
	if len(weight)+len(same) == 0 {
		return
	}
	fmt.Fprintf(w, "\nvigil Reload of the running Supervisor (all runs' reloads together; times in ms: min / median / max); target: returns in < %v, writes %s\n",
		reloadTarget, "exactly one operation for one weight, none for nothing changed")
	fmt.Fprintln(w, "Reload returns once the Balancer has the new pools; the Balancer writes the table after that, on its own goroutine: \"table\" is until the new weight is in the table")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "change\treloads\tReload returns\ttable has the weight\tIPVS writes per reload (reloads)\tChanges: real servers\ttarget met\t")
	row := func(name string, rs []reloadSample, wantWrites int) {
		if len(rs) == 0 {
			return
		}
		var ret, tab []time.Duration
		writes := map[string]int{}
		changed := map[int]int{}
		met := true
		for _, rl := range rs {
			ret = append(ret, rl.Return)
			if rl.Table > 0 {
				tab = append(tab, rl.Table)
			}
			writes[writesString(rl.Writes)]++
			changed[rl.ChangedRS]++
			n := 0
			for _, v := range rl.Writes {
				n += v
			}
			if rl.Return >= reloadTarget || n != wantWrites {
				met = false
			}
		}
		tabS := "-"
		if len(tab) > 0 {
			tabS = benchkit.Summarize(tab).String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", name, len(rs), benchkit.Summarize(ret).String(), tabS,
			countsString(writes), countsString(intKeys(changed)), yesNo(met))
	}
	row("one weight", weight, 1)
	row("nothing", same, 0)
	tw.Flush()
}

// writesString formats a reload's writes: "update destination x1", or
// "none".
func writesString(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s x%d", op, m[op]))
	}
	return strings.Join(parts, ", ")
}

// countsString formats how many times each value came: "a (3), b (1)".
func countsString(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s (%d)", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func intKeys(m map[int]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[fmt.Sprint(k)] = v
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
