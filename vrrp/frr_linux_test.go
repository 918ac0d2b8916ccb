//go:build linux

package vrrp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/vrrp"
)

// Interop with FRR's vrrpd (Debian package frr): zebra and vrrpd run in a
// namespace host of an nstest segment, each with its own config file, pid
// file, zserv socket and vty socket directory; the virtual router uses a
// macvlan carrying the VRRP virtual MAC and the VIPs, as FRR's user guide
// (VRRP chapter) requires.

const (
	frrDir   = "/usr/lib/frr"
	frrVRID  = 51
	frrIface = "eth0"
)

// frrUnavailable skips t for why, or fails it when VIGIL_REQUIRE_NETNS=1.
func frrUnavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("VIGIL_REQUIRE_NETNS") == "1" {
		t.Fatalf("%s, and VIGIL_REQUIRE_NETNS=1", why)
	}
	t.Skip(why)
}

// requireFRR checks for namespaces and FRR's zebra, vrrpd and vtysh.
func requireFRR(t *testing.T) {
	t.Helper()
	nstest.Require(t)
	nstest.NeedTools(t, filepath.Join(frrDir, "zebra"), filepath.Join(frrDir, "vrrpd"), "vtysh")
}

type frrCase struct {
	name    string
	version vrrp.Version
	v6      bool
	ival    time.Duration
}

var frrCases = []frrCase{
	{"v3_ipv4", vrrp.V3, false, 100 * time.Millisecond},
	{"v3_ipv6", vrrp.V3, true, 100 * time.Millisecond},
	// FRR's VRRPv2 carries the interval in whole seconds (and checks it
	// against its own, like vigil).
	{"v2_ipv4", vrrp.V2, false, time.Second},
}

func (c frrCase) vips() []netip.Prefix {
	if c.v6 {
		return []netip.Prefix{netip.MustParsePrefix("2001:db8::100/64"), netip.MustParsePrefix("2001:db8::101/64")}
	}
	return []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24"), netip.MustParsePrefix("192.0.2.101/24")}
}

// family is FRR's name of the address family in its log lines.
func (c frrCase) family() string {
	if c.v6 {
		return "IPv6"
	}
	return "IPv4"
}

func (c frrCase) vigilConfig(h *nstest.Host, prio uint8) vrrp.Config {
	return vrrp.Config{Name: "vigil-" + h.Name, VRID: frrVRID, Version: c.version, Priority: prio,
		Interval: c.ival, VIPs: c.vips()}
}

// vrrpdConf is vrrpd's configuration: debug logs (packet decodes and
// validation failures) to stdout with millisecond timestamps, and the
// virtual router on eth0.
func (c frrCase) vrrpdConf(h *nstest.Host, prio uint8) string {
	var b strings.Builder
	fmt.Fprintf(&b, "hostname vrrpd-%s\nlog stdout debugging\nlog timestamp precision 3\n", h.Name)
	b.WriteString("debug vrrp protocol\ndebug vrrp packets\n!\n")
	fmt.Fprintf(&b, "interface %s\n", frrIface)
	fmt.Fprintf(&b, " vrrp %d version %d\n", frrVRID, c.version)
	fmt.Fprintf(&b, " vrrp %d priority %d\n", frrVRID, prio)
	fmt.Fprintf(&b, " vrrp %d advertisement-interval %d\n", frrVRID, c.ival.Milliseconds())
	for _, p := range c.vips() {
		kw := "ip"
		if c.v6 {
			kw = "ipv6"
		}
		fmt.Fprintf(&b, " vrrp %d %s %s\n", frrVRID, kw, p.Addr())
	}
	b.WriteString("!\n")
	return b.String()
}

// frrDaemon is one FRR daemon process.
type frrDaemon struct{ *nstest.Daemon }

