package vigil_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
	"github.com/vigil-ha/vigil/watchdog"
)

// gate blocks the IPVS table's calls while closed.
type gate struct {
	mu   sync.Mutex
	open chan struct{}
}

func (g *gate) close() { g.mu.Lock(); g.open = make(chan struct{}); g.mu.Unlock() }
func (g *gate) release() {
	g.mu.Lock()
	close(g.open)
	g.open = nil
	g.mu.Unlock()
}

// fault is an ipvstest.Fault that waits while the gate is closed.
func (g *gate) fault(ipvstest.Call) error {
	g.mu.Lock()
	c := g.open
	g.mu.Unlock()
	if c != nil {
		<-c
	}
	return nil
}

// TestSupervisorBalancerStall: the IPVS backend blocks the Balancer's
// first Sync for 3 s: the watchdog finds the ipvs loop stalled one
// Deadline (1 s) after its last beat, counts it, and Healthy is false
// until the Balancer beats again. With Restart.Failures 2, the second
// stall within the window stops the Supervisor: Run returns ErrFailing.
func TestSupervisorBalancerStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		var f flag
		wd := tightWatchdog
		wd.Restart.Failures = 2
		cfg := vigil.Config{Watchdog: wd,
			Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)},
			VirtualServers: []vigil.VirtualServer{{
				Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: vipX.Addr(), Port: 80},
					Scheduler: ipvs.WeightedRoundRobin},
				RealServers: []vigil.RealServer{{
					RealServer: ipvs.RealServer{Destination: ipvs.Destination{
						DestinationKey: ipvs.DestinationKey{Addr: netip.MustParseAddr("198.51.100.1"), Port: 8080},
						Forward:        ipvs.Masquerade, Weight: 1}},
					Checks: []vigil.RealServerCheck{{Checker: &f, Policy: check.Policy{Interval: time.Second, Fall: 1, Warmup: -1}}},
				}},
			}},
		}
		a := startSup(t, hub, 1, cfg)
		var g gate
		g.close()
		a.p.Table().SetFault(g.fault)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		a.run(ctx)
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		if !a.s.Healthy() {
			t.Error("unhealthy at 0.5 s")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if a.s.Healthy() || a.s.Stats().Watchdog.StallsByLoop[vigil.LoopIPVS] != 1 {
			t.Errorf("at 1.5 s: healthy %v, stalls %v; want the ipvs loop stalled", a.s.Healthy(), a.s.Stats().Watchdog.StallsByLoop)
		}
		time.Sleep(1500 * time.Millisecond)
		g.release()
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		if !a.s.Healthy() {
			t.Error("still unhealthy after the backend answered")
		}
		select {
		case err := <-a.done:
			t.Fatalf("Run returned after one stall: %v", err)
		default:
		}
		// A real server's check fails: the Balancer writes, and blocks.
		g.close()
		f.down.Store(true)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		g.release()
		var err error
		select {
		case err = <-a.done:
		case <-time.After(10 * time.Second):
			cancel()
			err = <-a.done
			t.Errorf("Run went on after the second stall; returned %v when stopped", err)
		}
		if !errors.Is(err, vigil.ErrFailing) || !errors.Is(err, watchdog.ErrFailing) {
			t.Errorf("Run: %v, want ErrFailing", err)
		}
		if n := a.s.Stats().Watchdog.StallsByLoop[vigil.LoopIPVS]; n != 2 {
			t.Errorf("%d stalls of the ipvs loop, want 2", n)
		}
	})
}

// TestSupervisorPlatformStall: the platform's loop (vigiltest's Run, as
// Linux's interface watcher) is watched: stalled, it is found one
// Deadline (1 s) after its last beat, counted, and Healthy is false
// until it beats again.
func TestSupervisorPlatformStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		cfg := vigil.Config{Watchdog: tightWatchdog, Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)}}
		a := startSup(t, hub, 1, cfg)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		a.run(ctx)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if !a.s.Healthy() || a.s.Stats().Watchdog.StallsByLoop[vigil.LoopPlatform] != 0 {
			t.Fatalf("at 2 s: healthy %v, stalls %v; want healthy", a.s.Healthy(), a.s.Stats().Watchdog.StallsByLoop)
		}
		a.p.Stall(true)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if a.s.Healthy() || a.s.Stats().Watchdog.StallsByLoop[vigil.LoopPlatform] != 1 {
			t.Errorf("1.5 s into the stall: healthy %v, stalls %v; want the platform loop stalled", a.s.Healthy(),
				a.s.Stats().Watchdog.StallsByLoop)
		}
		a.p.Stall(false)
		time.Sleep(time.Second)
		synctest.Wait()
		if !a.s.Healthy() {
			t.Error("still unhealthy after the platform beat again")
		}
		if err := a.p.SetBeat(nil); !errors.Is(err, vigil.ErrRan) {
			t.Errorf("SetBeat after Run: %v, want ErrRan", err)
		}
	})
}
