//go:build linux

package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// The real-kernel drop-in tier: keepalived and vigild run the same
// keepalived.conf with virtual servers, each in turn, against the
// kernel's IPVS in the VM of tools/ipvsvm, and must leave the same table:
//
//	tools/ipvsvm/run --pkg ./cmd/vigild --run Kernel --bin keepalived --go-bin ./cmd/vigild

// kernelConf has NAT and DR services, a persistent one, a firewall mark,
// a virtual_server_group with a range, a sorry server behind a quorum of
// 2 that one live real server of weight 1 does not meet,
// checked and unchecked real servers, inhibit_on_failure, and defaults
// (protocol, scheduler, forwarding) left to keepalived's. The real
// servers up are 192.0.2.10:8080 and 192.0.2.50:8080 (listeners on lo);
// the other checked ones have no address and fail.
const kernelConf = `global_defs {
  router_id vm
}
virtual_server 192.0.2.1 80 {
  delay_loop 1
  lb_algo wrr
  lb_kind NAT
  persistence_timeout 50
  protocol TCP
  real_server 192.0.2.10 8080 {
    weight 3
    TCP_CHECK {
      connect_timeout 1
    }
  }
  real_server 192.0.2.11 8080 {
    weight 2
    inhibit_on_failure
    TCP_CHECK {
      connect_timeout 1
    }
  }
  real_server 192.0.2.12 8080 {
    weight 1
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
virtual_server 192.0.2.2 443 {
  delay_loop 1
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 192.0.2.20 443 {
    weight 1
  }
  real_server 192.0.2.21 443 {
    weight 5
  }
}
virtual_server 192.0.2.4 53 {
  delay_loop 1
  real_server 192.0.2.22 53 {
  }
}
virtual_server fwmark 7 {
  delay_loop 1
  lb_algo sh
  lb_kind DR
  real_server 192.0.2.30 0 {
    weight 1
  }
}
virtual_server_group G1 {
  192.0.2.40 80
  192.0.2.41-42 80
}
virtual_server group G1 {
  delay_loop 1
  lb_algo lc
  lb_kind NAT
  protocol TCP
  real_server 192.0.2.50 8080 {
    weight 1
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
virtual_server 192.0.2.3 80 {
  delay_loop 1
  lb_algo wlc
  lb_kind NAT
  protocol TCP
  quorum 2
  sorry_server 192.0.2.60 8080
  real_server 192.0.2.61 8080 {
    weight 1
    TCP_CHECK {
      connect_timeout 1
    }
  }
  real_server 192.0.2.10 8080 {
    weight 1
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
`

// kernelWait bounds how long a daemon may take to converge in the VM
// (TCG emulation on a loaded machine): checks every second, a retry.
const kernelWait = 60 * time.Second

func ipvsTable(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ipvsadm", "-Ln", "--sort").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -Ln --sort: %v: %s", err, out)
	}
	// Drop the header (version and table size, column titles).
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var keep []string
	for _, l := range lines {
		if strings.HasPrefix(l, "IP Virtual Server") || strings.HasPrefix(l, "Prot ") || strings.HasPrefix(l, "  -> RemoteAddress") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// stable polls the table until it has not changed for hold, at most
// kernelWait, and returns it.
func stable(t *testing.T, who string, hold time.Duration, running func() bool) string {
	t.Helper()
	deadline := time.Now().Add(kernelWait)
	last, since := ipvsTable(t), time.Now()
	for {
		if !running() {
			t.Fatalf("%s exited", who)
		}
		time.Sleep(100 * time.Millisecond)
		cur := ipvsTable(t)
		if cur != last {
			last, since = cur, time.Now()
		}
		if cur != "" && time.Since(since) >= hold {
			return cur
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the IPVS table did not settle within %v:\n%s", who, kernelWait, cur)
		}
	}
}

type daemon struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func start(t *testing.T, args ...string) *daemon {
	t.Helper()
	d := &daemon{cmd: exec.Command(args[0], args[1:]...), done: make(chan struct{})}
	w := &nstest.Buffer{}
	d.cmd.Stdout, d.cmd.Stderr = w, w
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			t.Logf("%s output:\n%s", args[0], w.String())
		}
	})
	return d
}

func (d *daemon) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// stop ends the daemon with SIGTERM (SIGKILL after kernelWait).
func (d *daemon) stop(t *testing.T) {
	if !d.running() {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(kernelWait):
		t.Errorf("%s did not stop within %v", d.cmd.Path, kernelWait)
		d.cmd.Process.Kill()
		<-d.done
	}
}

// kernelFixture gives the VM the real servers of kernelConf that are up
// (192.0.2.10:8080 and 192.0.2.50:8080, listeners on lo), writes
// kernelConf in a temporary directory and checks that the IPVS table is
// empty; it returns the directory and the file.
func kernelFixture(t *testing.T) (dir, conf string) {
	t.Helper()
	for _, a := range []string{"192.0.2.10/32", "192.0.2.50/32"} {
		if out, err := exec.Command("ip", "addr", "add", a, "dev", "lo").CombinedOutput(); err != nil {
			t.Fatalf("ip addr add %s dev lo: %v: %s", a, err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "addr", "del", a, "dev", "lo").Run() })
	}
	for _, a := range []string{"192.0.2.10:8080", "192.0.2.50:8080"} {
		ln, err := net.Listen("tcp4", a)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	dir = t.TempDir()
	conf = filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(kernelConf), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := ipvsTable(t); got != "" {
		t.Fatalf("the table is not empty at the start:\n%s", got)
	}
	return dir, conf
}

