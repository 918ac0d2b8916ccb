package vigil_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestSupervisorVirtualServers: one Supervisor holds VIP X with VRRP and
// a virtual server on X with ha_suspend: the service enters the IPVS
// table when the instance becomes master; a real server's check fails
// and it leaves the table after exactly fall × interval; the master
// loses its VIP to a peer and the service leaves the table; the real
// server's events reach the Subscribe stream.
func TestSupervisorVirtualServers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		svc := ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: vipX.Addr(), Port: 80}
		rs := func(last byte, f *flag) vigil.RealServer {
			return vigil.RealServer{
				RealServer: ipvs.RealServer{Destination: ipvs.Destination{
					DestinationKey: ipvs.DestinationKey{Addr: netip.AddrFrom4([4]byte{198, 51, 100, last}), Port: 8080},
					Forward:        ipvs.Masquerade, Weight: 1}},
				Checks: []vigil.RealServerCheck{{Checker: f, Policy: check.Policy{Interval: time.Second, Timeout: 500 * time.Millisecond, Fall: 3, Warmup: -1}}},
			}
		}
		var f1, f2 flag
		cfg := vigil.Config{
			Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)},
			VirtualServers: []vigil.VirtualServer{{
				Service:     ipvs.Service{ServiceKey: svc, Scheduler: ipvs.WeightedRoundRobin},
				RealServers: []vigil.RealServer{rs(1, &f1), rs(2, &f2)},
				HASuspend:   true,
			}},
		}
		a := startSup(t, hub, 1, cfg)
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		table := a.p.Table()
		dests := func() []string {
			var out []string
			for _, vs := range table.Table() {
				for _, d := range vs.Destinations {
					out = append(out, vs.Service.ServiceKey.String()+" "+d.DestinationKey.String())
				}
			}
			return out
		}
		time.Sleep(3 * time.Second) // master at 3.609375 s
		if got := dests(); len(got) != 0 {
			t.Fatalf("IPVS table before the instance is master: %q", got)
		}
		time.Sleep(time.Second)
		want := []string{"tcp 192.0.2.100:80 198.51.100.1:8080", "tcp 192.0.2.100:80 198.51.100.2:8080"}
		if got := dests(); !slices.Equal(got, want) {
			t.Fatalf("IPVS table as master: %q, want %q", got, want)
		}
		// A reload that changes nothing keeps the virtual server as it
		// is, checks running.
		ch, err := a.s.Reload(ctx, cfg)
		if err != nil || !ch.VirtualServers.Empty() {
			t.Fatalf("unchanged reload: %+v, %v", ch.VirtualServers, err)
		}
		// The checks started with the service, at 3.609375 s, a round a
		// second. From 4 s they fail: down at the third failed round,
		// 6.609375 s.
		f2.down.Store(true)
		time.Sleep(2609375*time.Microsecond - time.Nanosecond)
		if got := dests(); len(got) != 2 {
			t.Errorf("at 6.609375 s − 1 ns: %q", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := dests(); !slices.Equal(got, want[:1]) {
			t.Errorf("at 6.609375 s: %q, want %q", got, want[:1])
		}
		// A peer of higher priority takes the VIP: the service goes.
		b := startSup(t, hub, 2, vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 200, vipX)}})
		b.run(ctx)
		time.Sleep(5 * time.Second)
		if got := dests(); len(got) != 0 {
			t.Errorf("IPVS table once the peer is master: %q", got)
		}
		var downs []string
		for e := range eventsOf(a, vigil.EventServerDown) {
			downs = append(downs, e.ServiceName+" "+e.DestName+" "+e.Err)
		}
		if !slices.Equal(downs, []string{"tcp 192.0.2.100:80 198.51.100.2:8080 down"}) {
			t.Errorf("real server down events %q", downs)
		}
		st := a.s.State()
		if len(st.VirtualServers) != 1 || !st.VirtualServers[0].Suspended || len(st.VirtualServers[0].RealServers) != 2 ||
			st.VirtualServers[0].RealServers[1].Up || st.VirtualServers[0].RealServers[1].Err != "down" {
			t.Errorf("state %+v", st.VirtualServers)
		}
		stats := a.s.Stats()
		if stats.Instances["VI_1"].AdvertsSent == 0 || stats.Instances["VI_1"].BecameMaster != 1 ||
			stats.IPVS.Applies == 0 || stats.Checks.Checks != 0 {
			// Checks: 0, the service is suspended now (its checks left the group).
			t.Errorf("stats %+v", stats)
		}
		stopAll(t, cancel, a, b)
		if !table.Closed() {
			t.Error("Run returned without closing the IPVS backend it opened")
		}
	})
}

// eventsOf returns the events of kind k received so far.
func eventsOf(m *memSup, k vigil.EventKind) func(func(vigil.Event) bool) {
	return func(yield func(vigil.Event) bool) {
		for {
			select {
			case e, ok := <-m.sub.C():
				if !ok {
					return
				}
				if e.Kind == k && !yield(e) {
					return
				}
			default:
				return
			}
		}
	}
}

// A Supervisor without instances (vigild's checker child) learns from
// SetHeldVIPs which addresses masters elsewhere hold: its ha_suspend
// virtual server enters IPVS while its address is given, and leaves
// when it no longer is.
func TestSupervisorSetHeldVIPs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		svc := ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: vipX.Addr(), Port: 80}
		var f flag
		cfg := vigil.Config{VirtualServers: []vigil.VirtualServer{{
			Service: ipvs.Service{ServiceKey: svc, Scheduler: ipvs.WeightedRoundRobin},
			RealServers: []vigil.RealServer{{
				RealServer: ipvs.RealServer{Destination: ipvs.Destination{
					DestinationKey: ipvs.DestinationKey{Addr: netip.MustParseAddr("198.51.100.1"), Port: 8080},
					Forward:        ipvs.Masquerade, Weight: 1}},
				Checks: []vigil.RealServerCheck{{Checker: &f, Policy: check.Policy{Interval: time.Second, Timeout: 500 * time.Millisecond, Warmup: -1}}},
			}},
			HASuspend: true,
		}}}
		a := startSup(t, hub, 1, cfg)
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		table := a.p.Table()
		services := func() int { return len(table.Table()) }
		time.Sleep(2 * time.Second)
		if n := services(); n != 0 || !a.s.State().VirtualServers[0].Suspended {
			t.Fatalf("%d services before any address is held", n)
		}
		a.s.SetHeldVIPs([]netip.Addr{netip.MustParseAddr("192.0.2.7"), vipX.Addr()})
		time.Sleep(time.Second)
		if n := services(); n != 1 || a.s.State().VirtualServers[0].Suspended {
			t.Errorf("%d services with its address held, want 1, active", n)
		}
		a.s.SetHeldVIPs([]netip.Addr{netip.MustParseAddr("192.0.2.7")})
		time.Sleep(time.Second)
		if n := services(); n != 0 || !a.s.State().VirtualServers[0].Suspended {
			t.Errorf("%d services once its address is no longer held, want 0, suspended", n)
		}
		stopAll(t, cancel, a)
	})
}
