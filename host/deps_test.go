package host_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps: package host links neither the Supervisor nor the checkers'
// libraries, which is what it is for (a VRRP-only program such as
// examples/vrrpd starts ~1.3 MiB smaller without their package
// initialisation). It fails when an import brings one of them in.
func TestDeps(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command: ", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", "github.com/vigil-ha/vigil/host").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list listed nothing")
	}
	banned := []string{
		"github.com/vigil-ha/vigil", // the Supervisor
		"github.com/vigil-ha/vigil/check",
		"github.com/vigil-ha/vigil/sched",
		"github.com/miekg/dns",
		"net/http",
		"crypto/tls",
	}
	for _, d := range deps {
		for _, b := range banned {
			if d == b {
				t.Errorf("package host depends on %s", d)
			}
		}
	}
}