// kill sends sig and waits (bounded) for the daemon to exit; SIGKILL
// follows if it does not. A crashed or killed FRR daemon leaves its
// crash-log directory /var/tmp/frr/<daemon>.<pid>; it is removed.
func (d *frrDaemon) kill(sig syscall.Signal) {
	if d.Exited() {
		return
	}
	pid := d.Cmd.Process.Pid
	d.Stop(sig)
	os.RemoveAll(fmt.Sprintf("/var/tmp/frr/%s.%d", d.Name, pid))
}

// frr is FRR's zebra and vrrpd on one namespace host.
type frr struct {
	t            *testing.T
	h            *nstest.Host
	c            frrCase
	dir          string
	zebra, vrrpd *frrDaemon
}

// socketDir returns a directory for FRR's files whose socket paths fit
// sun_path (108 bytes): t.TempDir() unless that is too long.
func socketDir(t *testing.T) string {
	dir := t.TempDir()
	if len(dir)+len("/zserv.api") < 100 {
		return dir
	}
	dir, err := os.MkdirTemp("", "frr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// addVMAC creates the macvlan FRR's virtual router needs on h: the VRRP
// virtual MAC, a random (not EUI-64) link-local address, the VIPs.
func addVMAC(t *testing.T, h *nstest.Host, c frrCase) {
	t.Helper()
	fam, mac := 4, fmt.Sprintf("00:00:5e:00:01:%02x", frrVRID)
	if c.v6 {
		fam, mac = 6, fmt.Sprintf("00:00:5e:00:02:%02x", frrVRID)
	}
	name := fmt.Sprintf("vrrp%d-%d", fam, frrVRID)
	ipn := func(args ...string) error {
		_, err := nstest.Run(append([]string{"ip", "-n", h.Name}, args...)...)
		return err
	}
	if err := ipn("link", "add", name, "link", frrIface, "type", "macvlan", "mode", "bridge"); err != nil {
		frrUnavailable(t, fmt.Sprintf("FRR's VRRP needs macvlan interfaces (CONFIG_MACVLAN): %v", err))
	}
	// iproute2 6.1 on Linux 6.x rejects addrgenmode in "ip link add" for a
	// macvlan (EAFNOSUPPORT); setting it before the link is up works.
	steps := [][]string{
		{"link", "set", name, "addrgenmode", "random"},
		{"link", "set", name, "address", mac},
	}
	for _, p := range c.vips() {
		steps = append(steps, []string{"addr", "add", p.String(), "dev", name, "nodad"})
	}
	steps = append(steps, []string{"link", "set", name, "up"})
	for _, s := range steps {
		if err := ipn(s...); err != nil {
			t.Fatal(err)
		}
	}
}

// startFRR configures the macvlan and runs zebra and vrrpd on h with the
// virtual router of c at priority prio. Both daemons are stopped (by PID)
// in t.Cleanup, and their logs shown if t failed.
func startFRR(t *testing.T, h *nstest.Host, c frrCase, prio uint8) *frr {
	t.Helper()
	requireFRR(t)
	addVMAC(t, h, c)
	f := &frr{t: t, h: h, c: c, dir: socketDir(t)}
	zconf := fmt.Sprintf("hostname zebra-%s\nlog stdout informational\n", h.Name)
	f.zebra = f.start("zebra", zconf, filepath.Join(f.dir, "zserv.api"))
	f.vrrpd = f.start("vrrpd", c.vrrpdConf(h, prio), filepath.Join(f.dir, "vrrpd.vty"))
	return f
}

// start runs daemon name with config conf and waits (bounded) until it
// has created ready (a socket).
func (f *frr) start(name, conf, ready string) *frrDaemon {
	t := f.t
	t.Helper()
	cf := filepath.Join(f.dir, name+".conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &frrDaemon{nstest.StartDaemon(t, f.h, name, filepath.Join(frrDir, name),
		"-u", "root", "-g", nstest.FRRGroup(), "-f", cf, "-i", filepath.Join(f.dir, name+".pid"),
		"-z", filepath.Join(f.dir, "zserv.api"), "--vty_socket", f.dir)}
	t.Cleanup(func() { d.kill(syscall.SIGTERM) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			return d
		}
		if d.Exited() {
			t.Fatalf("%s exited at start:\n%s", name, d.Out.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %s within 10s:\n%s", name, ready, d.Out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// source is the address FRR's adverts come from: the primary IPv4 address
// of eth0, or the (random) link-local address of the IPv6 macvlan. (FRR's
// own `show vrrp` may say "::" for IPv6: when vrrpd learns of the macvlan's
// link-local address after the interface, it logs "Failed to find address
// to bind" and sends from the unbound socket, which the kernel sources from
// that same address.)
func (f *frr) source() netip.Addr {
	f.t.Helper()
	if !f.c.v6 {
		return f.h.Addr4.Addr()
	}
	dev := fmt.Sprintf("vrrp6-%d", frrVRID)
	out := nstest.MustRun(f.t, "ip", "-n", f.h.Name, "-6", "-o", "addr", "show", "dev", dev, "scope", "link")
	for _, w := range strings.Fields(out) {
		if p, err := netip.ParsePrefix(w); err == nil && p.Addr().IsLinkLocalUnicast() {
			return p.Addr()
		}
	}
	f.t.Fatalf("%s on %s has no link-local address: %s", dev, f.h.Name, out)
	return netip.Addr{}
}

// vtysh runs FRR commands against this vrrpd.
func (f *frr) vtysh(cmds ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	args := []string{"--vty_socket", f.dir, "-d", "vrrpd"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.CommandContext(ctx, "vtysh", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("vtysh %s: %w: %s", strings.Join(cmds, "; "), err, out)
	}
	return string(out), nil
}

// frrRouter is one address family of a virtual router in `show vrrp json`.
type frrRouter struct {
	Interface      string   `json:"interface"`
	PrimaryAddress string   `json:"primaryAddress"`
	Status         string   `json:"status"`
	Addresses      []string `json:"addresses"`
	// SkewTime and MasterDownInterval are in milliseconds.
	SkewTime           int `json:"skewTime"`
	MasterDownInterval int `json:"masterDownInterval"`
	Stats              struct {
		AdverTx     int `json:"adverTx"`
		AdverRx     int `json:"adverRx"`
		Transitions int `json:"transitions"`
	} `json:"stats"`
}

// show returns FRR's view of our address family of the virtual router.
func (f *frr) show() (frrRouter, error) {
	out, err := f.vtysh(fmt.Sprintf("show vrrp interface %s %d json", frrIface, frrVRID))
	if err != nil {
		return frrRouter{}, err
	}
	var vrs []struct {
		VRID int       `json:"vrid"`
		V4   frrRouter `json:"v4"`
		V6   frrRouter `json:"v6"`
	}
	if err := json.Unmarshal([]byte(out), &vrs); err != nil {
		return frrRouter{}, fmt.Errorf("show vrrp json: %w: %s", err, out)
	}
	if len(vrs) != 1 || vrs[0].VRID != frrVRID {
		return frrRouter{}, fmt.Errorf("show vrrp json: want VRID %d only: %s", frrVRID, out)
	}
	if f.c.v6 {
		return vrs[0].V6, nil
	}
	return vrs[0].V4, nil
}

func (f *frr) mustShow() frrRouter {
	f.t.Helper()
	r, err := f.show()
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// awaitStatus waits (bounded) until FRR shows status want.
func (f *frr) awaitStatus(want string, limit time.Duration) frrRouter {
	f.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		r, err := f.show()
		if err == nil && r.Status == want {
			return r
		}
		if f.vrrpd.Exited() || time.Now().After(deadline) {
			f.t.Fatalf("FRR on %s: not %s within %v (%+v, %v)", f.h.Name, want, limit, r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// transition is the log line vrrpd writes when our address family of the
// virtual router changes state.
func (f *frr) transition(from, to string) string {
	return fmt.Sprintf("[VRID %d] [%s] %s -> %s", frrVRID, f.c.family(), from, to)
}

// awaitLog waits (bounded) until vrrpd has logged s, and returns the time
// stamped on that line (millisecond precision), or the time it was seen.
func (f *frr) awaitLog(s string, limit time.Duration) time.Time {
	f.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		for _, l := range strings.Split(f.vrrpd.Out.String(), "\n") {
			if strings.Contains(l, s) {
				if len(l) >= 23 {
					if ts, err := time.ParseInLocation("2006/01/02 15:04:05.000", l[:23], time.Local); err == nil {
						return ts
					}
				}
				return time.Now()
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("vrrpd on %s did not log %q within %v:\n%s", f.h.Name, s, limit, f.vrrpd.Out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// complaints returns vrrpd's log lines that say it disliked a packet or
// hit an internal inconsistency.
func (f *frr) complaints() []string {
	return linesWith(f.vrrpd.Out.String(), "invalid", "mismatch", "bad ", "wrong", "discard", "does not match", "unequal",
		"addresses, but this vrrp instance has", "this is a bug")
}

func (f *frr) checkComplaints() {
	f.t.Helper()
	if bad := f.complaints(); len(bad) > 0 {
		f.t.Errorf("vrrpd on %s complained:\n%s", f.h.Name, strings.Join(bad, "\n"))
	}
}

// FRR master (priority 150), vigil backup (100): vigil accepts FRR's
// adverts, then takes over when FRR stops (SIGTERM to vrrpd, `vrrp 51
// shutdown` or `no vrrp 51`: all three send priority 0, so vigil takes over
// after its Skew_Time) or crashes (SIGKILL: after Master_Down_Interval).
func TestFRRMaster(t *testing.T) {
	requireFRR(t)
	for _, c := range frrCases {
		stops := []string{"sigterm", "shutdown", "no-vrrp", "sigkill"}
		if c.version == vrrp.V2 {
			stops = []string{"sigterm", "sigkill"} // 1 s adverts: keep the run short
		}
		for _, stop := range stops {
			t.Run(c.name+"/"+stop, func(t *testing.T) {
				t.Parallel()
				seg := nstest.NewSegment(t, 2)
				fh, vh := seg.Hosts[0], seg.Hosts[1]
				f := startFRR(t, fh, c, 150)
				// FRR starts as Backup and becomes Master after its
				// Master_Down_Interval.
				f.awaitLog(f.transition("Backup", "Master"), 10*c.ival+5*time.Second)
				fr := f.mustShow()
				n := startReal(t, vh, c.vigilConfig(vh, 100), vrrp.ConnConfig{})
				n.await(t, vrrp.Backup, 2*time.Second)
				time.Sleep(3 * c.ival) // adverts flow; vigil must stay Backup
				st := n.r.Status()
				if st.State != vrrp.Backup || n.r.Stats().AdvertsReceived == 0 {
					t.Fatalf("vigil: state %v, stats %+v", st.State, n.r.Stats())
				}
				if want := f.source(); st.Master != want {
					t.Errorf("vigil sees master %v, want FRR's source %v (FRR shows %q)", st.Master, want, fr.PrimaryAddress)
				}
				if st.MasterAdverInterval != c.ival {
					t.Errorf("vigil learned interval %v, want %v", st.MasterAdverInterval, c.ival)
				}
				stopped := time.Now() // for shutdown and no-vrrp, vtysh's run time counts too
				switch stop {
				case "sigterm":
					f.vrrpd.kill(syscall.SIGTERM)
				case "shutdown", "no-vrrp":
					cmd := fmt.Sprintf("vrrp %d shutdown", frrVRID)
					if stop == "no-vrrp" {
						cmd = fmt.Sprintf("no vrrp %d", frrVRID)
					}
					if _, err := f.vtysh("configure terminal", "interface "+frrIface, cmd); err != nil {
						t.Fatal(err)
					}
				case "sigkill":
					f.vrrpd.kill(syscall.SIGKILL)
				}
				took := n.await(t, vrrp.Master, 10*c.ival+2*time.Second).Sub(stopped)
				t.Logf("vigil took over %v after FRR's %s (vigil's Skew_Time %v, Master_Down_Interval %v)",
					took.Round(time.Millisecond), stop, 156*c.ival/256, 3*c.ival+156*c.ival/256)
				if stop == "sigkill" && took < 2*c.ival {
					// At most one interval passed between FRR's last advert and the kill.
					t.Errorf("vigil took over %v after the crash: before Master_Down_Interval", took)
				}
				zero := n.r.Stats().PriorityZeroRx
				if graceful := stop != "sigkill"; graceful != (zero == 1) {
					t.Errorf("priority 0 adverts heard: %d", zero)
				}
				switch stop {
				case "shutdown":
					if r := f.mustShow(); r.Status != "Initialize" {
						t.Errorf("FRR after shutdown: %+v", r)
					}
				case "no-vrrp":
					if _, err := f.show(); err == nil {
						t.Error("FRR still shows the virtual router after `no vrrp`")
					}
				}
				if stop == "shutdown" || stop == "no-vrrp" {
					// vrrpd keeps running and hears vigil's adverts now.
					time.Sleep(3 * c.ival)
				}
				noDrops(t, n)
				f.vrrpd.kill(syscall.SIGTERM)
				f.checkComplaints()
			})
		}
	}
}

// vigil master (150), FRR backup (100): FRR shows Backup while vigil
// advertises, then becomes Master when vigil stops (priority 0: after
// FRR's Skew_Time) or crashes (link down: after Master_Down_Interval).
func TestFRRVigilMaster(t *testing.T) {
	requireFRR(t)
	for _, c := range frrCases {
		for _, stop := range []string{"graceful", "crash"} {
			t.Run(c.name+"/"+stop, func(t *testing.T) {
				t.Parallel()
				seg := nstest.NewSegment(t, 2)
				vh, fh := seg.Hosts[0], seg.Hosts[1]
				n := startReal(t, vh, c.vigilConfig(vh, 150), vrrp.ConnConfig{})
				n.await(t, vrrp.Master, 10*c.ival+2*time.Second)
				f := startFRR(t, fh, c, 100)
				f.awaitStatus("Backup", 5*time.Second)
				// Several of vigil's adverts must keep FRR Backup for longer
				// than its Master_Down_Interval.
				time.Sleep(5*c.ival + 500*time.Millisecond)
				r := f.mustShow()
				if r.Status != "Backup" || strings.Contains(f.vrrpd.Out.String(), "-> Master") {
					t.Fatalf("FRR left Backup while vigil advertised: %+v\n%s", r, f.vrrpd.Out.String())
				}
				if r.Stats.AdverRx == 0 {
					t.Fatalf("FRR received none of vigil's adverts: %+v", r)
				}
				t.Logf("FRR Backup with %d of vigil's adverts received", r.Stats.AdverRx)
				if stop == "crash" {
					if err := vh.SetLink(false); err != nil {
						t.Fatal(err)
					}
				}
				stopped := time.Now()
				n.stop()
				took := f.awaitLog(f.transition("Backup", "Master"), 10*c.ival+2*time.Second).Sub(stopped)
				f.awaitStatus("Master", 2*time.Second)
				t.Logf("FRR took over %v after vigil's %s stop (FRR's Skew_Time %d ms, Master_Down_Interval %d ms)",
					took.Round(time.Millisecond), stop, r.SkewTime, r.MasterDownInterval)
				if stop == "crash" && took < 2*c.ival {
					t.Errorf("FRR took over %v after the crash: before Master_Down_Interval", took)
				}
				heardZero := strings.Contains(f.vrrpd.Out.String(), "priority 0,")
				if (stop == "graceful") != heardZero {
					t.Errorf("vrrpd logged vigil's priority 0 advert: %v, want %v", heardZero, stop == "graceful")
				}
				noDrops(t, n)
				f.vrrpd.kill(syscall.SIGTERM)
				f.checkComplaints()
			})
		}
	}
}
