//go:build linux

package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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
