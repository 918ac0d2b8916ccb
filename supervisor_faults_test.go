package vigil_test

import (
	"context"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
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
