package vigil_test

import (
	"context"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/sched"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestSupervisorVIPAddFault: A's kernel refuses its VIP (EPERM, as
// without CAP_NET_ADMIN). A becomes master at 3.21875 s, retries the add
// vrrp.AddrRetries times (the last 3.1 s later), then enters FAULT with
// priority 0, and B takes over one Skew_Time later. The kernel heals; A
// starts again after vrrp.AddrFaultHold, preempts one
// Master_Down_Interval later and holds the VIP. The failures are counted
// in A's Stats.
func TestSupervisorVIPAddFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		a := startSup(t, hub, 1, vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 200, vipX)}})
		b := startSup(t, hub, 2, vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)}})
		a.p.Addrs("eth0").SetErr(syscall.EPERM)
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		b.run(ctx)
		time.Sleep(7 * time.Second)
		synctest.Wait()
		if a.p.Addrs("eth0").Has(vipX) || !b.p.Addrs("eth0").Has(vipX) {
			t.Errorf("at 7 s A holds %v, B %v; want B alone", a.p.Addrs("eth0").Held(), b.p.Addrs("eth0").Held())
		}
		st := a.s.Stats().Instances["VI_1"]
		if st.AddrFaults != 1 || st.AddrRetries == 0 {
			t.Errorf("A's address faults %d, retries %d", st.AddrFaults, st.AddrRetries)
		}
		a.p.Addrs("eth0").SetErr(nil)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		wantA := []string{"0s VI_1 INIT->BACKUP 200", "3.21875s VI_1 BACKUP->MASTER 200",
			"6.31875s VI_1 MASTER->FAULT 200", "11.31875s VI_1 FAULT->BACKUP 200", "14.5375s VI_1 BACKUP->MASTER 200"}
		wantB := []string{"0s VI_1 INIT->BACKUP 100", "6.928125s VI_1 BACKUP->MASTER 100",
			"14.5375s VI_1 MASTER->BACKUP 100"}
		if got := a.events(vigil.EventInstance); !equalLists(got, wantA) {
			t.Errorf("A: %q\nwant %q", got, wantA)
		}
		if got := b.events(vigil.EventInstance); !equalLists(got, wantB) {
			t.Errorf("B: %q\nwant %q", got, wantB)
		}
		if !a.p.Addrs("eth0").Has(vipX) || b.p.Addrs("eth0").Has(vipX) {
			t.Errorf("at the end A holds %v, B %v; want A alone", a.p.Addrs("eth0").Held(), b.p.Addrs("eth0").Held())
		}
		stopAll(t, cancel, a, b)
	})
}

// hung is a check that never returns until released, whatever its
// context says: a Checker with a bug.
type hung struct{ release chan struct{} }

func (h hung) Check(context.Context) error { <-h.release; return nil }

// TestSupervisorHungCheck: a tracker's check hangs, ignoring its
// context, while a second tracker's check fails: the instance's
// priority still follows the second one at once, the election goes on
// (B takes over on time), and Run returns sched.DefaultStopTimeout after
// its context ends, the hung run abandoned and counted.
func TestSupervisorHungCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		h := hung{release: make(chan struct{})}
		defer close(h.release)
		var chk flag
		ca := vigil.Config{Trackers: []vigil.Tracker{checkTracker("hung", &flag{}, -50), checkTracker("chk", &chk, -20)},
			Instances: []vigil.Instance{supInst("VI_1", 51, 110, vipX)}}
		ca.Trackers[0].Check.Checker = h
		ca.Instances[0].Track = []vigil.Track{{Tracker: "hung"}, {Tracker: "chk"}}
		a := startSup(t, hub, 1, ca)
		b := startSup(t, hub, 2, vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)}})
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		b.run(ctx)
		time.Sleep(10500 * time.Millisecond)
		chk.down.Store(true)
		time.Sleep(5 * time.Second)
		wantB := []string{"0s VI_1 INIT->BACKUP 100", "14.1796875s VI_1 BACKUP->MASTER 100"}
		if got := b.events(vigil.EventInstance); !equalLists(got, wantB) {
			t.Errorf("B: %q\nwant %q", got, wantB)
		}
		stopped := time.Now()
		stopAll(t, cancel, a, b)
		if d := time.Since(stopped); d != sched.DefaultStopTimeout {
			t.Errorf("A's Run returned %v after its context ended, want %v", d, sched.DefaultStopTimeout)
		}
		if n := a.s.Stats().Checks.Sched.Abandoned; n != 1 {
			t.Errorf("%d runs abandoned, want 1", n)
		}
	})
}
