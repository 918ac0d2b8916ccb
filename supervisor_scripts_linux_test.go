//go:build linux

package vigil_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestSupervisorStartupShutdownScripts: the startup script runs, and is
// waited for, before any instance notifies; the shutdown script after
// the instance's STOP script, when everything has stopped. A startup
// script that outlives its Timeout is stopped and Run goes on.
func TestSupervisorStartupShutdownScripts(t *testing.T) {
	// The startup script sleeps first: were Run not waiting, the
	// instance's BACKUP script would come first.
	_, script, out := scriptDir(t, "#!/bin/sh\n[ \"$1\" = startup ] && sleep 0.3\n[ \"$1\" = hang ] && exec sleep 10\necho \"$@\" >> OUTFILE\n")
	sc := func(args ...string) *notify.Script { return &notify.Script{Args: append([]string{script}, args...)} }
	in := supInst("VI_1", 51, 200, vipX)
	in.VRRP.Interval = 100 * time.Millisecond
	in.Notify = vigil.InstanceNotify{Backup: sc("backup"), Master: sc("master"), Stop: sc("stop")}
	run := func(g vigil.Global) []string {
		t.Helper()
		os.Remove(out)
		s, err := vigil.New(newMemPlatform(t, vrrptest.NewHub(1), 1), vigil.Config{Global: g, Instances: []vigil.Instance{in}})
		if err != nil {
			t.Fatal(err)
		}
		sub := s.Subscribe(64)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		for e := range sub.C() {
			if e.Kind == vigil.EventInstance && e.To.String() == "MASTER" {
				break
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(out)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	got := run(vigil.Global{StartupScript: sc("startup"), ShutdownScript: sc("shutdown")})
	want := []string{"startup", "backup", "master", "stop", "shutdown"}
	if !slices.Equal(got, want) {
		t.Errorf("scripts ran %q, want %q", got, want)
	}
	hang := sc("hang")
	hang.Timeout, hang.KillDelay = 200*time.Millisecond, -1
	start := time.Now()
	got = run(vigil.Global{StartupScript: hang})
	if want := []string{"backup", "master", "stop"}; !slices.Equal(got, want) {
		t.Errorf("with a hanging startup script, scripts ran %q, want %q", got, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run waited %v for a startup script of timeout 200ms", d)
	}
}
