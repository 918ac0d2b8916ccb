package vigil_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestSupervisorStartupDelay: A (priority 200) has a startup delay of
// 5 s: its instance stays in INIT, so B (100) becomes master alone; at
// 5 s A starts as BACKUP, and preempts B one Master_Down_Interval later.
func TestSupervisorStartupDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		ca := vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 200, vipX)}}
		ca.Global.StartupDelay = 5 * time.Second
		a := startSup(t, hub, 1, ca)
		b := startSup(t, hub, 2, vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)}})
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		b.run(ctx)
		time.Sleep(4 * time.Second)
		if st := a.s.State().Instances[0].State; st != "INIT" {
			t.Errorf("A at 4 s: %v, want INIT", st)
		}
		time.Sleep(6 * time.Second)
		wantA := []string{"5s VI_1 INIT->BACKUP 200", "8.21875s VI_1 BACKUP->MASTER 200"}
		wantB := []string{"0s VI_1 INIT->BACKUP 100", "3.609375s VI_1 BACKUP->MASTER 100", "8.21875s VI_1 MASTER->BACKUP 100"}
		if got := a.events(vigil.EventInstance); !equalLists(got, wantA) {
			t.Errorf("A: %q\nwant %q", got, wantA)
		}
		if got := b.events(vigil.EventInstance); !equalLists(got, wantB) {
			t.Errorf("B: %q\nwant %q", got, wantB)
		}
		stopAll(t, cancel, a, b)
	})
}

// A Supervisor stopped during its startup delay stops at once, its
// instances never started.
func TestSupervisorStopDuringStartupDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		ca := vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 200, vipX)}}
		ca.Global.StartupDelay = time.Hour
		a := startSup(t, hub, 1, ca)
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		time.Sleep(time.Second)
		t0 := time.Now()
		stopAll(t, cancel, a)
		if d := time.Since(t0); d != 0 {
			t.Errorf("stopped after %v", d)
		}
		if got := a.events(vigil.EventInstance); len(got) != 0 {
			t.Errorf("events %q", got)
		}
	})
}
