//go:build linux

package bgp_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// BIRD 2 (Debian bird2) as the upstream router: eBGP with both boxes
// (IPv4 and IPv6 sessions),
// hold 3 s / keepalive 1 s, equal routes merged into one multipath kernel
// route, and RFC 8326's receiver policy in the import filter.

type birdRouter struct {
	t    *testing.T
	sock string
	d    *nstest.Daemon
}

func birdConf(r *nstest.Host, boxes []*nstest.Host) string {
	var b strings.Builder
	fmt.Fprintf(&b, "router id %s;\nlog stderr all;\n", r.Addr4.Addr())
	b.WriteString("protocol device { scan time 10; }\n")
	b.WriteString("protocol kernel { ipv4 { import none; export all; }; merge paths on; }\n")
	b.WriteString("protocol kernel { ipv6 { import none; export all; }; merge paths on; }\n")
	b.WriteString("filter boxes_in { if (65535, 0) ~ bgp_community then bgp_local_pref = 0; accept; }\n")
	fmt.Fprintf(&b, "template bgp box { local as 64512; hold time 3; keepalive time 1; connect retry time 1; password \"%s\"; }\n", nsPassword)
	for i, h := range boxes {
		fmt.Fprintf(&b, "protocol bgp box%d from box { neighbor %s as 64513; ipv4 { import filter boxes_in; export none; }; }\n", i+1, h.Addr4.Addr())
		fmt.Fprintf(&b, "protocol bgp box%d6 from box { neighbor %s as 64513; ipv6 { import filter boxes_in; export none; }; }\n", i+1, h.Addr6.Addr())
	}
	return b.String()
}

// startBIRD runs bird on r; it stops (by PID) in t.Cleanup.
func startBIRD(t *testing.T, r *nstest.Host, conf string) *birdRouter {
	t.Helper()
	nstest.NeedTools(t, "bird", "birdc")
	dir, err := os.MkdirTemp("", "bird") // the socket path must fit sun_path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cf := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &birdRouter{t: t, sock: filepath.Join(dir, "bird.ctl")}
	b.d = nstest.StartDaemon(t, r, "bird", "bird", "-f", "-c", cf, "-s", b.sock, "-P", filepath.Join(dir, "bird.pid"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(b.sock); err == nil {
			return b
		}
		if b.d.Exited() {
			t.Fatalf("bird exited at start:\n%s", b.d.Out.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("bird: no control socket within 10s:\n%s", b.d.Out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (b *birdRouter) birdc(cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, nstest.NeedTools(b.t, "birdc")[0], "-s", b.sock, cmd).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("birdc %s: %w: %s", cmd, err, out)
	}
	return string(out), nil
}

// paths parses `show route PREFIX all`: each "via" line starts a path,
// the BGP attribute lines after it belong to it.
func (b *birdRouter) paths(t *testing.T, prefix netip.Prefix) []upPath {
	t.Helper()
	out, err := b.birdc("show route " + prefix.String() + " all")
	if strings.Contains(out, "Network not found") { // with exit status 1
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var ps []upPath
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "via":
			a, err := netip.ParseAddr(f[1])
			if err != nil {
				t.Fatalf("birdc: %q: %v", line, err)
			}
			ps = append(ps, upPath{NextHop: a})
		case len(ps) == 0 || len(f) < 2:
		case f[0] == "BGP.med:":
			n, _ := strconv.ParseUint(f[1], 10, 32)
			ps[len(ps)-1].MED = uint32(n)
		case f[0] == "BGP.local_pref:":
			n, _ := strconv.ParseUint(f[1], 10, 32)
			ps[len(ps)-1].LocalPref = uint32(n)
		case f[0] == "BGP.community:":
			c := strings.Join(f[1:], " ")
			ps[len(ps)-1].Communities = c
			ps[len(ps)-1].GraceShut = strings.Contains(c, "(65535,0)")
		}
	}
	return ps
}

func (b *birdRouter) log() string { return b.d.Out.String() }

// TestBIRD: BIRD 2 as the upstream router of two boxes (runAnycast).
func TestBIRD(t *testing.T) {
	g := newNSRig(t, func(t *testing.T, r *nstest.Host, boxes []*nstest.Host) upstream {
		return startBIRD(t, r, birdConf(r, boxes))
	})
	runAnycast(t, g)
}
