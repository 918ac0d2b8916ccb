package benchkit

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestSummariseGaps(t *testing.T) {
	ms := time.Millisecond
	g := SummariseGaps([]time.Duration{3 * ms, 300 * time.Microsecond, ms, 2 * ms}, 10*time.Second)
	want := Gaps{Window: 10 * time.Second, N: 4, Over1: 2, Lost: 6300 * time.Microsecond, P50: ms, Max: 3 * ms}
	if g != want {
		t.Errorf("SummariseGaps = %+v, want %+v", g, want)
	}
	if got := SummariseGaps(nil, time.Second); got != (Gaps{Window: time.Second}) {
		t.Errorf("no gaps: %+v", got)
	}
	if s := g.String(); !strings.Contains(s, "4 gaps (0.40/s), 2 over 1 ms, median 1ms, max 3ms") {
		t.Errorf("String = %q", s)
	}
}

// TestMachineGaps: a short measure names the threads, the window and
// what it found.
func TestMachineGaps(t *testing.T) {
	s := MachineGaps(20 * time.Millisecond)
	if !regexp.MustCompile(`^the machine's own gaps \(\d+ busy threads for 20ms, bench/hiccup\): \d+ over 1 ms in all, the longest \S+$`).MatchString(s) {
		t.Errorf("MachineGaps = %q", s)
	}
}
