package nstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestRemoveBuilds(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command:", err)
	}
	const pkg = "github.com/vigil-ha/vigil/internal/nstest/testdata/hello"
	bin := GoBuild(t, pkg)
	if again := GoBuild(t, pkg); again != bin {
		t.Fatalf("second GoBuild = %s, want the first build %s", again, bin)
	}
	if err := exec.Command(bin).Run(); err != nil {
		t.Fatalf("running the build: %v", err)
	}
	code := WithBuilds(runFunc(func() int { return 0 })).Run()
	if code != 0 {
		t.Fatalf("Run = %d, want the tests' 0", code)
	}
	if _, err := os.Stat(filepath.Dir(bin)); !os.IsNotExist(err) {
		t.Fatalf("the build's directory is still there after the run (stat: %v)", err)
	}
	if next := GoBuild(t, pkg); next == bin {
		t.Fatalf("GoBuild after RemoveBuilds returned the removed %s", bin)
	} else if err := RemoveBuilds(); err != nil {
		t.Fatal(err)
	}
	if code := WithBuilds(runFunc(func() int { return 3 })).Run(); code != 3 {
		t.Fatalf("Run = %d, want the tests' own 3", code)
	}
}

type runFunc func() int

func (f runFunc) Run() int { return f() }