// TestKernelDropInIPVS: keepalived's checker side and vigild -C, each run
// on the same file in turn, write the same IPVS table, and both remove
// their services when stopped.
func TestKernelDropInIPVS(t *testing.T) {
	if os.Getenv("IPVSVM") != "1" {
		t.Skip("runs in the VM, against its kernel's IPVS: tools/ipvsvm/run --pkg ./cmd/vigild --run Kernel --bin keepalived --go-bin ./cmd/vigild")
	}
	keepalived, err := exec.LookPath("keepalived")
	if err != nil {
		t.Fatalf("keepalived is not in the VM: give tools/ipvsvm/run --bin keepalived (%v)", err)
	}
	vigild, err := exec.LookPath("vigild")
	if err != nil {
		t.Fatalf("vigild is not in the VM: give tools/ipvsvm/run --go-bin ./cmd/vigild (%v)", err)
	}
	dir, conf := kernelFixture(t)
	k := start(t, keepalived, "-n", "-l", "-C", "-f", conf, "-p", filepath.Join(dir, "k.pid"), "-c", filepath.Join(dir, "kc.pid"))
	want := stable(t, "keepalived", 4*time.Second, k.running)
	t.Logf("keepalived's table:\n%s", want)
	for _, s := range []string{"192.0.2.1:80 wrr persistent 50", "192.0.2.10:8080", "192.0.2.11:8080", "FWM  7 sh", "192.0.2.60:8080", "192.0.2.41:80", "UDP  192.0.2.4:53 wlc"} {
		if !strings.Contains(want, s) {
			t.Errorf("keepalived's table has no %q: the test's expectations are wrong", s)
		}
	}
	k.stop(t)
	if got := ipvsTable(t); got != "" {
		t.Fatalf("keepalived left services:\n%s", got)
	}

	v := start(t, vigild, "-n", "-l", "-C", "-f", conf, "-p", filepath.Join(dir, "v.pid"), "-c", filepath.Join(dir, "vc.pid"),
		"--control-socket", filepath.Join(dir, "v.sock"))
	deadline := time.Now().Add(kernelWait)
	for got := ipvsTable(t); got != want; got = ipvsTable(t) {
		if !v.running() {
			t.Fatalf("vigild exited")
		}
		if time.Now().After(deadline) {
			t.Fatalf("vigild's table is not keepalived's after %v:\nvigild:\n%s\nkeepalived:\n%s", kernelWait, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// And it stays so: no check or sync changes it afterwards.
	if got := stable(t, "vigild", 3*time.Second, v.running); got != want {
		t.Errorf("vigild's table changed to:\n%s\nkeepalived's:\n%s", got, want)
	}
	v.stop(t)
	if got := ipvsTable(t); got != "" {
		t.Errorf("vigild left services:\n%s", got)
	}
}

// TestKernelSplitChecker: vigild --process-model=keepalived -C runs the
// checker side in a child process. kill -9 of the child leaves its
// services in the kernel; the respawned child takes them over and
// converges on the same table; SIGTERM to the parent stops the child,
// which removes them.
func TestKernelSplitChecker(t *testing.T) {
	if os.Getenv("IPVSVM") != "1" {
		t.Skip("runs in the VM, against its kernel's IPVS: tools/ipvsvm/run --pkg ./cmd/vigild --run Kernel --go-bin ./cmd/vigild")
	}
	vigild, err := exec.LookPath("vigild")
	if err != nil {
		t.Fatalf("vigild is not in the VM: give tools/ipvsvm/run --go-bin ./cmd/vigild (%v)", err)
	}
	dir, conf := kernelFixture(t)
	pidC := filepath.Join(dir, "vc.pid")
	v := start(t, vigild, "-n", "-l", "-C", "-f", conf, "--process-model=keepalived", "--child-deadline=5s",
		"-p", filepath.Join(dir, "v.pid"), "-c", pidC, "--control-socket", filepath.Join(dir, "v.sock"))
	want := stable(t, "vigild", 4*time.Second, v.running)
	for _, s := range []string{"192.0.2.1:80 wrr persistent 50", "192.0.2.10:8080", "FWM  7 sh"} {
		if !strings.Contains(want, s) {
			t.Errorf("the checker child's table has no %q:\n%s", s, want)
		}
	}
	pidOf := func() int {
		b, _ := os.ReadFile(pidC)
		p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return p
	}
	child := pidOf()
	if child <= 0 || child == v.cmd.Process.Pid {
		t.Fatalf("checker pid file: %d (parent %d)", child, v.cmd.Process.Pid)
	}
	if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if got := ipvsTable(t); got == "" {
		t.Errorf("the killed child's services left the kernel")
	}
	deadline := time.Now().Add(kernelWait)
	for p := pidOf(); p == child || p <= 0; p = pidOf() {
		if time.Now().After(deadline) || !v.running() {
			t.Fatalf("no new checker child within %v", kernelWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for got := ipvsTable(t); got != want; got = ipvsTable(t) {
		if time.Now().After(deadline) || !v.running() {
			t.Fatalf("the respawned child's table is not its predecessor's after %v:\n%s\nwant:\n%s", kernelWait, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := stable(t, "vigild", 3*time.Second, v.running); got != want {
		t.Errorf("the respawned child's table changed to:\n%s\nwant:\n%s", got, want)
	}
	v.stop(t)
	if code := v.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("the parent exited %d", code)
	}
	if got := ipvsTable(t); got != "" {
		t.Errorf("the checker child left services:\n%s", got)
	}
}
