package ipvs_test

import (
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
)

// reloadRig is a running Balancer of twoPools over a table, with a
// subscription, after its first Sync.
type reloadRig struct {
	t     *testing.T
	tab   *ipvstest.Table
	bl    *ipvs.Balancer
	sub   *ipvs.Subscription
	pools []ipvs.PoolConfig
	a, b  ipvs.ServiceKey
	stop  func() error
}

func newReloadRig(t *testing.T, cfg ipvs.BalancerConfig) *reloadRig {
	t.Helper()
	r := &reloadRig{t: t, tab: ipvstest.New(), pools: twoPools()}
	r.a, r.b = r.pools[0].Service.ServiceKey, r.pools[1].Service.ServiceKey
	bl := newBalancer(t, r.tab, r.pools, cfg)
	r.bl, r.sub = bl, bl.Subscribe(32)
	r.stop = runBalancer(t, bl)
	synctest.Wait()
	wantIO(t, r.tab, 1, 8)
	return r
}

// setPools reloads pools (a copy of the rig's, changed by change) and
// waits until Run has applied them.
func (r *reloadRig) setPools(change func(p []ipvs.PoolConfig) []ipvs.PoolConfig) {
	r.t.Helper()
	pools := clonePools(r.pools)
	if change != nil {
		pools = change(pools)
	}
	if err := r.bl.SetPools(pools); err != nil {
		r.t.Fatal(err)
	}
	synctest.Wait()
	r.pools = pools
}

// clonePools copies pools deep enough that changing the copy's real
// servers leaves pools alone.
func clonePools(pools []ipvs.PoolConfig) []ipvs.PoolConfig {
	out := slices.Clone(pools)
	for i := range out {
		out[i].RealServers = slices.Clone(out[i].RealServers)
	}
	return out
}

func (r *reloadRig) wantUp(svc ipvs.ServiceKey, server int, want bool) {
	r.t.Helper()
	if up, err := r.bl.Up(svc, dkey(netAddr(server))); err != nil || up != want {
		r.t.Fatalf("%v %s: up %v, %v; want %v", svc, netAddr(server), up, err, want)
	}
}

func (r *reloadRig) wantQuorum(svc ipvs.ServiceKey, want bool) {
	r.t.Helper()
	if up, err := r.bl.QuorumUp(svc); err != nil || up != want {
		r.t.Fatalf("%v: quorum up %v, %v; want %v", svc, up, err, want)
	}
}

// TestSetPoolsUnchanged: the same pools again write and read nothing, and
// keep the health, the weights SetWeight gave and the quorum.
func TestSetPoolsUnchanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReloadRig(t, ipvs.BalancerConfig{})
		for i := range 3 {
			if err := r.bl.SetHealth(r.a, dkey(netAddr(i)), false); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.bl.SetWeight(r.b, dkey(netAddr(1)), 9); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wantCounts(t, r.tab, map[ipvs.Op]int{ipvs.OpDeleteDestination: 3, ipvs.OpCreateDestination: 1, ipvs.OpUpdateDestination: 1})
		drain(r.sub)
		before := r.tab.Table()

		r.setPools(nil)
		wantIO(t, r.tab, 0, 0)
		wantEvents(t, r.sub)
		r.wantQuorum(r.a, false)
		r.wantUp(r.a, 0, false)
		r.wantUp(r.b, 1, true)
		if got := r.tab.Table(); !slices.EqualFunc(got, before, equalVS) {
			t.Fatalf("table changed:\n%v\nwant\n%v", got, before)
		}
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
	})
}

func equalVS(a, b ipvs.VirtualServer) bool {
	return a.Service == b.Service && slices.Equal(a.Destinations, b.Destinations)
}

