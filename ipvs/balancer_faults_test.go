package ipvs_test

import (
	"context"
	"errors"
	"maps"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
	"github.com/vigil-ha/vigil/watchdog"
)

// TestBalancerConvergesAfterFaults: for ten seconds the backend fails
// every other write (ENOBUFS, EBUSY in turn) and every third dump is
// interrupted, while the real servers' health flaps every 250 ms. The
// Balancer never blocks a SetHealth, counts the failures, and one
// RetryInterval after the backend heals the table is exactly what the
// pools want; every health change ends in an event.
func TestBalancerConvergesAfterFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := ipvstest.New()
		pools := twoPools()
		bl := newBalancer(t, tab, pools, ipvs.BalancerConfig{ResyncInterval: -1})
		sub := bl.Subscribe(1 << 12)
		stop := runBalancer(t, bl)
		synctest.Wait()
		mustEqualTable(t, tab, bl.Desired())
		n := 0
		tab.SetFault(func(c ipvstest.Call) error {
			if c.Op == ipvs.OpStartDaemon || c.Op == ipvs.OpStopDaemon {
				return nil
			}
			n++
			switch n % 4 {
			case 1:
				return syscall.ENOBUFS
			case 3:
				return syscall.EBUSY
			}
			return nil
		})
		flips := 0
		for i := range 40 {
			for p, pool := range pools {
				for j, rs := range pool.RealServers {
					up := (i+j+p)%3 != 0
					if err := bl.SetHealth(pool.Service.ServiceKey, rs.DestinationKey, up); err != nil {
						t.Fatal(err)
					}
					flips++
				}
			}
			if i%3 == 0 {
				tab.InterruptDumps(1)
			}
			time.Sleep(250 * time.Millisecond)
		}
		failures := bl.Stats().Failures
		if failures == 0 {
			t.Fatal("no failure counted while the backend failed")
		}
		tab.SetFault(nil)
		time.Sleep(ipvs.DefaultRetryInterval)
		synctest.Wait()
		mustEqualTable(t, tab, bl.Desired())
		// The last round's health, as the table shows it: pool a's
		// real servers down are gone, pool b's inhibited have weight 0.
		for p, pool := range pools {
			for j, rs := range pool.RealServers {
				up, err := bl.Up(pool.Service.ServiceKey, rs.DestinationKey)
				if err != nil || up != ((39+j+p)%3 != 0) {
					t.Errorf("pool %d server %d: up %v (%v)", p, j, up, err)
				}
			}
		}
		st := bl.Stats()
		if st.Dropped != 0 || st.Failures < failures {
			t.Errorf("stats %+v", st)
		}
		if got := len(drain(sub)); got == 0 || uint64(got) != st.Events {
			t.Errorf("%d events received, %d published", got, st.Events)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		mustEqualTable(t, tab, nil)
	})
}

// TestBalancerStatsOps: the backend calls are counted by kind, the
// failed ones apart, and every write's duration is recorded.
func TestBalancerStatsOps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := ipvstest.New()
		pools := twoPools()
		a := pools[0].Service.ServiceKey
		tab.FailOnce(ipvs.OpCreateDestination, a, dkey(netAddr(1)), syscall.ENOMEM)
		bl := newBalancer(t, tab, pools, ipvs.BalancerConfig{ResyncInterval: -1})
		stop := runBalancer(t, bl)
		synctest.Wait()
		time.Sleep(ipvs.DefaultRetryInterval)
		synctest.Wait()
		st := bl.Stats()
		// The first Sync: two services listed (none there), two
		// created, six destinations less the one that failed; the retry
		// lists the services and their destinations and creates it.
		wantOps := map[ipvs.Op]uint64{ipvs.OpListServices: 2, ipvs.OpListDestinations: 2,
			ipvs.OpCreateService: 2, ipvs.OpCreateDestination: 6}
		if !maps.Equal(st.Ops, wantOps) || !maps.Equal(st.OpErrors, map[ipvs.Op]uint64{ipvs.OpCreateDestination: 1}) {
			t.Errorf("ops %v errors %v, want %v and one failed create destination", st.Ops, st.OpErrors, wantOps)
		}
		if n := st.SyncDuration.Count(); n != 2 || st.SyncDuration.Counts[0] != 2 {
			t.Errorf("sync durations %+v, want two, instant (virtual time)", st.SyncDuration)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBalancerBeats: a Balancer given a Beat keeps it alive while idle
// (it wakes every Period); blocked in a backend call it is found
// stalled one deadline after its last beat, and beats again after.
func TestBalancerBeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, err := watchdog.New(watchdog.Config{Deadline: 4 * time.Second, WatchdogInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithCancel(context.Background())
		wdone := make(chan error, 1)
		go func() { wdone <- w.Run(wctx) }()
		tab := ipvstest.New()
		pools := twoPools()
		bl := newBalancer(t, tab, pools, ipvs.BalancerConfig{})
		b := w.Register("ipvs", 0)
		if err := bl.SetBeat(b); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		stop := runBalancer(t, bl)
		time.Sleep(5 * time.Minute) // resyncs every 30 s
		synctest.Wait()
		if !w.Healthy() || w.Stats().Stalls != 0 {
			t.Fatalf("idle balancer stalled: %+v", w.Stats())
		}
		gate := make(chan struct{})
		tab.SetFault(func(ipvstest.Call) error { <-gate; return nil })
		if err := bl.SetHealth(pools[0].Service.ServiceKey, pools[0].RealServers[0].DestinationKey, false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if w.Healthy() || w.Stats().Stalls != 1 {
			t.Errorf("blocked balancer at %v: healthy %v, stats %+v", time.Since(t0), w.Healthy(), w.Stats())
		}
		close(gate)
		time.Sleep(time.Second)
		synctest.Wait()
		if !w.Healthy() {
			t.Error("still unhealthy once the backend answered")
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		b.Done()
		if err := bl.SetBeat(b); !errors.Is(err, ipvs.ErrRan) {
			t.Errorf("SetBeat after Run: %v, want ErrRan", err)
		}
		wcancel()
		<-wdone
	})
}
