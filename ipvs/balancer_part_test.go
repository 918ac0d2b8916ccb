package ipvs_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
)

// TestBalancerAppliesParts: after each of many random changes (health,
// weights, pools added, removed, suspended and back, one at a time or
// several before the Balancer runs again), the table is exactly the
// desired one, and a change of one real server writes one operation and
// reads nothing (the Balancer applies what changed, not the whole table).
func TestBalancerAppliesParts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		pool := func(i int, suspended bool) ipvs.PoolConfig {
			pc := ipvs.PoolConfig{Service: svc(fmt.Sprintf("192.0.2.%d:80", 10+i)), Quorum: -1, Suspended: suspended}
			for j := range 5 {
				pc.RealServers = append(pc.RealServers, ipvs.RealServer{Destination: dest(fmt.Sprintf("198.51.100.%d:80", 1+j), 1)})
			}
			return pc
		}
		const n = 6
		live := make([]bool, n)
		susp := make([]bool, n)
		pools := func() []ipvs.PoolConfig {
			var out []ipvs.PoolConfig
			for i := range n {
				if live[i] {
					out = append(out, pool(i, susp[i]))
				}
			}
			return out
		}
		for i := range 4 {
			live[i] = true
		}
		tab := ipvstest.New()
		bl := newBalancer(t, tab, pools(), ipvs.BalancerConfig{ResyncInterval: -1})
		stop := runBalancer(t, bl)
		synctest.Wait()
		check := func(step int) {
			t.Helper()
			if got, want := tab.Table(), bl.Desired(); !slices.EqualFunc(got, want, func(a, b ipvs.VirtualServer) bool {
				return a.Service.Normalize() == b.Service.Normalize() && slices.Equal(a.Destinations, b.Destinations)
			}) {
				t.Fatalf("step %d: table\n%v\nwant\n%v", step, got, want)
			}
		}
		check(-1)
		for step := range 300 {
			for range 1 + rng.IntN(3) {
				i := rng.IntN(n)
				switch r := rng.IntN(10); {
				case r < 4 && live[i] && !susp[i]:
					d := pool(i, false).RealServers[rng.IntN(5)].DestinationKey
					if err := bl.SetHealth(pool(i, false).Service.ServiceKey, d, rng.IntN(2) == 0); err != nil {
						t.Fatal(err)
					}
				case r < 7 && live[i] && !susp[i]:
					d := pool(i, false).RealServers[rng.IntN(5)].DestinationKey
					if err := bl.SetWeight(pool(i, false).Service.ServiceKey, d, rng.IntN(5)); err != nil {
						t.Fatal(err)
					}
				case r < 8:
					live[i] = !live[i]
					if err := bl.SetPools(pools()); err != nil {
						t.Fatal(err)
					}
				case live[i]:
					susp[i] = !susp[i]
					if err := bl.SetPools(pools()); err != nil {
						t.Fatal(err)
					}
				}
			}
			synctest.Wait()
			check(step)
		}
		// One real server's health: one write, no read.
		for i := range n {
			if live[i] && !susp[i] {
				k := pool(i, false).Service.ServiceKey
				d := pool(i, false).RealServers[0].DestinationKey
				up, _ := bl.Up(k, d)
				tab.ResetCounts()
				reads := tab.Reads()
				if err := bl.SetHealth(k, d, !up); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				if w, r := tab.Writes(), tab.Reads()-reads; w != 1 || r != 0 {
					t.Errorf("one health change: %d writes, %d reads; want 1, 0", w, r)
				}
				break
			}
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBalancerEventsAfterTheWrite: a change whose write fails is not
// reported until the write that applies it (here the retry) succeeds.
func TestBalancerEventsAfterTheWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := ipvstest.New()
		pools := twoPools()
		a := pools[0].Service.ServiceKey
		bl := newBalancer(t, tab, pools, ipvs.BalancerConfig{RetryInterval: 5 * time.Second})
		sub := bl.Subscribe(16)
		stop := runBalancer(t, bl)
		synctest.Wait()
		d := dkey(netAddr(1))
		tab.FailOnce(ipvs.OpDeleteDestination, a, d, errors.New("boom"))
		if err := bl.SetHealth(a, d, false); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wantEvents(t, sub) // not applied: nothing yet
		time.Sleep(5 * time.Second)
		synctest.Wait()
		wantEvents(t, sub, "real server down 10.0.0.2:80 of tcp 192.0.2.10:80")
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}
