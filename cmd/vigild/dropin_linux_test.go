//go:build linux

package main

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// dropinWait bounds every wait for the wire, the kernel or a peer: a
// takeover at advert_int 1 is about 3.6 s; the rest is room for a loaded
// machine.
const dropinWait = 20 * time.Second

// vigildBinary builds this command once per test binary.
func vigildBinary(t *testing.T) string {
	return nstest.GoBuild(t, "github.com/vigil-ha/vigil/cmd/vigild")
}

// dropinConf is one keepalived.conf for both routers: "@h1" lines are
// keepalived's (-i h1), "@h2" lines vigild's (-i h2). DIR is the test's
// directory. VI_4 is VRRPv2 with PASS authentication, VI_6 VRRPv3 over
// IPv6; both are in sync group G, which tracks a script with its weight
// (sync_group_tracking_weight). VI_U is unicast, outside the group, and
// vigild's by priority.
const dropinConf = `global_defs {
  router_id dropin
  script_user root
@h1 notify_fifo DIR/h1.fifo
@h2 notify_fifo DIR/h2.fifo
}
vrrp_script chk {
@h1 script "/usr/bin/test -e DIR/h1.ok"
@h2 script "/usr/bin/test -e DIR/h2.ok"
  interval 1
  weight -60
  fall 1
  rise 1
}
vrrp_sync_group G {
  group {
    VI_4
    VI_6
  }
  track_script {
    chk
  }
  sync_group_tracking_weight
}
vrrp_instance VI_4 {
  state BACKUP
  interface eth0
  virtual_router_id 51
@h1 priority 150
@h2 priority 100
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass secret1
  }
  virtual_ipaddress {
    192.0.2.100/24
  }
@h1 notify "DIR/notify.sh h1"
@h2 notify "DIR/notify.sh h2"
}
vrrp_instance VI_6 {
  state BACKUP
  interface eth0
  virtual_router_id 52
@h1 priority 150
@h2 priority 100
  advert_int 1
  virtual_ipaddress {
    2001:db8::100/64
  }
}
vrrp_instance VI_U {
  state BACKUP
  interface eth0
  virtual_router_id 53
@h1 priority 100
@h2 priority 200
  advert_int 1
@h1 unicast_src_ip 192.0.2.1
@h2 unicast_src_ip 192.0.2.2
  unicast_peer {
@h1 192.0.2.2
@h2 192.0.2.1
  }
  virtual_ipaddress {
    198.51.100.53/32
  }
}
`

// fifoLines reads a FIFO into a slice until the writer closes it or the
// test ends.
type fifoLines struct {
	mu    sync.Mutex
	lines []string
}

func readFIFO(t *testing.T, path string) *fifoLines {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	r := &fifoLines{}
	// O_RDWR: the open does not wait for a writer, and a writer that
	// closes and reopens does not end the reading.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			r.mu.Lock()
			r.lines = append(r.lines, sc.Text())
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { f.Close(); <-done })
	return r
}

func (r *fifoLines) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

// await polls ok (bounded by dropinWait) and fails the test with what
// when it never holds.
func await(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(dropinWait)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", dropinWait, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasAddr(t *testing.T, h *nstest.Host, a string) bool {
	t.Helper()
	ok, err := h.HasAddr(netip.MustParseAddr(a))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// notifyLines reads a notify script's output file.
func notifyLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(b)), " ", "_"))
}

// instanceStates returns the states of the "INSTANCE NAME STATE PRIO"
// lines about name, in order, each checked against keepalived's format.
func instanceStates(t *testing.T, who string, lines []string, name string) []string {
	t.Helper()
	re := regexp.MustCompile(`^(h1|h2)_INSTANCE_(\S+?)_(MASTER|BACKUP|FAULT|STOP|DELETED)_(\d+)$`)
	var out []string
	for _, l := range lines {
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("%s notify line %q is not keepalived's \"INSTANCE NAME STATE PRIORITY\"", who, l)
			continue
		}
		if p, _ := strconv.Atoi(m[4]); p < 0 || p > 255 {
			t.Errorf("%s notify line %q: priority", who, l)
		}
		if m[2] == name {
			out = append(out, m[3])
		}
	}
	return out
}

