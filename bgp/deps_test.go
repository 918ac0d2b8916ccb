package bgp_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestVigilDoesNotImportGoBGP: importing vigil or config does not pull
// in GoBGP (nor gRPC); only this package does. config reads the bgp
// block into vigil.Config.BGP, which has none of GoBGP's types: every
// user of package config would link GoBGP otherwise.
func TestVigilDoesNotImportGoBGP(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command in PATH:", err)
	}
	deps := func(pkg string) []string {
		out, err := exec.Command(goBin, "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		var heavy []string
		for _, p := range strings.Fields(string(out)) {
			if strings.Contains(p, "gobgp") || strings.Contains(p, "google.golang.org/grpc") {
				heavy = append(heavy, p)
			}
		}
		return heavy
	}
	for _, pkg := range []string{"github.com/vigil-ha/vigil", "github.com/vigil-ha/vigil/config"} {
		if got := deps(pkg); len(got) != 0 {
			t.Errorf("%s depends on %q", pkg, got)
		}
	}
	if got := deps("github.com/vigil-ha/vigil/bgp"); len(got) == 0 {
		t.Error("bgp does not depend on GoBGP: the check above proves nothing")
	}
}
