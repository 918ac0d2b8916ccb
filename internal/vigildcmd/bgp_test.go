package vigildcmd

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"

	"github.com/vigil-ha/vigil"
)

// fakeSpeaker records what vigild asks of a BGP speaker, and what the
// fake Supervisor was doing then.
type fakeSpeaker struct {
	sup *fakeSup
	cfg vigil.BGP
	err error // Run's error, at once

	mu     sync.Mutex
	events []string // "run", "drain (supervisor running)", "stop (supervisor stopped)"
}

func (f *fakeSpeaker) add(e string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, e)
}

func (f *fakeSpeaker) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

// supState says whether the fake Supervisor's Run has seen its ctx end.
func (f *fakeSpeaker) supState() string {
	f.sup.mu.Lock()
	defer f.sup.mu.Unlock()
	if f.sup.ctxErr != nil {
		return "supervisor stopped"
	}
	return "supervisor running"
}

func (f *fakeSpeaker) Run(ctx context.Context) error {
	f.add("run")
	if f.err != nil {
		return f.err
	}
	<-ctx.Done()
	f.add("stop (" + f.supState() + ")")
	return nil
}

func (f *fakeSpeaker) Drain(context.Context) error {
	f.add("drain (" + f.supState() + ")")
	return nil
}

func (f *fakeSpeaker) Close() error { return nil }

