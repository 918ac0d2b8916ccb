//go:build nobgp

package vigildcmd

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoBGP: a vigild built with -tags nobgp refuses a bgp block, in -t
// and at start, saying why, and runs a configuration without one.
// .ci/run builds and runs it so.
func TestNoBGP(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main([]string{"-t", "-f", filepath.Join("testdata", "bgp.conf")}, testEnv(&out, &errb))
	if want := "bgp.conf: fatal: bgp: this vigild was built without BGP"; code != ExitTestCannotRun || !strings.Contains(errb.String(), want) {
		t.Errorf("-t bgp.conf = %d, want %d and %q; stderr:\n%s", code, ExitTestCannotRun, want, errb.String())
	}
	errb.Reset()
	if code := Main([]string{"-t", "-f", filepath.Join("testdata", "good.conf")}, testEnv(&out, &errb)); code != ExitOK {
		t.Errorf("-t good.conf = %d, want %d; stderr:\n%s", code, ExitOK, errb.String())
	}
	errb.Reset()
	code = Main([]string{"-n", "-f", filepath.Join("testdata", "bgp.conf"), "--control-socket", "none"}, testEnv(&out, &errb))
	if code != ExitConfig || !strings.Contains(errb.String(), "built without BGP") {
		t.Errorf("start with a bgp block: exit %d, want %d; stderr:\n%s", code, ExitConfig, errb.String())
	}
}
