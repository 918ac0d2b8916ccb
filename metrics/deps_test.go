package metrics_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestVigilDoesNotImportPrometheus: importing vigil does not pull in
// client_golang; only this package does.
func TestVigilDoesNotImportPrometheus(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command in PATH:", err)
	}
	deps := func(pkg string) []string {
		out, err := exec.Command(goBin, "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		var prom []string
		for _, p := range strings.Fields(string(out)) {
			if strings.Contains(p, "prometheus") {
				prom = append(prom, p)
			}
		}
		return prom
	}
	if got := deps("github.com/vigil-ha/vigil"); len(got) != 0 {
		t.Errorf("github.com/vigil-ha/vigil depends on %q", got)
	}
	if got := deps("github.com/vigil-ha/vigil/metrics"); len(got) == 0 {
		t.Error("metrics does not depend on prometheus: the check above proves nothing")
	}
}
