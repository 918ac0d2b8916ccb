package nstest

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
	"testing"
)

var builds sync.Map // package path → *built

type built struct {
	once sync.Once
	path string
	err  error
}

// GoBuild builds the command pkg (an import path, such as
// "github.com/vigil-ha/vigil/cmd/vigild") once per test binary, without
// the race detector (the programs run as peers in namespaces, where
// timing matters), and returns the binary's path. The binary is left in
// the temporary directory for the other tests of the binary.
func GoBuild(t testing.TB, pkg string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &built{})
	b := v.(*built)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "nstest-build")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, path.Base(pkg))
		if out, err := exec.Command("go", "build", "-o", b.path, pkg).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("nstest: go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}