// bgpEnv makes vigild start on testdata/name and build fakeSpeakers,
// appended to *built.
func bgpEnv(t *testing.T, name string, built *[]*fakeSpeaker, mu *sync.Mutex, runErr error) func(*Env) {
	return func(env *Env) {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		// startDaemonEnv's configuration file is in DumpDir.
		if err := os.WriteFile(filepath.Join(env.DumpDir, "keepalived.conf"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		env.Speaker = func(sup Supervisor, cfg vigil.BGP, _ *slog.Logger) (BGPSpeaker, error) {
			mu.Lock()
			defer mu.Unlock()
			f := &fakeSpeaker{sup: sup.(*fakeSup), cfg: cfg, err: runErr}
			*built = append(*built, f)
			return f, nil
		}
	}
}

// TestDaemonBGPDrainFirst: a bgp block starts a speaker built from it
// over the Supervisor; SIGTERM drains it while the Supervisor still
// runs, and stops it once the Supervisor has stopped.
func TestDaemonBGPDrainFirst(t *testing.T) {
	needBGP(t)
	synctest.Test(t, func(t *testing.T) {
		var built []*fakeSpeaker
		var mu sync.Mutex
		h := startDaemonEnv(t, nil, bgpEnv(t, "bgp.conf", &built, &mu, nil))
		<-h.sup.running
		synctest.Wait()
		mu.Lock()
		if len(built) != 1 {
			t.Fatalf("%d speakers built", len(built))
		}
		sp := built[0]
		mu.Unlock()
		if sp.cfg.ASN != 64513 || sp.cfg.Drain.Time.Seconds() != 3 || len(sp.cfg.VIPs) != 1 || sp.cfg.VIPs[0].Instance != "VI_1" {
			t.Errorf("speaker built from %+v", sp.cfg)
		}
		if h.sup.built.BGP == nil {
			t.Error("the Supervisor's Config lost its BGP")
		}
		if c := h.stop(); c != ExitOK {
			t.Errorf("exit %d", c)
		}
		want := []string{"run", "drain (supervisor running)", "stop (supervisor stopped)"}
		if got := sp.log(); strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Errorf("speaker saw %q, want %q", got, want)
		}
	})
}

// TestDaemonBGPReload: a reload that changes the bgp block restarts the
// speaker with the new one; one that keeps it keeps the speaker.
func TestDaemonBGPReload(t *testing.T) {
	needBGP(t)
	synctest.Test(t, func(t *testing.T) {
		var built []*fakeSpeaker
		var mu sync.Mutex
		h := startDaemonEnv(t, nil, bgpEnv(t, "bgp.conf", &built, &mu, nil))
		reload := func(name string) {
			h.install(name)
			h.sigs <- syscall.SIGHUP
			h.wantNote("RELOADING=1\nMONOTONIC_USEC=12345\nSTATUS=reloading")
			h.wantNote("READY=1\nSTATUS=running")
			synctest.Wait()
		}
		reload("bgp.conf")
		mu.Lock()
		n := len(built)
		mu.Unlock()
		if n != 1 {
			t.Fatalf("an unchanged bgp block built %d speakers", n)
		}
		reload("bgp2.conf")
		mu.Lock()
		if len(built) != 2 || built[1].cfg.ASN != 64514 {
			t.Fatalf("speakers %d", len(built))
		}
		first, second := built[0], built[1]
		mu.Unlock()
		if got := first.log(); len(got) != 2 || got[1] != "stop (supervisor running)" {
			t.Errorf("the first speaker saw %q", got)
		}
		if !strings.Contains(h.stderr.String(), "the bgp block changed: restarting the BGP speaker") {
			t.Errorf("log:\n%s", h.stderr)
		}
		reload("small.conf")
		if got := second.log(); len(got) != 2 || got[1] != "stop (supervisor running)" {
			t.Errorf("the second speaker saw %q after the block was removed", got)
		}
		if c := h.stop(); c != ExitOK {
			t.Errorf("exit %d", c)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(built) != 2 {
			t.Errorf("%d speakers", len(built))
		}
	})
}

// TestDaemonBGPFails: a speaker that cannot start stops vigild.
func TestDaemonBGPFails(t *testing.T) {
	needBGP(t)
	synctest.Test(t, func(t *testing.T) {
		var built []*fakeSpeaker
		var mu sync.Mutex
		h := startDaemonEnv(t, nil, bgpEnv(t, "bgp.conf", &built, &mu, errors.New("listen: address in use")))
		h.wantNote("STOPPING=1")
		if c := <-h.code; c != ExitFatal {
			t.Errorf("exit %d", c)
		}
		if !strings.Contains(h.stderr.String(), "Stopped by a failure of the BGP speaker") {
			t.Errorf("log:\n%s", h.stderr)
		}
	})
}

// TestBGPModeProblems: gates the process running the speaker cannot
// serve are fatal configuration errors.
func TestBGPModeProblems(t *testing.T) {
	needBGP(t)
	cfg := &vigil.Config{BGP: &vigil.BGP{VIPs: []vigil.BGPVIP{
		{Prefix: netip.MustParsePrefix("203.0.113.10/32"), VirtualServers: []string{"tcp 192.0.2.10:80"}},
		{Prefix: netip.MustParsePrefix("203.0.113.11/32"), Instance: "VI_1"},
	}}}
	for _, tc := range []struct {
		name string
		o    Options
		want []string
	}{
		{"single", Options{ProcessModel: ModelSingle}, nil},
		{"split", Options{ProcessModel: ModelKeepalived}, []string{"fatal: bgp vip 203.0.113.10/32: virtual_server gates cannot work: with --process-model=keepalived the BGP speaker runs in the VRRP child"}},
		{"vrrp child", Options{ProcessModel: ModelKeepalived, Child: childVRRP.String(), VRRPOnly: true}, []string{"fatal: bgp vip 203.0.113.10/32: virtual_server gates"}},
		{"-P", Options{ProcessModel: ModelSingle, VRRPOnly: true}, []string{"virtual_server gates cannot work: with -P/--vrrp"}},
		{"-C", Options{ProcessModel: ModelSingle, CheckOnly: true}, []string{"fatal: bgp vip 203.0.113.11/32: instance and track gates cannot work with -C"}},
		{"split -C", Options{ProcessModel: ModelKeepalived, CheckOnly: true}, []string{"warning: bgp: no VRRP child runs (-C)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.ConfigFile = "k.conf"
			errs := bgpModeProblems(&tc.o, cfg)
			var got []string
			for _, e := range errs {
				got = append(got, formatDiag(e))
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("got %q, want %q", got[i], w)
				}
			}
		})
	}
	for child, want := range map[string]bool{"": true, childVRRP.String(): true, childChecker.String(): false} {
		if runsBGP(&Options{Child: child}) != want {
			t.Errorf("runsBGP, child %q: %v", child, !want)
		}
	}
	if bgpModeProblems(&Options{VRRPOnly: true}, &vigil.Config{}) != nil {
		t.Error("problems without a bgp block")
	}
}

// TestConfigTestBGPSplit: -t reports a vip gated on a virtual server as
// fatal with --process-model=keepalived, and accepts it in one process.
func TestConfigTestBGPSplit(t *testing.T) {
	needBGP(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, ExitOK, ""},
		{[]string{"--process-model=keepalived"}, ExitTestCannotRun,
			"bgpvs.conf: fatal: bgp vip 192.0.2.10/32: virtual_server gates cannot work: with --process-model=keepalived"},
		{[]string{"-P"}, ExitTestCannotRun, "virtual_server gates cannot work: with -P/--vrrp"},
	} {
		var out, errb bytes.Buffer
		code := Main(append([]string{"-t", "-f", filepath.Join("testdata", "bgpvs.conf")}, tc.args...), testEnv(&out, &errb))
		if code != tc.code || !strings.Contains(errb.String(), tc.msg) || (tc.msg == "" && errb.Len() != 0) {
			t.Errorf("-t %v = %d, want %d and %q; stderr:\n%s", tc.args, code, tc.code, tc.msg, errb.String())
		}
	}
}

// needBGP skips a test of the bgp block in a build without BGP
// (-tags nobgp: TestNoBGP tests that).
func needBGP(t *testing.T) {
	t.Helper()
	if !bgpBuilt {
		t.Skip("built with -tags nobgp")
	}
}
