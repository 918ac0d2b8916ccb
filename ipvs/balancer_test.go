package ipvs_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
)

// quorumLog records quorum callbacks.
type quorumLog struct {
	mu  sync.Mutex
	log []string
}

func (q *quorumLog) up(k ipvs.ServiceKey)   { q.add("up " + k.String()) }
func (q *quorumLog) down(k ipvs.ServiceKey) { q.add("down " + k.String()) }
func (q *quorumLog) add(s string) {
	q.mu.Lock()
	q.log = append(q.log, s)
	q.mu.Unlock()
}

func (q *quorumLog) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.log
	q.log = nil
	return out
}

func twoPools() []ipvs.PoolConfig {
	a := ipvs.PoolConfig{Service: svc("192.0.2.10:80"), SorryServer: sorry(1)}
	b := ipvs.PoolConfig{Service: svc("192.0.2.11:80")}
	for i := range 3 {
		a.RealServers = append(a.RealServers, ipvs.RealServer{Destination: dest(netAddr(i), 1)})
		b.RealServers = append(b.RealServers, ipvs.RealServer{Destination: dest(netAddr(i), 1), InhibitOnFailure: true})
	}
	return []ipvs.PoolConfig{a, b}
}

// runBalancer starts bl.Run and returns a function that stops it and
// returns Run's error.
func runBalancer(bl *ipvs.Balancer) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bl.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

func wantCounts(t *testing.T, tab *ipvstest.Table, want map[ipvs.Op]int) {
	t.Helper()
	for _, op := range []ipvs.Op{ipvs.OpCreateService, ipvs.OpUpdateService, ipvs.OpDeleteService, ipvs.OpCreateDestination, ipvs.OpUpdateDestination, ipvs.OpDeleteDestination} {
		if got := tab.Count(op); got != want[op] {
			t.Errorf("%v: %d, want %d", op, got, want[op])
		}
	}
	tab.ResetCounts()
}

func TestBalancer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := ipvstest.New()
		foreign := ipvs.VirtualServer{Service: svc("192.0.2.10:443")}
		if err := tab.Load(foreign); err != nil {
			t.Fatal(err)
		}
		var q quorumLog
		pools := twoPools()
		a, b := pools[0].Service.ServiceKey, pools[1].Service.ServiceKey
		bl, err := ipvs.NewBalancer(tab, pools, ipvs.BalancerConfig{OnQuorumUp: q.up, OnQuorumDown: q.down, Omega: true})
		if err != nil {
			t.Fatal(err)
		}
		stop := runBalancer(bl)
		synctest.Wait()
		wantCounts(t, tab, map[ipvs.Op]int{ipvs.OpCreateService: 2, ipvs.OpCreateDestination: 6})

		// Three changes at once: one Sync.
		for i := range 3 {
			if err := bl.SetHealth(a, dkey(netAddr(i)), false); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		wantCounts(t, tab, map[ipvs.Op]int{ipvs.OpDeleteDestination: 3, ipvs.OpCreateDestination: 1})
		if got := q.take(); !slices.Equal(got, []string{"down tcp 192.0.2.10:80"}) {
			t.Fatalf("callbacks %v", got)
		}
		if up, _ := bl.QuorumUp(a); up {
			t.Fatal("quorum still up")
		}

		if err := bl.SetHealth(b, dkey(netAddr(0)), false); err != nil {
			t.Fatal(err)
		}
		if err := bl.SetWeight(b, dkey(netAddr(1)), 5); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wantCounts(t, tab, map[ipvs.Op]int{ipvs.OpUpdateDestination: 2})

		if err := bl.SetHealth(a, dkey(netAddr(2)), true); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wantCounts(t, tab, map[ipvs.Op]int{ipvs.OpDeleteDestination: 1, ipvs.OpCreateDestination: 1})
		if got := q.take(); !slices.Equal(got, []string{"up tcp 192.0.2.10:80"}) {
			t.Fatalf("callbacks %v", got)
		}

		if err := bl.SetHealth(tcp("192.0.2.99:80"), dkey(netAddr(0)), true); !errors.Is(err, ipvs.ErrNotFound) {
			t.Fatalf("unknown pool: %v", err)
		}

		// Stopping removes the owned services only; omega reports the quorums that were up.
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		mustEqualTable(t, tab, []ipvs.VirtualServer{foreign})
		if got := q.take(); !slices.Equal(got, []string{"down tcp 192.0.2.10:80", "down tcp 192.0.2.11:80"}) {
			t.Fatalf("omega callbacks %v", got)
		}
	})
}

func TestBalancerRetriesFailedSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := ipvstest.New()
		pools := twoPools()
		a := pools[0].Service.ServiceKey
		tab.FailOnce(ipvs.OpCreateDestination, a, dkey(netAddr(1)), errors.New("boom"))
		bl, err := ipvs.NewBalancer(tab, pools, ipvs.BalancerConfig{RetryInterval: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		stop := runBalancer(bl)
		synctest.Wait()
		wantCounts(t, tab, map[ipvs.Op]int{ipvs.OpCreateService: 2, ipvs.OpCreateDestination: 5})
		time.Sleep(5*time.Second - time.Nanosecond)
		synctest.Wait()
		wantCounts(t, tab, nil) // not yet
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		wantCounts(t, tab, map[ipvs.Op]int{ipvs.OpCreateDestination: 1})
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		mustEqualTable(t, tab, nil)
	})
}

func TestBalancerKeepOnExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := ipvstest.New()
		var q quorumLog
		bl, err := ipvs.NewBalancer(tab, twoPools(), ipvs.BalancerConfig{KeepOnExit: true, OnQuorumDown: q.down})
		if err != nil {
			t.Fatal(err)
		}
		stop := runBalancer(bl)
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		mustEqualTable(t, tab, bl.Desired())
		if got := q.take(); len(got) != 0 {
			t.Fatalf("callbacks without omega: %v", got)
		}
		if err := bl.Run(context.Background()); err == nil {
			t.Fatal("second Run ran")
		}
		// A later run adopts what this one left, and removes it.
		bl2, err := ipvs.NewBalancer(tab, nil, ipvs.BalancerConfig{Adopt: bl.Owned()})
		if err != nil {
			t.Fatal(err)
		}
		stop = runBalancer(bl2)
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		mustEqualTable(t, tab, nil)
	})
}

func TestNewBalancerRejects(t *testing.T) {
	pools := twoPools()
	pools = append(pools, pools[0])
	pools[1].Quorum = -1
	_, err := ipvs.NewBalancer(ipvstest.New(), pools, ipvs.BalancerConfig{})
	if !errors.Is(err, ipvs.ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
}
