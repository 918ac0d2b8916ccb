//go:build linux

package vrrp_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/vrrp"
)

// keepalived is a real keepalived (VRRP subsystem only) in a namespace.
type keepalived struct {
	*nstest.Daemon
	t   *testing.T
	h   *nstest.Host
	dir string
}

func requireKeepalived(t *testing.T) string {
	t.Helper()
	nstest.Require(t)
	return nstest.NeedTools(t, "keepalived")[0]
}

// startKeepalived writes conf and runs keepalived in h's namespace with its
// own pid files. It is stopped (by PID) in t.Cleanup if still running.
func startKeepalived(t *testing.T, h *nstest.Host, conf string) *keepalived {
	t.Helper()
	bin := requireKeepalived(t)
	dir := t.TempDir()
	cf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	k := &keepalived{t: t, h: h, dir: dir}
	k.Daemon = nstest.StartDaemon(t, h, "keepalived", bin, "-n", "-l", "-D", "-G", "-P", "-f", cf,
		"-p", filepath.Join(dir, "ka.pid"), "-r", filepath.Join(dir, "vrrp.pid"),
		"-c", filepath.Join(dir, "checkers.pid"), "-b", filepath.Join(dir, "bfd.pid"))
	t.Cleanup(func() { k.kill(syscall.SIGKILL) }) // runs first: the VRRP child too
	return k
}

func (k *keepalived) pid(file string) int {
	b, err := os.ReadFile(filepath.Join(k.dir, file))
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return p
}

// kill sends sig to the keepalived parent (and, for SIGKILL, first to the
// VRRP child, as a crash of both) and waits (bounded) for it to end.
func (k *keepalived) kill(sig syscall.Signal) {
	if k.Exited() {
		return
	}
	if p := k.pid("vrrp.pid"); p > 0 && sig == syscall.SIGKILL {
		syscall.Kill(p, sig)
	}
	k.Stop(sig)
}

