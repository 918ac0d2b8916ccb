//go:build linux

package bgp_test

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
)

// FRR's zebra and bgpd (Debian frr) as the upstream router: eBGP with
// both boxes (AS 64513), multipath, timers 1/3, and RFC 8326's receiver
// policy (GRACEFUL_SHUTDOWN → LOCAL_PREF 0).

const frrDir = "/usr/lib/frr"

type frrRouter struct {
	t     *testing.T
	dir   string
	procs []*nstest.Daemon
}

// bgpdConf is bgpd's configuration for router r and the boxes; redist
// adds "redistribute static" (the benchmark's reference withdrawal).
func bgpdConf(r *nstest.Host, boxes []*nstest.Host, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "frr defaults datacenter\nhostname bgpd-%s\nlog stdout informational\n!\n", r.Name)
	b.WriteString("bgp community-list standard GSHUT permit graceful-shutdown\n")
	b.WriteString("route-map BOXES permit 10\n match community GSHUT\n set local-preference 0\n!\nroute-map BOXES permit 20\n!\n")
	fmt.Fprintf(&b, "router bgp 64512\n bgp router-id %s\n no bgp ebgp-requires-policy\n", r.Addr4.Addr())
	for _, h := range boxes {
		for _, a := range []netip.Addr{h.Addr4.Addr(), h.Addr6.Addr()} {
			fmt.Fprintf(&b, " neighbor %s remote-as external\n neighbor %s timers 1 3\n neighbor %s timers connect 1\n neighbor %s password %s\n",
				a, a, a, a, nsPassword)
		}
	}
	b.WriteString(" address-family ipv4 unicast\n  maximum-paths 8\n")
	for _, h := range boxes {
		fmt.Fprintf(&b, "  neighbor %s route-map BOXES in\n  no neighbor %s activate\n", h.Addr4.Addr(), h.Addr6.Addr())
	}
	b.WriteString(" exit-address-family\n address-family ipv6 unicast\n  maximum-paths 8\n")
	for _, h := range boxes {
		fmt.Fprintf(&b, "  neighbor %s activate\n  neighbor %s route-map BOXES in\n", h.Addr6.Addr(), h.Addr6.Addr())
	}
	b.WriteString(" exit-address-family\n" + extra + "!\n")
	return b.String()
}

// startFRR runs zebra and bgpd on r; both stop (by PID) in t.Cleanup.
func startFRR(t *testing.T, r *nstest.Host, conf string) *frrRouter {
	t.Helper()
	nstest.NeedTools(t, filepath.Join(frrDir, "zebra"), filepath.Join(frrDir, "bgpd"), "vtysh")
	dir, err := os.MkdirTemp("", "frr") // socket paths must fit sun_path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &frrRouter{t: t, dir: dir}
	f.start("zebra", fmt.Sprintf("hostname zebra-%s\nlog stdout informational\n", r.Name), r, filepath.Join(dir, "zserv.api"))
	f.start("bgpd", conf, r, filepath.Join(dir, "bgpd.vty"))
	return f
}

func (f *frrRouter) start(name, conf string, r *nstest.Host, ready string) {
	t := f.t
	t.Helper()
	cf := filepath.Join(f.dir, name+".conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d := nstest.StartDaemon(t, r, name, filepath.Join(frrDir, name),
		"-u", "root", "-g", nstest.FRRGroup(), "-f", cf, "-i", filepath.Join(f.dir, name+".pid"),
		"-z", filepath.Join(f.dir, "zserv.api"), "--vty_socket", f.dir)
	f.procs = append(f.procs, d)
	t.Cleanup(func() {
		pid := d.Cmd.Process.Pid
		d.Stop(syscall.SIGTERM)
		os.RemoveAll(fmt.Sprintf("/var/tmp/frr/%s.%d", name, pid))
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			return
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

// vtysh runs commands against bgpd.
func (f *frrRouter) vtysh(cmds ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	args := []string{"--vty_socket", f.dir, "-d", "bgpd"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.CommandContext(ctx, nstest.NeedTools(f.t, "vtysh")[0], args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("vtysh %s: %w: %s", strings.Join(cmds, "; "), err, out)
	}
	return string(out), nil
}

func (f *frrRouter) paths(t *testing.T, prefix netip.Prefix) []upPath {
	t.Helper()
	fam := "ipv4"
	if prefix.Addr().Is6() {
		fam = "ipv6"
	}
	out, err := f.vtysh(fmt.Sprintf("show bgp %s unicast %s json", fam, prefix))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Paths []struct {
			MED       uint32 `json:"metric"` // FRR's name of the MED
			LocPrf    uint32 `json:"locPrf"`
			Community struct {
				String string `json:"string"`
			} `json:"community"`
			Nexthops []struct {
				IP string `json:"ip"`
			} `json:"nexthops"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("show bgp json: %v: %s", err, out)
	}
	var ps []upPath
	for _, p := range v.Paths {
		up := upPath{MED: p.MED, LocalPref: p.LocPrf, Communities: p.Community.String,
			GraceShut: strings.Contains(p.Community.String, "graceful-shutdown")}
		if len(p.Nexthops) > 0 {
			up.NextHop, _ = netip.ParseAddr(p.Nexthops[0].IP)
		}
		ps = append(ps, up)
	}
	return ps
}

func (f *frrRouter) log() string {
	var b strings.Builder
	for _, d := range f.procs {
		fmt.Fprintf(&b, "--- %s\n%s\n", d.Name, d.Out.String())
	}
	return b.String()
}

// TestFRR: FRR's bgpd as the upstream router of two boxes (runAnycast).
func TestFRR(t *testing.T) {
	g := newNSRig(t, func(t *testing.T, r *nstest.Host, boxes []*nstest.Host) upstream {
		return startFRR(t, r, bgpdConf(r, boxes, ""))
	})
	runAnycast(t, g)
}
