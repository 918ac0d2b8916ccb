package vigildcmd

import (
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/internal/memtrim"
	"github.com/vigil-ha/vigil/vigiltest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestDaemonInMemory runs vigild's real Supervisor (On) on vigiltest's
// in-memory platform: the instance becomes master, a SIGHUP reload
// changes it in place, and SIGTERM stops it.
func TestDaemonInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sup Supervisor
		build := func(cfg vigil.Config, o BuildOptions) (Supervisor, error) {
			p, err := vigiltest.New(vigiltest.Config{Hub: vrrptest.NewHub(1), Addr4: netip.MustParseAddr("192.0.2.1")})
			if err != nil {
				return nil, err
			}
			sup, err = On(p, cfg)
			return sup, err
		}
		h := startDaemon(t, build)
		time.Sleep(5 * time.Second) // virtual: the Master_Down_Timer runs out
		synctest.Wait()
		st := sup.State()
		if len(st.Instances) != 1 || st.Instances[0].State != "MASTER" {
			t.Fatalf("state %+v", st.Instances)
		}
		if n := testutil.CollectAndCount(sup.Collector(), "vigil_instance_state"); n == 0 {
			t.Error("no vigil_instance_state from the collector")
		}
		h.install("small2.conf")
		h.sigs <- syscall.SIGHUP
		h.wantNote("RELOADING=1\nMONOTONIC_USEC=12345\nSTATUS=reloading")
		h.wantNote("READY=1\nSTATUS=running")
		if st := sup.State(); st.Instances[0].Priority != 120 || st.Instances[0].State != "MASTER" {
			t.Errorf("after the reload: %+v", st.Instances)
		}
		if c := h.stop(); c != ExitOK {
			t.Errorf("exit %d", c)
		}
		log := h.stderr.String()
		for _, w := range []string{"(VI_1) Entering BACKUP STATE", "(VI_1) Entering MASTER STATE", `msg="Reload finished" changes="instances changed VI_1"`, "(VI_1) Entering STOP STATE"} {
			if !strings.Contains(log, w) {
				t.Errorf("log lacks %q:\n%s", w, log)
			}
		}
		// One line a transition, keepalived's: the routers' own goes to
		// Debug, before the reload and after it (the STOP).
		if n := strings.Count(log, "vrrp: transition"); n != 0 {
			t.Errorf("%d router transition lines besides keepalived's, want none:\n%s", n, log)
		}
	})
}

// TestDaemonTrims: vigild gives its idle heap back once its start has
// settled (memtrim.DefaultDelay after the last transition), and again
// after a reload; not while transitions go on. From the first
// transition of a spell to its trim the collector's target is
// SpellGCPercent; at the trim, and after vigild stops, it is back.
func TestDaemonTrims(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var trims []time.Duration
		var mu sync.Mutex
		gc, atTrim := 100, []int(nil)
		setGC := func(p int) int {
			mu.Lock()
			defer mu.Unlock()
			old := gc
			gc = p
			return old
		}
		getGC := func() int {
			mu.Lock()
			defer mu.Unlock()
			return gc
		}
		start := time.Now()
		build := func(cfg vigil.Config, o BuildOptions) (Supervisor, error) {
			p, err := vigiltest.New(vigiltest.Config{Hub: vrrptest.NewHub(1), Addr4: netip.MustParseAddr("192.0.2.1")})
			if err != nil {
				return nil, err
			}
			return On(p, cfg)
		}
		h := startDaemonEnv(t, build, func(e *Env) {
			e.Trim = func() { trims = append(trims, time.Since(start)); atTrim = append(atTrim, getGC()) }
			e.SetGCPercent = setGC
		})
		// BACKUP at once, MASTER when the Master_Down_Timer runs out
		// (3 x 1 s + skew): the trim comes 10 s after that, not before.
		time.Sleep(4 * time.Second)
		synctest.Wait()
		master := time.Since(start)
		if !strings.Contains(h.stderr.String(), "(VI_1) Entering MASTER STATE") {
			t.Fatalf("not master after %v:\n%s", master, h.stderr)
		}
		if g := getGC(); g != SpellGCPercent {
			t.Errorf("collector target %d in the start's spell, want %d", g, SpellGCPercent)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if len(trims) != 1 || trims[0] < 13*time.Second || trims[0] > 14*time.Second {
			t.Fatalf("trims at %v, want one 10 s after the last transition (master by %v)", trims, master)
		}
		h.install("small2.conf")
		reload := time.Since(start)
		h.sigs <- syscall.SIGHUP
		h.wantNote("RELOADING=1\nMONOTONIC_USEC=12345\nSTATUS=reloading")
		h.wantNote("READY=1\nSTATUS=running")
		time.Sleep(time.Minute)
		synctest.Wait()
		if len(trims) != 2 || trims[1] != reload+memtrim.DefaultDelay {
			t.Fatalf("trims at %v, want a second at %v (10 s after the reload at %v)", trims, reload+memtrim.DefaultDelay, reload)
		}
		if !slices.Equal(atTrim, []int{100, 100}) {
			t.Errorf("collector targets at the trims %v, want [100 100]", atTrim)
		}
		h.sigs <- syscall.SIGHUP // a spell that vigild's stop ends
		h.wantNote("RELOADING=1\nMONOTONIC_USEC=12345\nSTATUS=reloading")
		h.wantNote("READY=1\nSTATUS=running")
		if c := h.stop(); c != ExitOK {
			t.Errorf("exit %d", c)
		}
		if g := getGC(); g != 100 {
			t.Errorf("collector target %d after vigild stopped, want 100", g)
		}
	})
}

// TestBinaryConfigTest builds cmd/vigild and runs -t on samples, as an
// operator would (any user).
func TestBinaryConfigTest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "vigild")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/vigild").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for file, want := range map[string]int{"good.conf": 0, "errors.conf": 5, "fatal.conf": 4, "missing.conf": 4} {
		cmd := exec.Command(bin, "-t", "-f", filepath.Join("testdata", file))
		out, err := cmd.CombinedOutput()
		code := cmd.ProcessState.ExitCode()
		if code != want {
			t.Errorf("vigild -t -f %s: exit %d (%v), want %d\n%s", file, code, err, want, out)
		}
	}
	out, _ := exec.Command(bin, "--release-vips").CombinedOutput()
	if !strings.Contains(string(out), "not supported by vigild: -X/--release-vips") {
		t.Errorf("--release-vips: %s", out)
	}
}
