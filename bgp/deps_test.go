package bgp_test

import (
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/internal/godeps"
)

// TestVigilDoesNotImportGoBGP: importing vigil, config or bgpstate
// (which vigild built without BGP uses) does not pull in GoBGP (nor
// gRPC); only this package does. config reads the bgp
// block into vigil.Config.BGP, which has none of GoBGP's types: every
// user of package config would link GoBGP otherwise.
func TestVigilDoesNotImportGoBGP(t *testing.T) {
	heavy := func(p string) bool {
		return strings.Contains(p, "gobgp") || strings.Contains(p, "google.golang.org/grpc")
	}
	for _, pkg := range []string{"github.com/vigil-ha/vigil", "github.com/vigil-ha/vigil/config", "github.com/vigil-ha/vigil/bgp/bgpstate"} {
		if got := godeps.Matching(t, pkg, heavy); len(got) != 0 {
			t.Errorf("%s depends on %q", pkg, got)
		}
	}
	if got := godeps.Matching(t, "github.com/vigil-ha/vigil/bgp", heavy); len(got) == 0 {
		t.Error("bgp does not depend on GoBGP: the check above proves nothing")
	}
}
