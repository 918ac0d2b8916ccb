// Package godeps lists a package's dependencies for tests that keep a
// heavy library out of a package (go list -deps).
package godeps

import (
	"os/exec"
	"strings"
	"testing"
)

// Matching returns the packages pkg depends on (itself included) for
// which match is true. It skips t when the go command is not in PATH.
func Matching(t testing.TB, pkg string, match func(dep string) bool) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command in PATH:", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var got []string
	for _, p := range strings.Fields(string(out)) {
		if match(p) {
			got = append(got, p)
		}
	}
	return got
}
