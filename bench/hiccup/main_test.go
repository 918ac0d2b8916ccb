//go:build linux

package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSummarise(t *testing.T) {
	ms := time.Millisecond
	r := summarise([]time.Duration{3 * ms, 300 * time.Microsecond, ms, 2 * ms}, 10*time.Second)
	want := result{window: 10 * time.Second, n: 4, over1: 2, lost: 6300 * time.Microsecond, p50: ms, max: 3 * ms}
	if r != want {
		t.Errorf("summarise = %+v, want %+v", r, want)
	}
	if got := summarise(nil, time.Second); got != (result{window: time.Second}) {
		t.Errorf("no gaps: %+v", got)
	}
	if s := r.String(); !strings.Contains(s, "4 gaps (0.40/s), 2 over 1 ms, median 1ms, max 3ms") {
		t.Errorf("String = %q", s)
	}
}

// TestRun: a short run prints a line per thread; bad flags are refused.
func TestRun(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run([]string{"-d", "50ms", "-threads", "2"}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	for _, want := range []string{"2 busy thread(s) for 50ms", "thread 1 (SCHED_OTHER): ", "thread 2 (SCHED_OTHER): "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, args := range [][]string{{"-threads", "0"}, {"-fifo", "100"}, {"-d", "0s"}, {"extra"}} {
		if rc := run(args, &out, &errb); rc != 2 {
			t.Errorf("%q: rc %d, want 2", args, rc)
		}
	}
}
