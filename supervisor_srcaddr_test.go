package vigil_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestSupervisorTrackSrcIP: with track_src_ip, the master whose source
// address is removed goes to FAULT at once and comes back (BACKUP, then
// MASTER a Master_Down_Interval later) when the address is added back;
// another address's removal changes nothing.
func TestSupervisorTrackSrcIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := supInst("VI_1", 51, 200, vipX)
		in.TrackSrcIP = true
		a := startSup(t, vrrptest.NewHub(1), 1, vigil.Config{Instances: []vigil.Instance{in}})
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		src := netip.MustParsePrefix("192.0.2.1/24")
		step := func(at time.Duration, f func() error) {
			time.Sleep(time.Until(a.t0.Add(at)))
			if err := f(); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		step(5*time.Second, func() error { return a.p.HostAddr("eth0", netip.MustParsePrefix("192.0.2.7/24"), false) })
		step(6*time.Second, func() error { return a.p.HostAddr("eth0", src, false) })
		step(8*time.Second, func() error { return a.p.HostAddr("eth0", src, true) })
		time.Sleep(time.Until(a.t0.Add(12 * time.Second)))
		stopAll(t, cancel, a)
		got := a.events(vigil.EventInstance)
		want := []string{"0s VI_1 INIT->BACKUP 200", "3.21875s VI_1 BACKUP->MASTER 200", "6s VI_1 MASTER->FAULT 200",
			"8s VI_1 FAULT->BACKUP 200", "11.21875s VI_1 BACKUP->MASTER 200", "12s VI_1 MASTER->STOPPED 200"}
		if !slices.Equal(got, want) {
			t.Errorf("events\n%q\nwant\n%q", got, want)
		}
	})
}
