package process

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestProcFSFake(t *testing.T) {
	p := newFakeProc(t)
	p.add(1, "systemd", 'S', "/sbin/init", "splash")
	p.add(42, "a) b", 'R', "/usr/bin/x", "--flag")
	p.add(43, "gone", 'Z')
	fsys := &procFS{root: p.root, cmdline: 64}
	pids, err := fsys.pids()
	slices.Sort(pids)
	if err != nil || !slices.Equal(pids, []int32{1, 42, 43}) {
		t.Fatalf("pids %v, %v (want only the numeric directories)", pids, err)
	}
	scan, err := fsys.scan()
	if err != nil || len(scan) != 3 {
		t.Fatalf("scan %v, %v", scan, err)
	}
	if got := scan[42]; got.comm != "a) b" || got.state != 'R' || !bytes.Equal(got.cmdline, cmdline("/usr/bin/x", "--flag")) {
		t.Errorf("pid 42: %+v", got)
	}
	if got := scan[43]; !got.gone() || got.cmdline != nil {
		t.Errorf("zombie: %+v (its command line is not read)", got)
	}
	// The command line is read up to the need only, and not at all
	// without one.
	fsys.cmdline = 5
	if got, _ := fsys.read(1); string(got.cmdline) != "/sbin" {
		t.Errorf("truncated cmdline %q", got.cmdline)
	}
	fsys.cmdline = 0
	if got, _ := fsys.read(1); got.cmdline != nil || got.comm != "systemd" {
		t.Errorf("without cmdline: %+v", got)
	}
	p.remove(42)
	if _, err := fsys.read(42); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removed process: %v", err)
	}
	if _, err := (&procFS{root: p.root + "/nope"}).scan(); err == nil {
		t.Error("scan of a missing root succeeded")
	}
}

// TestProcFSReal reads this test process from the real /proc.
func TestProcFSReal(t *testing.T) {
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	fsys := &procFS{root: "/proc", cmdline: 4096}
	scan, err := fsys.scan()
	if err != nil {
		t.Fatal(err)
	}
	me, ok := scan[int32(os.Getpid())]
	if !ok {
		t.Fatalf("scan of %d processes lacks this one", len(scan))
	}
	if me.comm != strings.TrimSuffix(string(comm), "\n") || me.gone() {
		t.Errorf("comm %q state %q, want %q", me.comm, me.state, comm)
	}
	if argv0, _, _ := bytes.Cut(me.cmdline, []byte{0}); string(argv0) != os.Args[0] {
		t.Errorf("argv[0] %q, want %q", argv0, os.Args[0])
	}
	if _, ok := scan[1]; !ok {
		t.Error("no process 1")
	}
}
