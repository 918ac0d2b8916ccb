//go:build linux

package benchkit

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Summary is the minimum, median and maximum of a sample.
type Summary struct {
	N                int
	Min, Median, Max time.Duration
}

// Summarize summarizes ds (the median of an even count is the mean of the
// two middle values).
func Summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Summary{N: n, Min: s[0], Median: med, Max: s[n-1]}
}

// Ms formats d in milliseconds with microsecond precision.
func Ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }

// String formats the summary as "min / median / max" in milliseconds.
func (s Summary) String() string {
	if s.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%s / %s / %s", Ms(s.Min), Ms(s.Median), Ms(s.Max))
}

// Ratio formats a/b, or "-" when b is not positive.
func Ratio(a, b float64) string {
	if b <= 0 || a < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// Environment describes the machine and the tools, for the tables' header.
func Environment() string {
	var b strings.Builder
	if v, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		fmt.Fprintf(&b, "Linux %s, ", strings.TrimSpace(string(v)))
	}
	fmt.Fprintf(&b, "%d CPUs, %s", runtime.NumCPU(), runtime.Version())
	if out, err := exec.Command("keepalived", "--version").CombinedOutput(); err == nil {
		if f := strings.Fields(string(out)); len(f) >= 2 {
			fmt.Fprintf(&b, ", keepalived %s", strings.TrimPrefix(f[1], "v"))
		}
	}
	fmt.Fprintf(&b, ", load average %s", LoadAvg())
	return b.String()
}

// LoadAvg returns the 1, 5 and 15 minute load averages.
func LoadAvg() string {
	v, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(v))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// Floats is the minimum, median and maximum of a sample of numbers.
type Floats struct {
	N                int
	Min, Median, Max float64
}

// SummarizeFloats summarizes xs (the median of an even count is the mean
// of the two middle values).
func SummarizeFloats(xs []float64) Floats {
	if len(xs) == 0 {
		return Floats{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Floats{N: n, Min: s[0], Median: med, Max: s[n-1]}
}

// Format formats the summary as "min / median / max", each with the
// verb (such as "%.1f"); "-" when empty.
func (s Floats) Format(verb string) string {
	if s.N == 0 {
		return "-"
	}
	return fmt.Sprintf(verb+" / "+verb+" / "+verb, s.Min, s.Median, s.Max)
}
