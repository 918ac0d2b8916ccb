package benchkit

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Gaps summarises the gaps a busy thread saw between two reads of the
// clock (SpinGaps): the time it was kept off its CPU.
type Gaps struct {
	Window time.Duration
	N      int           // gaps longer than the threshold
	Over1  int           // of them over 1 ms
	Lost   time.Duration // their sum
	P50    time.Duration // the median gap
	Max    time.Duration
}

// SpinGaps reads the clock in a loop on the calling goroutine for d and
// summarises every gap between two reads longer than min. The caller
// locks the goroutine to its thread (and sets its policy) if it wants.
func SpinGaps(d, min time.Duration) Gaps {
	gaps := make([]time.Duration, 0, 1024)
	start := time.Now()
	last := start
	for {
		now := time.Now()
		if g := now.Sub(last); g > min {
			gaps = append(gaps, g)
		}
		last = now
		if now.Sub(start) >= d {
			break
		}
	}
	return SummariseGaps(gaps, last.Sub(start))
}

// SummariseGaps summarises gaps seen in window.
func SummariseGaps(gaps []time.Duration, window time.Duration) Gaps {
	r := Gaps{Window: window, N: len(gaps)}
	if len(gaps) == 0 {
		return r
	}
	s := slices.Clone(gaps)
	slices.Sort(s)
	for _, g := range s {
		if g > time.Millisecond {
			r.Over1++
		}
		r.Lost += g
	}
	r.P50, r.Max = s[(len(s)-1)/2], s[len(s)-1]
	return r
}

func (g Gaps) String() string {
	per := 0.0
	if g.Window > 0 {
		per = float64(g.N) / g.Window.Seconds()
	}
	return fmt.Sprintf("%d gaps (%.2f/s), %d over 1 ms, median %v, max %v, %v lost in all (%.3f%%)",
		g.N, per, g.Over1, g.P50.Round(time.Microsecond), g.Max.Round(time.Microsecond),
		g.Lost.Round(time.Microsecond), 100*g.Lost.Seconds()/max(g.Window.Seconds(), 1e-9))
}

// MachineGaps runs SpinGaps on one locked thread per CPU at once for d
// (gaps over 200 µs) and describes the result in one line, for a
// benchmark's header: the floor under the latencies it measures, taken
// with every CPU busy, as a takeover in the benchmark makes them
// (bench/hiccup; bench/README.md, "hiccup").
func MachineGaps(d time.Duration) string {
	n := runtime.NumCPU()
	res := make([]Gaps, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			res[i] = SpinGaps(d, 200*time.Microsecond)
		})
	}
	wg.Wait()
	over, longest := 0, time.Duration(0)
	for _, g := range res {
		over += g.Over1
		longest = max(longest, g.Max)
	}
	return fmt.Sprintf("the machine's own gaps (%d busy threads for %v, bench/hiccup): %d over 1 ms in all, the longest %v",
		n, d, over, longest.Round(time.Microsecond))
}
