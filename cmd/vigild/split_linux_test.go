//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// splitConf is VI_1 for both hosts: h1 (vigild --process-model=keepalived)
// is its master by priority, h2 (vigild, one process) its backup. Both
// write their transitions to a FIFO. The checker side has no virtual
// server (this kernel has no IPVS): --all starts the checker child
// anyway, which is what its kill, stop and respawn need.
const splitConf = `global_defs {
  router_id split
@h1 notify_fifo DIR/h1.fifo
@h2 notify_fifo DIR/h2.fifo
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 61
@h1 priority 200
@h2 priority 100
  advert_int 1
  virtual_ipaddress {
    192.0.2.100/24
  }
}
`

// readPid reads a pid file; 0 if it is missing or not yet written.
func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return p
}

// alive says whether pid exists (and is not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// newChild waits for the pid file path to name a live process other than
// old and returns it.
func newChild(t *testing.T, path string, old int) int {
	t.Helper()
	var pid int
	await(t, "a new process in "+path, func() bool {
		pid = readPid(t, path)
		return pid > 0 && pid != old && alive(pid)
	})
	return pid
}

// vrrpAdverts returns the VRRP adverts of frames (Ethernet, IPv4) as
// "source priority".
func vrrpAdverts(frames [][]byte) []string {
	var out []string
	for _, f := range frames {
		if len(f) < 14+20+8 || f[12] != 0x08 || f[13] != 0x00 || f[14+9] != 112 {
			continue
		}
		ihl := int(f[14]&0x0f) * 4
		if len(f) < 14+ihl+8 {
			continue
		}
		src := netip.AddrFrom4([4]byte(f[14+12 : 14+16]))
		out = append(out, fmt.Sprintf("%v %d", src, f[14+ihl+2]))
	}
	return out
}