// TestSetPoolsWeight: one configured weight changed is one update, at the
// moment of SetPools; a weight SetWeight gave a server whose configured
// weight did not change is kept.
func TestSetPoolsWeight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReloadRig(t, ipvs.BalancerConfig{})
		if err := r.bl.SetWeight(r.b, dkey(netAddr(2)), 9); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wantIO(t, r.tab, 0, 1)
		start := time.Now()
		r.setPools(func(p []ipvs.PoolConfig) []ipvs.PoolConfig {
			p[1].RealServers[1].Weight = 3
			return p
		})
		if d := time.Since(start); d != 0 {
			t.Fatalf("applied after %v", d)
		}
		wantCounts(t, r.tab, map[ipvs.Op]int{ipvs.OpUpdateDestination: 1})
		wantIO(t, r.tab, 0, 0)
		weights := map[string]int{}
		for _, d := range r.bl.Desired()[1].Destinations {
			weights[d.DestinationKey.String()] = d.Weight
		}
		if weights["10.0.0.2:80"] != 3 || weights["10.0.0.3:80"] != 9 || weights["10.0.0.1:80"] != 1 {
			t.Fatalf("weights %v", weights)
		}
		mustEqualTable(t, r.tab, r.bl.Desired())
		wantEvents(t, r.sub)
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSetPoolsAddRemove: a new real server is one create (up, or down
// with alpha: nothing), a removed pool one delete of its service, reported
// with the downs of its servers and quorum; a new pool is created after a
// full read.
func TestSetPoolsAddRemove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReloadRig(t, ipvs.BalancerConfig{})
		r.setPools(func(p []ipvs.PoolConfig) []ipvs.PoolConfig {
			p[0].RealServers = append(p[0].RealServers, ipvs.RealServer{Destination: dest(netAddr(3), 1)})
			return p
		})
		wantCounts(t, r.tab, map[ipvs.Op]int{ipvs.OpCreateDestination: 1})
		r.wantUp(r.a, 3, true)

		r.setPools(func(p []ipvs.PoolConfig) []ipvs.PoolConfig {
			p[0].RealServers = append(p[0].RealServers, ipvs.RealServer{Destination: dest(netAddr(4), 1), Alpha: true})
			return p
		})
		wantIO(t, r.tab, 0, 0)
		r.wantUp(r.a, 4, false)
		wantEvents(t, r.sub)

		// Pool b goes.
		r.setPools(func(p []ipvs.PoolConfig) []ipvs.PoolConfig { return p[:1] })
		wantCounts(t, r.tab, map[ipvs.Op]int{ipvs.OpDeleteService: 1})
		wantIO(t, r.tab, 0, 0)
		wantEvents(t, r.sub,
			"real server down 10.0.0.1:80 of tcp 192.0.2.11:80",
			"real server down 10.0.0.2:80 of tcp 192.0.2.11:80",
			"real server down 10.0.0.3:80 of tcp 192.0.2.11:80",
			"quorum down tcp 192.0.2.11:80")
		if _, err := r.bl.QuorumUp(r.b); !errors.Is(err, ipvs.ErrNotFound) {
			t.Fatalf("removed pool: %v", err)
		}
		mustEqualTable(t, r.tab, r.bl.Desired())

		// It comes back: new, all up, created after a full read.
		r.setPools(func(p []ipvs.PoolConfig) []ipvs.PoolConfig { return append(p, twoPools()[1]) })
		wantCounts(t, r.tab, map[ipvs.Op]int{ipvs.OpCreateService: 1, ipvs.OpCreateDestination: 3})
		r.wantQuorum(r.b, true)
		mustEqualTable(t, r.tab, r.bl.Desired())
		wantEvents(t, r.sub)
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		mustEqualTable(t, r.tab, nil)
	})
}

