package metrics_test

import (
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/internal/godeps"
)

// TestVigilDoesNotImportPrometheus: importing vigil does not pull in
// client_golang; only this package does.
func TestVigilDoesNotImportPrometheus(t *testing.T) {
	prom := func(p string) bool { return strings.Contains(p, "prometheus") }
	if got := godeps.Matching(t, "github.com/vigil-ha/vigil", prom); len(got) != 0 {
		t.Errorf("github.com/vigil-ha/vigil depends on %q", got)
	}
	if got := godeps.Matching(t, "github.com/vigil-ha/vigil/metrics", prom); len(got) == 0 {
		t.Error("metrics does not depend on prometheus: the check above proves nothing")
	}
}
