package nstest

import (
	"errors"
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
	dir  string // the temporary directory holding path
	path string
	err  error
}

// GoBuild builds the command pkg (an import path, such as
// "github.com/vigil-ha/vigil/cmd/vigild") once per test binary, without
// the race detector (the programs run as peers in namespaces, where
// timing matters), and returns the binary's path. The binary stays in a
// temporary directory for the other tests of the binary until
// RemoveBuilds: a package whose tests call GoBuild runs them through
// WithBuilds in its TestMain, or each run leaves a binary behind (vigild:
// 30–40 MB).
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
		b.dir = dir
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

// RemoveBuilds removes the binaries GoBuild built and their directories,
// and forgets them: a later GoBuild builds again.
func RemoveBuilds() error {
	var errs []error
	builds.Range(func(k, v any) bool {
		b := v.(*built)
		b.once.Do(func() {}) // wait for a build under way
		if b.dir != "" {
			if err := os.RemoveAll(b.dir); err != nil {
				errs = append(errs, err)
			}
		}
		builds.Delete(k)
		return true
	})
	return errors.Join(errs...)
}

// WithBuilds returns m, whose Run also removes what GoBuild built once
// the tests are done (RemoveBuilds), for a TestMain:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(nstest.WithBuilds(m)) }
func WithBuilds(m interface{ Run() int }) interface{ Run() int } {
	return withBuilds{m}
}

type withBuilds struct{ m interface{ Run() int } }

func (w withBuilds) Run() int {
	code := w.m.Run()
	if err := RemoveBuilds(); err != nil {
		fmt.Fprintln(os.Stderr, "nstest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
