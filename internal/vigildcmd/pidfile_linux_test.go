package vigildcmd

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// tmpfs mounts a tmpfs of size bytes on a new directory, read-only if ro,
// and unmounts it when t ends. It needs root.
func tmpfs(t *testing.T, size string, ro bool) string {
	t.Helper()
	nstest.Root(t)
	dir := t.TempDir()
	if err := unix.Mount("vigil-test", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	if ro {
		if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			t.Fatalf("remount read-only: %v", err)
		}
	}
	return dir
}

// fill writes to a file in dir until the file system is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 4096)
	for range 1 << 12 { // bounded: the tmpfs is far smaller
		if _, err := f.Write(b); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("the tmpfs never filled")
}

// TestPidFileDirFaults: a pid file in a read-only or a full directory
// is an error naming the file and the cause, and leaves nothing behind;
// the pid files written before it are removed.
func TestPidFileDirFaults(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	good := filepath.Join(t.TempDir(), "vigild.pid")
	for _, tt := range []struct {
		name string
		dir  func(t *testing.T) string
		want error
	}{
		{"read-only", func(t *testing.T) string { return tmpfs(t, "64k", true) }, syscall.EROFS},
		{"full", func(t *testing.T) string { d := tmpfs(t, "64k", false); fill(t, d); return d }, syscall.ENOSPC},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t) // the subtest's t: a skip (not root) must not reach the parent
			p := filepath.Join(dir, "vrrp.pid")
			pfs, err := writePidFiles([]string{good, p}, 42, func(int) (string, bool) { return "", false }, log)
			if pfs != nil || !errors.Is(err, tt.want) || !strings.Contains(err.Error(), "pid file "+p+": ") {
				t.Fatalf("writePidFiles: %v, want %v naming %s", err, tt.want, p)
			}
			for _, f := range []string{good, p} {
				if _, err := os.Stat(f); !os.IsNotExist(err) {
					t.Errorf("%s left behind (%v)", f, err)
				}
			}
		})
	}
}

// TestDumpDirFaults: a dump into a read-only or full directory fails
// with the cause, and leaves neither a partial dump nor its temporary
// file; a dump written before stays whole.
func TestDumpDirFaults(t *testing.T) {
	for _, tt := range []struct {
		name string
		ro   bool
		want error
	}{
		{"read-only", true, syscall.EROFS},
		{"full", false, syscall.ENOSPC},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := tmpfs(t, "64k", false)
			p := filepath.Join(dir, DataFile)
			if err := writeFileAtomic(p, []byte("before\n")); err != nil {
				t.Fatal(err)
			}
			if tt.ro {
				if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
					t.Fatalf("remount read-only: %v", err)
				}
			} else {
				fill(t, dir)
			}
			if err := writeFileAtomic(p, make([]byte, 1<<20)); !errors.Is(err, tt.want) {
				t.Fatalf("writeFileAtomic: %v, want %v", err, tt.want)
			}
			if b, err := os.ReadFile(p); err != nil || string(b) != "before\n" {
				t.Errorf("the earlier dump: %q (%v)", b, err)
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if e.Name() != DataFile && e.Name() != "filler" {
					t.Errorf("left behind: %s", e.Name())
				}
			}
		})
	}
}