// httpGet gets path from addr in h's namespace: the connection is made
// there, then used by an http.Client.
func httpGet(t *testing.T, h *nstest.Host, addr, path string) string {
	t.Helper()
	var c net.Conn
	if err := h.Do(func() (err error) {
		c, err = net.DialTimeout("tcp", addr, 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DisableKeepAlives: true,
		DialContext: func(context.Context, string, string) (net.Conn, error) { return c, nil }}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s, %v: %s", path, resp.Status, err, b)
	}
	return string(b)
}

// TestSplitProcessModel: vigild --process-model=keepalived on h1 runs VI_1
// as master in its VRRP child, beside a checker child, h2 a backup.
//   - kill -9 of the checker child: respawned; VI_1 never transitions
//     on either host.
//   - SIGSTOP of the checker child: found after its heartbeat deadline
//     (1s), killed and respawned.
//   - kill -9 of the VRRP child: respawned at once, resuming VI_1 as
//     MASTER: the VIP is never seen missing, and h2 never takes over.
//   - vigild status through the parent's control socket.
//   - SIGTERM to the parent: both children stop, the master's priority-0
//     advert goes out and h2 takes over; the pid files are removed.
//   - kill -9 of the parent (started again): both children stop
//     gracefully too (priority 0), and h2 takes over.
func TestSplitProcessModel(t *testing.T) {
	seg := nstest.NewSegment(t, 3)
	h1, h2, h3 := seg.Hosts[0], seg.Hosts[1], seg.Hosts[2]
	bin := vigildBinary(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(strings.ReplaceAll(splitConf, "DIR", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo1, fifo2 := readFIFO(t, filepath.Join(dir, "h1.fifo")), readFIFO(t, filepath.Join(dir, "h2.fifo"))
	pidP, pidV, pidC := filepath.Join(dir, "p.pid"), filepath.Join(dir, "v.pid"), filepath.Join(dir, "c.pid")
	sock := filepath.Join(dir, "ctl.sock")
	// Whatever happens, no child outlives the test (the parent's
	// SIGTERM in StartDaemon's cleanup stops them; this is for a parent
	// that died).
	t.Cleanup(func() {
		for _, f := range []string{pidV, pidC} {
			if p := readPid(t, f); p > 0 && alive(p) {
				if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); strings.TrimSpace(string(comm)) == "vigild" {
					syscall.Kill(p, syscall.SIGKILL)
				}
			}
		}
	})
	capture := nstest.Capture(t, h3, "ip proto 112")
	v1 := nstest.StartDaemon(t, h1, "vigild split", bin, "-n", "-l", "-i", "h1", "-f", conf,
		"--process-model=keepalived", "--all", "--child-deadline=1s",
		"-p", pidP, "-r", pidV, "-c", pidC, "--control-socket", sock, "--metrics-address", "127.0.0.1:9650")
	await(t, "h1 master of VI_1", func() bool { return hasAddr(t, h1, "192.0.2.100") })
	v2 := nstest.StartDaemon(t, h2, "vigild", bin, "-n", "-l", "-i", "h2", "-f", conf,
		"-p", filepath.Join(dir, "p2.pid"), "-r", filepath.Join(dir, "v2.pid"), "-c", filepath.Join(dir, "c2.pid"),
		"--control-socket", "none")
	await(t, "h2 BACKUP of VI_1", func() bool { return slices.Contains(fifo2.get(), `INSTANCE "VI_1" BACKUP 100`) })

	parent := readPid(t, pidP)
	if parent != v1.Cmd.Process.Pid {
		t.Fatalf("the main pid file holds %d, the parent is %d", parent, v1.Cmd.Process.Pid)
	}
	vrrp1, check1 := newChild(t, pidV, 0), newChild(t, pidC, 0)
	if vrrp1 == parent || check1 == parent || vrrp1 == check1 {
		t.Fatalf("pids: parent %d, VRRP child %d, checker child %d", parent, vrrp1, check1)
	}
	if out, err := exec.Command(bin, "status", "--control-socket", sock).CombinedOutput(); err != nil ||
		!regexp.MustCompile(`VI_1\s+eth0\s+61\s+MASTER\s+200`).Match(out) {
		t.Errorf("vigild status through the parent: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "reload", "--control-socket", sock).CombinedOutput(); err != nil ||
		strings.TrimSpace(string(out)) != "reloaded: vrrp: nothing changed; checker: nothing changed" {
		t.Errorf("vigild reload through the parent: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "dump", "--control-socket", sock).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "VI_1") {
		t.Errorf("vigild dump through the parent: %v\n%s", err, out)
	}
	// /metrics and /state from the parent: the children's, merged.
	metrics, state := httpGet(t, h1, "127.0.0.1:9650", "/metrics"), httpGet(t, h1, "127.0.0.1:9650", "/state")
	if !regexp.MustCompile(`(?m)^vigil_instance_state\{.*process="vrrp".*state="MASTER".*\} 1$`).MatchString(metrics) ||
		!strings.Contains(metrics, `process="checker"`) || !strings.Contains(metrics, "go_goroutines ") {
		t.Errorf("the parent's /metrics has not the children's series, labelled by process, and its own:\n%.3000s", metrics)
	}
	if !strings.Contains(state, `"name": "VI_1"`) || !strings.Contains(state, `"state": "MASTER"`) {
		t.Errorf("the parent's /state:\n%s", state)
	}
	fifo1Before, fifo2Before := len(fifo1.get()), len(fifo2.get())

	// kill -9 the checker child: respawned; the VRRP side never moves.
	if err := syscall.Kill(check1, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	check2 := newChild(t, pidC, check1)
	await(t, "the respawn logged", func() bool {
		return strings.Contains(v1.Out.String(), fmt.Sprintf("Healthcheck child process(%d) died: Respawning", check1))
	})

	// SIGSTOP the checker child: killed after its deadline, respawned.
	stopped := time.Now()
	if err := syscall.Kill(check2, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	check3 := newChild(t, pidC, check2)
	found := time.Since(stopped)
	if !strings.Contains(v1.Out.String(), fmt.Sprintf("Healthcheck child process(%d) missed its heartbeat deadline: killing it", check2)) {
		t.Errorf("the stall is not logged")
	}
	// Its last beat came at most a beat period (250ms) before the stop.
	if found < 750*time.Millisecond {
		t.Errorf("the stopped child was replaced %v after SIGSTOP, before its 1s deadline", found)
	}
	if alive(check2) {
		t.Errorf("the stopped child %d still exists", check2)
	}
	t.Logf("SIGSTOP to respawn: %v (deadline 1s)", found)
	if got := fifo1.get()[fifo1Before:]; len(got) != 0 {
		t.Errorf("the checker child's deaths moved h1's VRRP side: %q", got)
	}
	if !alive(vrrp1) {
		t.Errorf("the VRRP child died")
	}

	// kill -9 the VRRP child: respawned, resuming VI_1; the VIP is
	// never seen missing and h2 never takes over.
	killed := time.Now()
	if err := syscall.Kill(vrrp1, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	resumed := "(VI_1) Entering MASTER STATE"
	deadline := time.Now().Add(dropinWait)
	var vrrp2 int
	for {
		if !hasAddr(t, h1, "192.0.2.100") {
			t.Fatalf("the VIP left h1 after the VRRP child's kill")
		}
		if vrrp2 = readPid(t, pidV); vrrp2 != vrrp1 && vrrp2 > 0 &&
			strings.Count(v1.Out.String(), resumed) >= 2 && strings.Contains(v1.Out.String(), "reason=resumed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no VRRP child resumed VI_1 within %v", dropinWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("kill -9 of the VRRP child to its successor resumed as MASTER: %v", time.Since(killed))
	// Three advert intervals more: h2 stays BACKUP, h1 keeps the VIP.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if !hasAddr(t, h1, "192.0.2.100") || hasAddr(t, h2, "192.0.2.100") {
			t.Fatalf("the VIP moved after the VRRP child's respawn")
		}
	}
	if got := fifo2.get()[fifo2Before:]; len(got) != 0 {
		t.Errorf("h2 moved when h1's VRRP child was killed: %q", got)
	}
	// A resumed master notifies nothing: nothing changed outside.
	if got := fifo1.get()[fifo1Before:]; len(got) != 0 {
		t.Errorf("h1's FIFO after the VRRP child's respawn: %q, want nothing", got)
	}
	if !alive(check3) {
		t.Errorf("the checker child died with the VRRP child")
	}

	// SIGTERM to the parent: both children stop gracefully; the master
	// says priority 0 and h2 takes over.
	v1.Stop(syscall.SIGTERM)
	if code := v1.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("the parent exited %d", code)
	}
	for _, p := range []int{vrrp2, check3} {
		if alive(p) {
			t.Errorf("child %d outlived its parent", p)
		}
	}
	await(t, "h2 master of VI_1", func() bool { return hasAddr(t, h2, "192.0.2.100") })
	if hasAddr(t, h1, "192.0.2.100") {
		t.Errorf("h1 kept the VIP after SIGTERM")
	}
	for _, f := range []string{pidP, pidV, pidC} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", f, err)
		}
	}
	for _, want := range []string{"Stopping", "VRRP child process(", "Healthcheck child process(", "Stopped vigild"} {
		if !strings.Contains(v1.Out.String(), want) {
			t.Errorf("the parent's log has no %q", want)
		}
	}

	// The parent killed (kill -9): its children see it gone
	// (PR_SET_PDEATHSIG, their socketpair's end) and stop gracefully:
	// the VIP leaves h1 and h2 takes VI_1 back.
	v3 := nstest.StartDaemon(t, h1, "vigild split again", bin, "-n", "-l", "-i", "h1", "-f", conf,
		"--process-model=keepalived", "--all", "--child-deadline=1s",
		"-p", pidP, "-r", pidV, "-c", pidC, "--control-socket", sock)
	await(t, "h1 master of VI_1 again (it preempts)", func() bool {
		return hasAddr(t, h1, "192.0.2.100") && !hasAddr(t, h2, "192.0.2.100")
	})
	vrrp3, check4 := newChild(t, pidV, 0), newChild(t, pidC, 0)
	if err := v3.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	await(t, "both children gone after the parent's kill", func() bool { return !alive(vrrp3) && !alive(check4) })
	await(t, "h2 master of VI_1 after h1's parent was killed", func() bool {
		return hasAddr(t, h2, "192.0.2.100") && !hasAddr(t, h1, "192.0.2.100")
	})
	v3.Stop(syscall.SIGKILL) // reaped: its output is complete
	// Which comes first, SIGTERM or the socket's EOF, varies; both stop a
	// child gracefully (TestParentLink tests the EOF alone).
	if n := strings.Count(v3.Out.String(), `msg="Stopped vigild"`); n != 2 {
		t.Errorf("%d children stopped gracefully, want 2", n)
	}

	v2.Stop(syscall.SIGTERM)
	adverts := vrrpAdverts(capture())
	if n := len(slices.DeleteFunc(slices.Clone(adverts), func(a string) bool { return a != "192.0.2.1 0" })); n < 2 {
		t.Errorf("%d priority-0 adverts from h1, want one for each stop (SIGTERM, the parent killed)", n)
	}
	if i := slices.Index(adverts, "192.0.2.1 0"); i >= 0 && slices.Contains(adverts[:i], "192.0.2.2 100") {
		t.Errorf("h2 advertised before h1's priority 0: it took over while h1 ran")
	}
}
