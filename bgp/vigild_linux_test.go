//go:build linux

package bgp_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// TestVigildFRR: vigild itself, started on box 1 with a keepalived.conf
// holding a bgp block (its VIP gated on a VRRP instance), peers with
// FRR's bgpd; the route reaches FRR's RIB once the instance is MASTER,
// and SIGTERM makes vigild drain it (GRACEFUL_SHUTDOWN and the drain MED
// seen by FRR) before withdrawing it, drain_time later; vigild status
// shows the session established and the route announced. In one
// process, and with --process-model=keepalived (the VRRP child runs the
// speaker; status asks it through the parent).
func TestVigildFRR(t *testing.T) {
	for _, model := range []string{"single", "keepalived"} {
		t.Run(model, func(t *testing.T) { testVigildFRR(t, model) })
	}
}

func testVigildFRR(t *testing.T, model string) {
	g := newNSRig(t, func(t *testing.T, r *nstest.Host, boxes []*nstest.Host) upstream {
		return startFRR(t, r, bgpdConf(r, boxes, ""))
	})
	bin := nstest.GoBuild(t, "github.com/vigil-ha/vigil/cmd/vigild")
	box := g.boxes[0]
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	text := fmt.Sprintf(`vrrp_instance VI_1 {
    interface eth0
    state MASTER
    virtual_router_id 51
    priority 200
    advert_int 1
    virtual_ipaddress {
        198.18.5.5/32
    }
}
bgp {
    router_id %s
    asn 64513
    drain_time %d
    drain_med 500
    neighbor %s {
        remote_as 64512
        password %s
        hold_time %d
        keepalive 1
        connect_retry 1
    }
    vip %s {
        instance VI_1
    }
}
`, box.Addr4.Addr(), int(nsDrain/time.Second), g.r.Addr4.Addr(), nsPassword, int(nsHold/time.Second), nsVIP)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "ctl.sock")
	d := nstest.StartDaemon(t, box, "vigild", bin, "-n", "-l", "-f", conf,
		"-p", filepath.Join(dir, "k.pid"), "-r", filepath.Join(dir, "v.pid"), "-c", filepath.Join(dir, "c.pid"),
		"--control-socket", sock, "--process-model", model)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vigild's log:\n%s", d.Out.String())
		}
	})
	b1addr := box.Addr4.Addr()
	g.waitPaths(t, "vigild's path", hopsAre(b1addr))
	if !strings.Contains(d.Out.String(), "MASTER") {
		t.Errorf("the path came before VI_1 became MASTER:\n%s", d.Out.String())
	}
	status, err := exec.Command(bin, "status", "--control-socket", sock).CombinedOutput()
	peerRow := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(g.r.Addr4.Addr().String()) + `\s+64512\s+established$`)
	vipRow := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(nsVIP.String()) + `\s+yes$`)
	if err != nil || !peerRow.Match(status) || !vipRow.Match(status) {
		t.Errorf("vigild status: want the session established and the VIP announced: %v\n%s", err, status)
	}

	d.Signal(syscall.SIGTERM)
	start := time.Now()
	g.waitPaths(t, "vigild's draining path", func(ps []upPath) bool {
		for _, p := range ps {
			if p.NextHop == b1addr && p.GraceShut && p.MED == 500 && p.LocalPref == 0 {
				return true
			}
		}
		return false
	})
	g.waitPaths(t, "vigild's path withdrawn after the drain", hopsAre())
	if el := time.Since(start); el < nsDrain {
		t.Errorf("the path was withdrawn %v after SIGTERM, before drain_time %v", el, nsDrain)
	}
	d.Stop(syscall.SIGTERM) // waits for the exit
	if code := d.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("vigild exited %d", code)
	}
	out := d.Out.String()
	drain, stop := strings.Index(out, "Draining BGP"), strings.Index(out, "Stopped vigild")
	if drain < 0 || stop < drain {
		t.Errorf("want the drain logged before the stop:\n%s", out)
	}
	if model == "keepalived" {
		inVRRP := false
		for _, line := range strings.Split(out, "\n") {
			inVRRP = inVRRP || strings.Contains(line, "BGP speaker started") && strings.Contains(line, "process=vrrp")
		}
		if !inVRRP {
			t.Errorf("the VRRP child did not start the speaker:\n%s", out)
		}
	}
}