// TestSetPoolsQuorum: the quorum of a pool that stays keeps its state and
// is evaluated again when its servers or settings change.
func TestSetPoolsQuorum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReloadRig(t, ipvs.BalancerConfig{})
		// Quorum 3 of pool a's three servers: still up.
		r.setPools(func(p []ipvs.PoolConfig) []ipvs.PoolConfig {
			p[0].Quorum = 3
			return p
		})
		wantIO(t, r.tab, 0, 0)
		wantEvents(t, r.sub)
		r.wantQuorum(r.a, true)

		// One server fewer: lost, the sorry server replaces the others.
		r.setPools(func(p []ipvs.PoolConfig) []ipvs.PoolConfig {
			p[0].RealServers = p[0].RealServers[1:]
			return p
		})
		wantCounts(t, r.tab, map[ipvs.Op]int{ipvs.OpDeleteDestination: 3, ipvs.OpCreateDestination: 1})
		wantEvents(t, r.sub, "real server down 10.0.0.1:80 of tcp 192.0.2.10:80", "quorum down tcp 192.0.2.10:80")
		r.wantQuorum(r.a, false)

		// A server marked down, then a reload that adds one: 2 of quorum
		// 3, still lost, nothing written (the sorry server serves).
		if err := r.bl.SetHealth(r.a, dkey(netAddr(1)), false); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		drain(r.sub)
		wantIO(t, r.tab, 0, 0)
		r.setPools(func(p []ipvs.PoolConfig) []ipvs.PoolConfig {
			p[0].RealServers = append(p[0].RealServers, ipvs.RealServer{Destination: dest(netAddr(0), 1)})
			return p
		})
		wantIO(t, r.tab, 0, 0)
		r.wantUp(r.a, 1, false)
		r.wantQuorum(r.a, false)
		wantEvents(t, r.sub)

		// Quorum 2: gained; the up servers replace the sorry server.
		r.setPools(func(p []ipvs.PoolConfig) []ipvs.PoolConfig {
			p[0].Quorum = 2
			return p
		})
		wantCounts(t, r.tab, map[ipvs.Op]int{ipvs.OpDeleteDestination: 1, ipvs.OpCreateDestination: 2})
		wantEvents(t, r.sub, "quorum up tcp 192.0.2.10:80")
		mustEqualTable(t, r.tab, r.bl.Desired())
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSetPoolsResync: SetPools applies at once without a read and leaves
// the resync schedule as it was.
func TestSetPoolsResync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		r := newReloadRig(t, ipvs.BalancerConfig{ResyncInterval: 10 * time.Second})
		time.Sleep(3 * time.Second)
		r.setPools(func(p []ipvs.PoolConfig) []ipvs.PoolConfig {
			p[0].Service.Scheduler = ipvs.RoundRobin
			return p
		})
		wantCounts(t, r.tab, map[ipvs.Op]int{ipvs.OpUpdateService: 1})
		wantIO(t, r.tab, 0, 0)
		time.Sleep(time.Until(start.Add(10*time.Second - time.Nanosecond)))
		synctest.Wait()
		wantIO(t, r.tab, 0, 0)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		wantIO(t, r.tab, 3, 0)
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSetPoolsInvalid: invalid pools are refused whole and change
// nothing.
func TestSetPoolsInvalid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReloadRig(t, ipvs.BalancerConfig{})
		pools := clonePools(r.pools)
		pools[0].RealServers[0].Weight = 3
		pools = append(pools, pools[1])
		if err := r.bl.SetPools(pools); !errors.Is(err, ipvs.ErrInvalid) {
			t.Fatalf("SetPools: %v", err)
		}
		synctest.Wait()
		wantIO(t, r.tab, 0, 0)
		if got := r.bl.Desired()[0].Destinations[0].Weight; got != 1 {
			t.Fatalf("weight %d after a refused SetPools", got)
		}
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSetPoolsBeforeRun: pools set before Run are what its first Sync
// writes.
func TestSetPoolsBeforeRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := ipvstest.New()
		bl := newBalancer(t, tab, nil, ipvs.BalancerConfig{})
		if err := bl.SetPools(twoPools()[:1]); err != nil {
			t.Fatal(err)
		}
		stop := runBalancer(t, bl)
		synctest.Wait()
		wantIO(t, tab, 1, 4)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSetPoolsSuspended: a suspended pool's service leaves the table and
// comes back as the pool wants it then, its health changes kept and
// reported, with no event for the suspension itself.
func TestSetPoolsSuspended(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReloadRig(t, ipvs.BalancerConfig{})
		r.setPools(func(p []ipvs.PoolConfig) []ipvs.PoolConfig {
			p[1].Suspended = true
			return p
		})
		wantCounts(t, r.tab, map[ipvs.Op]int{ipvs.OpDeleteService: 1})
		wantEvents(t, r.sub)
		mustEqualTable(t, r.tab, r.bl.Desired())
		if d := r.bl.Desired(); len(d) != 1 || d[0].ServiceKey != r.a {
			t.Fatalf("desired %v, want only %v", d, r.a)
		}

		// Health changes while suspended are kept, and reported.
		if err := r.bl.SetHealth(r.b, dkey(netAddr(0)), false); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wantCounts(t, r.tab, nil)
		wantEvents(t, r.sub, "real server down 10.0.0.1:80 of tcp 192.0.2.11:80")

		r.setPools(func(p []ipvs.PoolConfig) []ipvs.PoolConfig {
			p[1].Suspended = false
			return p
		})
		wantCounts(t, r.tab, map[ipvs.Op]int{ipvs.OpCreateService: 1, ipvs.OpCreateDestination: 3})
		wantEvents(t, r.sub)
		r.wantUp(r.b, 0, false)
		mustEqualTable(t, r.tab, r.bl.Desired())
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPoolOmega: a pool's own Omega reports its downs at the end of Run;
// the other pool's are not reported.
func TestPoolOmega(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := ipvstest.New()
		pools := twoPools()
		pools[1].Omega = true
		bl := newBalancer(t, tab, pools, ipvs.BalancerConfig{})
		sub := bl.Subscribe(16)
		stop := runBalancer(t, bl)
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		wantEvents(t, sub,
			"real server down 10.0.0.1:80 of tcp 192.0.2.11:80",
			"real server down 10.0.0.2:80 of tcp 192.0.2.11:80",
			"real server down 10.0.0.3:80 of tcp 192.0.2.11:80",
			"quorum down tcp 192.0.2.11:80",
			"closed")
	})
}
