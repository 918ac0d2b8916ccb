//go:build linux

package vrrp_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/vrrp"
)

// Without CAP_NET_RAW, Listen says so clearly. The test re-runs its own
// binary as user nobody, where TestListenHelperEPERM does the Listen.
func TestListenWithoutCapNetRaw(t *testing.T) {
	nstest.Require(t)
	dir, err := os.MkdirTemp("", "vigil-eperm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "vrrp.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err == nil {
		_, err = io.Copy(dst, src)
		dst.Close()
	}
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^TestListenHelperEPERM$", "-test.v")
	cmd.Env = append(os.Environ(), "VIGIL_EPERM_HELPER=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "EPERM-OK: vrrp: raw sockets need CAP_NET_RAW") {
		t.Fatalf("helper output:\n%s", out)
	}
}

func TestListenHelperEPERM(t *testing.T) {
	if os.Getenv("VIGIL_EPERM_HELPER") != "1" {
		t.Skip("helper for TestListenWithoutCapNetRaw")
	}
	_, err := vrrp.Listen(vrrp.SocketConfig{Interface: "lo"})
	if !errors.Is(err, vrrp.ErrPermission) {
		t.Fatalf("Listen as uid %d: %v, want ErrPermission", os.Getuid(), err)
	}
	fmt.Println("EPERM-OK:", err)
}