// TestDropIn: keepalived (h1) and vigild (h2) run the same
// keepalived.conf; they elect, fail over both ways through a tracked
// script, keep a unicast instance apart, notify as keepalived does, and
// vigild reloads on SIGHUP without a transition, refusing a config with an
// error.
func TestDropIn(t *testing.T) {
	seg := nstest.NewSegment(t, 3)
	nstest.NeedTools(t, "keepalived")
	h1, h2 := seg.Hosts[0], seg.Hosts[1]
	bin := vigildBinary(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(conf, []byte(strings.ReplaceAll(text, "DIR", dir)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(dropinConf)
	script := "#!/bin/sh\nh=$1; shift\necho \"$h $*\" >> " + dir + "/$h.notify\n"
	if err := os.WriteFile(filepath.Join(dir, "notify.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"h1.ok", "h2.ok"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fifo1, fifo2 := readFIFO(t, filepath.Join(dir, "h1.fifo")), readFIFO(t, filepath.Join(dir, "h2.fifo"))

	kbin := nstest.NeedTools(t, "keepalived")[0]
	k := nstest.StartDaemon(t, h1, "keepalived", kbin, "-n", "-l", "-D", "-P", "-i", "h1", "-f", conf,
		"-p", filepath.Join(dir, "k.pid"), "-r", filepath.Join(dir, "k-vrrp.pid"), "-c", filepath.Join(dir, "k-chk.pid"))
	t.Cleanup(func() {
		b, _ := os.ReadFile(filepath.Join(dir, "k-vrrp.pid"))
		if p, _ := strconv.Atoi(strings.TrimSpace(string(b))); p > 0 && !k.Exited() {
			syscall.Kill(p, syscall.SIGKILL)
		}
	})
	// keepalived first, so that the election does not depend on which
	// of the two started first.
	await(t, "keepalived master of VI_4 and VI_6", func() bool {
		return hasAddr(t, h1, "192.0.2.100") && hasAddr(t, h1, "2001:db8::100")
	})
	v := nstest.StartDaemon(t, h2, "vigild", bin, "-n", "-l", "-i", "h2", "-f", conf,
		"-p", filepath.Join(dir, "v.pid"), "-r", filepath.Join(dir, "v-vrrp.pid"), "-c", filepath.Join(dir, "v-chk.pid"),
		"--control-socket", filepath.Join(dir, "v.sock"))

	// Election: keepalived holds VI_4 and VI_6, vigild VI_U.
	await(t, "keepalived master of VI_4 and VI_6, vigild of VI_U", func() bool {
		return hasAddr(t, h1, "192.0.2.100") && hasAddr(t, h1, "2001:db8::100") && hasAddr(t, h2, "198.51.100.53")
	})
	await(t, "vigild BACKUP of VI_4", func() bool { return strings.Contains(v.Out.String(), "(VI_4) Entering BACKUP STATE") })

	// The tracked script fails on keepalived's host: 150-60 < 100, vigild
	// takes VI_4 over and the sync group brings VI_6.
	if err := os.Remove(filepath.Join(dir, "h1.ok")); err != nil {
		t.Fatal(err)
	}
	await(t, "vigild master of VI_4 and VI_6", func() bool {
		return hasAddr(t, h2, "192.0.2.100") && hasAddr(t, h2, "2001:db8::100") &&
			!hasAddr(t, h1, "192.0.2.100") && !hasAddr(t, h1, "2001:db8::100")
	})
	// And back.
	if err := os.WriteFile(filepath.Join(dir, "h1.ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	await(t, "keepalived master of VI_4 and VI_6 again", func() bool {
		return hasAddr(t, h1, "192.0.2.100") && hasAddr(t, h1, "2001:db8::100") &&
			!hasAddr(t, h2, "192.0.2.100") && !hasAddr(t, h2, "2001:db8::100")
	})
	if !hasAddr(t, h2, "198.51.100.53") || hasAddr(t, h1, "198.51.100.53") {
		t.Errorf("VI_U moved")
	}

	// Notify scripts and FIFOs: the same lines as keepalived's.
	await(t, "vigild's notify lines", func() bool {
		return slices.Equal(instanceStates(t, "vigild", notifyLines(t, filepath.Join(dir, "h2.notify")), "VI_4"),
			[]string{"BACKUP", "MASTER", "BACKUP"})
	})
	if got := instanceStates(t, "keepalived", notifyLines(t, filepath.Join(dir, "h1.notify")), "VI_4"); !slices.Equal(got, []string{"BACKUP", "MASTER", "BACKUP", "MASTER"}) &&
		!slices.Equal(got, []string{"MASTER", "BACKUP", "MASTER"}) {
		t.Errorf("keepalived's VI_4 notify states %v", got)
	}
	fifoRE := regexp.MustCompile(`^(INSTANCE|GROUP) "([^"]+)" (MASTER|BACKUP|FAULT|STOP|DELETED)( \d+)?$`)
	kinds := func(who string, lines []string) map[string]bool {
		m := map[string]bool{}
		for _, l := range lines {
			s := fifoRE.FindStringSubmatch(l)
			if s == nil {
				t.Errorf("%s FIFO line %q is not keepalived's", who, l)
				continue
			}
			if s[4] == "" || (s[1] == "GROUP" && s[4] != " 0") {
				t.Errorf("%s FIFO line %q: a line ends in the priority, 0 for a group", who, l)
			}
			m[s[1]+" "+s[2]+" "+s[3]] = true
		}
		return m
	}
	await(t, "vigild's FIFO lines", func() bool {
		return len(fifo2.get()) >= 6
	})
	kf, vf := kinds("keepalived", fifo1.get()), kinds("vigild", fifo2.get())
	for _, want := range []string{"INSTANCE VI_4 MASTER", "INSTANCE VI_4 BACKUP", "INSTANCE VI_6 MASTER", "INSTANCE VI_6 BACKUP", "GROUP G MASTER", "GROUP G BACKUP"} {
		if !kf[want] {
			t.Errorf("keepalived's FIFO has no %q: %q", want, fifo1.get())
		}
		if !vf[want] {
			t.Errorf("vigild's FIFO has no %q (keepalived wrote it): %q", want, fifo2.get())
		}
	}

	// SIGHUP with VI_U's priority changed and a VIP added: no transition,
	// the new VIP held and announced.
	entering := strings.Count(v.Out.String(), "Entering")
	capture := nstest.CaptureLive(t, seg.Hosts[2], "arp")
	write(strings.Replace(strings.Replace(dropinConf, "@h2 priority 200", "@h2 priority 180", 1),
		"198.51.100.53/32", "198.51.100.53/32\n    198.51.100.54/32", 1))
	v.Signal(syscall.SIGHUP)
	await(t, "the added VIP on vigild's host", func() bool { return hasAddr(t, h2, "198.51.100.54") })
	// The announcement follows the address add: read the capture until
	// it is in (stopping as the address appears lost it now and then).
	await(t, "a gratuitous ARP for the added VIP at the peer", func() bool {
		for _, f := range capture.Frames() {
			// Ethernet + ARP: the sender protocol address at 14+14.
			if len(f) >= 42 && f[12] == 0x08 && f[13] == 0x06 && netip.AddrFrom4([4]byte(f[28:32])) == netip.MustParseAddr("198.51.100.54") {
				return true
			}
		}
		return false
	})
	capture.Stop()
	if n := strings.Count(v.Out.String(), "Entering"); n != entering {
		t.Errorf("the reload caused %d transitions:\n%s", n-entering, v.Out.String())
	}

	// A config with an error: rejected with its position, the old one kept.
	bad := strings.Replace(dropinConf, "@h2 priority 200", "@h2 priority 2000", 1)
	write(bad)
	line := 1 + strings.Count(bad[:strings.Index(bad, "priority 2000")], "\n")
	v.Signal(syscall.SIGHUP)
	where := fmt.Sprintf("keepalived.conf:%d", line)
	await(t, "the rejected reload logged at "+where, func() bool { return strings.Contains(v.Out.String(), where) })
	if !hasAddr(t, h2, "198.51.100.54") || !hasAddr(t, h2, "198.51.100.53") {
		t.Errorf("the rejected config changed the VIPs")
	}
	if v.Exited() {
		t.Fatalf("vigild exited on a bad config:\n%s", v.Out.String())
	}

	// SIGTERM: vigild resigns (priority 0): keepalived takes VI_U at once.
	v.Stop(syscall.SIGTERM)
	await(t, "keepalived master of VI_U after vigild stopped", func() bool { return hasAddr(t, h1, "198.51.100.53") })
	if hasAddr(t, h2, "198.51.100.53") || hasAddr(t, h2, "198.51.100.54") {
		t.Errorf("vigild left its VIPs after SIGTERM")
	}
}
