package host_test

import (
	"slices"
	"testing"

	"github.com/vigil-ha/vigil/internal/godeps"
)

// TestDeps: package host links neither the Supervisor nor the checkers'
// libraries, which is what it is for (a VRRP-only program such as
// examples/vrrpd starts ~1.3 MiB smaller without their package
// initialisation and code pages). It fails when an import brings one of
// them in.
func TestDeps(t *testing.T) {
	banned := func(p string) bool {
		return slices.Contains([]string{
			"github.com/vigil-ha/vigil", // the Supervisor
			"github.com/vigil-ha/vigil/check",
			"github.com/vigil-ha/vigil/sched",
			"github.com/miekg/dns",
			"net/http",
			"crypto/tls",
		}, p)
	}
	if got := godeps.Matching(t, "github.com/vigil-ha/vigil/host", banned); len(got) != 0 {
		t.Errorf("package host depends on %q", got)
	}
	if got := godeps.Matching(t, "github.com/vigil-ha/vigil", banned); len(got) < 5 {
		t.Errorf("the root package depends on only %q of them: the check above proves little", got)
	}
}
