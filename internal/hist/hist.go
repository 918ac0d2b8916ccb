// Package hist is a fixed-bucket histogram of durations whose Observe is
// a few atomic adds: no lock, no allocation, so a check or a scheduler
// run can record its time on every run. Snapshot copies it, for Stats
// methods; package metrics turns a Snapshot into a Prometheus histogram.
package hist

import (
	"sync/atomic"
	"time"
)

// Bounds are the buckets' upper bounds (inclusive), the same for every
// histogram: Prometheus's default buckets, 5 ms to 10 s, with 1 ms and
// 2.5 ms below them. A last, unbounded bucket takes the rest.
var Bounds = [...]time.Duration{
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// Hist is a live histogram. The zero value is empty and ready; it must
// not be copied once used.
type Hist struct {
	n   [len(Bounds) + 1]atomic.Uint64
	sum atomic.Int64 // nanoseconds
}

// Observe records d (a negative d counts as 0).
func (h *Hist) Observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(Bounds) && d > Bounds[i] {
		i++
	}
	h.n[i].Add(1)
	h.sum.Add(int64(d))
}

// Snapshot is a copy of a Hist.
type Snapshot struct {
	// Counts are the observations per bucket (not cumulative): Counts[i]
	// those in (Bounds[i-1], Bounds[i]], the last those above every bound.
	Counts [len(Bounds) + 1]uint64
	// Sum is the sum of the observations.
	Sum time.Duration
}

// Snapshot copies h. The buckets are read one after the other, not
// atomically together.
func (h *Hist) Snapshot() Snapshot {
	var s Snapshot
	for i := range h.n {
		s.Counts[i] = h.n[i].Load()
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

// Count is the number of observations.
func (s Snapshot) Count() uint64 {
	var n uint64
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// Add returns the sum of s and o: the histogram of both sets of
// observations.
func (s Snapshot) Add(o Snapshot) Snapshot {
	for i := range s.Counts {
		s.Counts[i] += o.Counts[i]
	}
	s.Sum += o.Sum
	return s
}