// awaitLog waits (bounded) until keepalived has logged s n times.
func (k *keepalived) awaitLog(s string, n int, limit time.Duration) {
	k.t.Helper()
	deadline := time.Now().Add(limit)
	for strings.Count(k.Out.String(), s) < n {
		if time.Now().After(deadline) {
			k.t.Fatalf("keepalived did not log %q (x%d) within %v:\n%s", s, n, limit, k.Out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// complaints returns keepalived's log lines that say it disliked a packet.
func (k *keepalived) complaints() []string {
	return linesWith(k.Out.String(), "invalid", "mismatch", "bad ", "error", "wrong", "discard", "ignoring", "does not match")
}

// linesWith returns the lines of log that contain any of words, ignoring case.
func linesWith(log string, words ...string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		ll := strings.ToLower(l)
		for _, w := range words {
			if strings.Contains(ll, w) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

type interopCase struct {
	name    string
	version vrrp.Version
	v6      bool
	unicast bool
	auth    bool
	ival    time.Duration
}

func (c interopCase) vips() []netip.Prefix {
	if c.v6 {
		return []netip.Prefix{netip.MustParsePrefix("fe80::100/64"), netip.MustParsePrefix("2001:db8::100/64")}
	}
	return []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24"), netip.MustParsePrefix("192.0.2.101/24")}
}

func (c interopCase) keepalivedConf(self, peer *nstest.Host, state string, prio uint8) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    router_id %s\n}\n", self.Name)
	fmt.Fprintf(&b, "vrrp_instance VI_1 {\n    state %s\n    interface %s\n    version %d\n    virtual_router_id 51\n    priority %d\n    advert_int %g\n",
		state, self.Link, c.version, prio, c.ival.Seconds())
	if c.auth {
		b.WriteString("    authentication {\n        auth_type PASS\n        auth_pass secret12\n    }\n")
	}
	if c.unicast {
		fmt.Fprintf(&b, "    unicast_src_ip %s\n    unicast_peer {\n        %s\n    }\n", self.Addr4.Addr(), peer.Addr4.Addr())
	}
	b.WriteString("    virtual_ipaddress {\n")
	for _, p := range c.vips() {
		fmt.Fprintf(&b, "        %s\n", p)
	}
	b.WriteString("    }\n}\n")
	return b.String()
}

func (c interopCase) vigilConfig(self, peer *nstest.Host, prio uint8) (vrrp.Config, vrrp.ConnConfig) {
	cfg := vrrp.Config{Name: "vigil-" + self.Name, VRID: 51, Version: c.version, Priority: prio, Interval: c.ival, VIPs: c.vips()}
	var cc vrrp.ConnConfig
	if c.auth {
		cfg.AuthType, cfg.AuthPass = vrrp.AuthSimple, "secret12"
	}
	if c.unicast {
		cfg.Peers = []netip.Addr{peer.Addr4.Addr()}
		cc = vrrp.ConnConfig{Source: self.Addr4.Addr(), Peers: cfg.Peers}
	}
	return cfg, cc
}

var interopCases = []interopCase{
	{"v2_ipv4", vrrp.V2, false, false, false, time.Second},
	{"v2_ipv4_auth_pass", vrrp.V2, false, false, true, time.Second},
	{"v2_ipv4_unicast", vrrp.V2, false, true, false, time.Second},
	{"v3_ipv4", vrrp.V3, false, false, false, 100 * time.Millisecond},
	{"v3_ipv6", vrrp.V3, true, false, false, 100 * time.Millisecond},
}

// keepalived master, vigil backup: vigil accepts every advert, then takes
// over when keepalived stops (priority 0: after Skew_Time) or crashes
// (after Master_Down_Interval).
func TestInteropKeepalivedMaster(t *testing.T) {
	requireKeepalived(t)
	for _, c := range interopCases {
		for _, stop := range []string{"sigterm", "sigkill"} {
			t.Run(c.name+"/"+stop, func(t *testing.T) {
				t.Parallel()
				seg := nstest.NewSegment(t, 2)
				kh, vh := seg.Hosts[0], seg.Hosts[1]
				ka := startKeepalived(t, kh, c.keepalivedConf(kh, vh, "MASTER", 150))
				ka.awaitLog("Entering MASTER STATE", 1, 10*time.Second)
				cfg, cc := c.vigilConfig(vh, kh, 100)
				n := startReal(t, vh, cfg, cc)
				n.await(t, vrrp.Backup, 2*time.Second)
				time.Sleep(3 * c.ival) // adverts flow; vigil must stay Backup
				if n.r.State() != vrrp.Backup || n.r.Stats().AdvertsReceived == 0 {
					t.Fatalf("vigil: state %v, stats %+v", n.r.State(), n.r.Stats())
				}
				stopped := time.Now()
				if stop == "sigterm" {
					ka.Signal(syscall.SIGTERM)
				} else {
					ka.kill(syscall.SIGKILL)
				}
				took := n.await(t, vrrp.Master, 10*c.ival+2*time.Second).Sub(stopped)
				t.Logf("vigil took over %v after keepalived's %s", took, stop)
				if zero := n.r.Stats().PriorityZeroRx; (stop == "sigterm") != (zero == 1) {
					t.Errorf("priority 0 adverts heard: %d", zero)
				}
				noDrops(t, n)
				ka.kill(syscall.SIGTERM)
				if bad := ka.complaints(); len(bad) > 0 {
					t.Errorf("keepalived complained:\n%s", strings.Join(bad, "\n"))
				}
			})
		}
	}
}

// vigil master, keepalived backup: keepalived stays Backup while vigil
// advertises, then takes over when vigil stops or crashes.
func TestInteropVigilMaster(t *testing.T) {
	requireKeepalived(t)
	for _, c := range interopCases {
		for _, stop := range []string{"graceful", "crash"} {
			t.Run(c.name+"/"+stop, func(t *testing.T) {
				t.Parallel()
				seg := nstest.NewSegment(t, 2)
				vh, kh := seg.Hosts[0], seg.Hosts[1]
				cfg, cc := c.vigilConfig(vh, kh, 150)
				n := startReal(t, vh, cfg, cc)
				n.await(t, vrrp.Master, 10*c.ival+2*time.Second)
				ka := startKeepalived(t, kh, c.keepalivedConf(kh, vh, "BACKUP", 100))
				ka.awaitLog("Entering BACKUP STATE", 1, 10*time.Second)
				// Several of vigil's adverts must keep keepalived Backup for
				// longer than its Master_Down_Interval.
				time.Sleep(5*c.ival + 500*time.Millisecond)
				if strings.Contains(ka.Out.String(), "Entering MASTER STATE") {
					t.Fatalf("keepalived became master while vigil advertised:\n%s", ka.Out.String())
				}
				if stop == "crash" {
					if err := vh.SetLink(false); err != nil {
						t.Fatal(err)
					}
				}
				n.stop()
				ka.awaitLog("Entering MASTER STATE", 1, 10*c.ival+2*time.Second)
				if stop == "graceful" && !strings.Contains(ka.Out.String(), "priority 0") {
					// keepalived logs "Backup received priority 0 advertisement".
					t.Errorf("keepalived did not log vigil's priority 0 advert:\n%s", ka.Out.String())
				}
				noDrops(t, n)
				ka.kill(syscall.SIGTERM)
				if bad := ka.complaints(); len(bad) > 0 {
					t.Errorf("keepalived complained:\n%s", strings.Join(bad, "\n"))
				}
			})
		}
	}
}
