package vigildcmd

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/bgp/bgpstate"
)

// fakeSpeaker records what vigild asks of a BGP speaker, and what the
// fake Supervisor was doing then.
type fakeSpeaker struct {
	sup *fakeSup
	cfg vigil.BGP
	err error // Run's error, at once

	mu sync.Mutex
	// drainFor is how long Drain takes unless its ctx is done first;
	// 0 none.
	drainFor time.Duration
	status   bgpstate.State // what State reports
	events   []string       // "run", "drain (supervisor running)", "drained", "drain cut (...)", "stop (supervisor stopped)"
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

// Drain takes drainFor, or until ctx is done: then it says "drain cut"
// and returns ctx's error, as bgp.Speaker's does (it withdraws at once).
func (f *fakeSpeaker) Drain(ctx context.Context) error {
	f.add("drain (" + f.supState() + ")")
	f.mu.Lock()
	d := f.drainFor
	f.mu.Unlock()
	if d == 0 {
		return nil
	}
	select {
	case <-time.After(d):
		f.add("drained")
		return nil
	case <-ctx.Done():
		f.add("drain cut (" + f.supState() + ")")
		return ctx.Err()
	}
}

// setDrainFor sets how long Drain takes.
func (f *fakeSpeaker) setDrainFor(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drainFor = d
}

func (f *fakeSpeaker) Close() error { return nil }

func (f *fakeSpeaker) State() bgpstate.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeSpeaker) setStatus(b bgpstate.State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = b
}

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

// startBGPDaemon starts vigild on testdata/bgp.conf with args and
// returns its one fakeSpeaker.
func startBGPDaemon(t *testing.T, args ...string) (*harness, *fakeSpeaker) {
	t.Helper()
	var built []*fakeSpeaker
	var mu sync.Mutex
	h := startDaemonEnv(t, nil, bgpEnv(t, "bgp.conf", &built, &mu, nil), args...)
	<-h.sup.running
	synctest.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(built) != 1 {
		t.Fatalf("%d speakers built", len(built))
	}
	return h, built[0]
}

// TestDaemonBGPSecondSignalCutsDrain: a second SIGTERM or SIGINT while
// the drain runs cancels the drain's context, logs it, and the stop goes
// on at once (the Supervisor cancelled: the VIPs handed over as usual,
// then the speaker stopped); SIGHUP and SIGUSR1 meanwhile do not cut it
// (nor reload).
func TestDaemonBGPSecondSignalCutsDrain(t *testing.T) {
	needBGP(t)
	for _, second := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(second.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, sp := startBGPDaemon(t)
				sp.setDrainFor(time.Hour) // far longer than the test
				t0 := time.Now()
				h.signal(syscall.SIGTERM)
				h.wantNote("STOPPING=1")
				h.signal(syscall.SIGHUP)
				h.signal(syscall.SIGUSR1)
				time.Sleep(time.Minute)
				synctest.Wait()
				h.wantRunning("during the drain")
				if got, want := sp.log(), []string{"run", "drain (supervisor running)"}; !slices.Equal(got, want) {
					t.Errorf("during the drain the speaker saw %q, want %q", got, want)
				}

				h.signal(second)
				if c := h.wantExit(); c != ExitOK {
					t.Errorf("exit %d", c)
				}
				if d := time.Since(t0); d != time.Minute {
					t.Errorf("stopped %v after the first SIGTERM, want 1m0s (at once after the second signal)", d)
				}
				want := []string{"run", "drain (supervisor running)", "drain cut (supervisor running)", "stop (supervisor stopped)"}
				if got := sp.log(); !slices.Equal(got, want) {
					t.Errorf("speaker saw %q, want %q", got, want)
				}
				if h.sup.ctxErr != context.Canceled {
					t.Errorf("Supervisor's ctx: %v, want canceled (the usual stop)", h.sup.ctxErr)
				}
				if n := len(h.sup.reloaded()); n != 0 {
					t.Errorf("SIGHUP during the drain reloaded %d times", n)
				}
				log := h.stderr.String()
				for _, w := range []string{
					`level=WARN msg="BGP drain cut short by a second signal: withdrawing the routes now" signal=` + second.String(),
					`msg="Ignoring signal while draining BGP" signal=hangup`,
					"Stopped vigild",
				} {
					if !strings.Contains(log, w) {
						t.Errorf("log lacks %q:\n%s", w, log)
					}
				}
				if strings.Contains(log, `msg="BGP drain"`) {
					t.Errorf("the cut logged as a drain failure:\n%s", log)
				}
			})
		})
	}
}

// TestDaemonBGPDrainNotCut: without a second stopping signal the drain
// runs its whole time: SIGHUP, SIGUSR1 and, with --ignore-sigint, SIGINT
// do not cut it.
func TestDaemonBGPDrainNotCut(t *testing.T) {
	needBGP(t)
	synctest.Test(t, func(t *testing.T) {
		h, sp := startBGPDaemon(t, "--ignore-sigint")
		sp.setDrainFor(3 * time.Second)
		t0 := time.Now()
		h.signal(syscall.SIGTERM)
		h.wantNote("STOPPING=1")
		for _, sig := range []os.Signal{syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1} {
			h.signal(sig)
		}
		if c := h.wantExit(); c != ExitOK {
			t.Errorf("exit %d", c)
		}
		if d := time.Since(t0); d != 3*time.Second {
			t.Errorf("stopped after %v, want the drain's 3s", d)
		}
		want := []string{"run", "drain (supervisor running)", "drained", "stop (supervisor stopped)"}
		if got := sp.log(); !slices.Equal(got, want) {
			t.Errorf("speaker saw %q, want %q", got, want)
		}
		if log := h.stderr.String(); strings.Contains(log, "cut short") {
			t.Errorf("the drain was cut:\n%s", log)
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
