package hist

import (
	"testing"
	"time"
)

func TestObserve(t *testing.T) {
	var h Hist
	for _, d := range []time.Duration{-time.Second, 0, time.Millisecond, time.Millisecond + 1, 7 * time.Millisecond, 10 * time.Second, time.Minute} {
		h.Observe(d)
	}
	s := h.Snapshot()
	want := [len(Bounds) + 1]uint64{0: 3, 1: 1, 3: 1, 12: 1, 13: 1}
	if s.Counts != want || s.Count() != 7 || s.Sum != time.Minute+10*time.Second+9*time.Millisecond+1 {
		t.Errorf("snapshot %+v (count %d)", s, s.Count())
	}
	if d := s.Add(s); d.Count() != 14 || d.Sum != 2*s.Sum || d.Counts[0] != 6 {
		t.Errorf("Add: %+v", d)
	}
}

func TestObserveAllocates(t *testing.T) {
	var h Hist
	if n := testing.AllocsPerRun(100, func() { h.Observe(3 * time.Millisecond) }); n != 0 {
		t.Errorf("Observe allocates %v times", n)
	}
}

func BenchmarkObserve(b *testing.B) {
	var h Hist
	for i := range b.N {
		h.Observe(time.Duration(i) * time.Microsecond)
	}
}
