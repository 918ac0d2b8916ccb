package ipvs_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
)

// drain returns the events queued in sub now, as strings, without
// waiting.
func drain(sub *ipvs.Subscription) []string {
	var out []string
	for {
		select {
		case e, ok := <-sub.C():
			if !ok {
				return append(out, "closed")
			}
			out = append(out, e.String())
		default:
			return out
		}
	}
}

func wantEvents(t *testing.T, sub *ipvs.Subscription, want ...string) {
	t.Helper()
	if got := drain(sub); !slices.Equal(got, want) {
		t.Fatalf("events\n%q\nwant\n%q", got, want)
	}
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

// newBalancer is NewBalancer that fails t on error.
func newBalancer(t *testing.T, b ipvs.Backend, pools []ipvs.PoolConfig, cfg ipvs.BalancerConfig) *ipvs.Balancer {
	t.Helper()
	bl, err := ipvs.NewBalancer(b, pools, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return bl
}

// runBalancer starts bl.Run and returns a function that stops it and
// returns Run's error; a test that ends without calling it (a failure)
// stops it in its cleanup.
func runBalancer(t *testing.T, bl *ipvs.Balancer) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bl.Run(ctx) }()
	var (
		once sync.Once
		err  error
	)
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
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
		pools := twoPools()
		a, b := pools[0].Service.ServiceKey, pools[1].Service.ServiceKey
		bl := newBalancer(t, tab, pools, ipvs.BalancerConfig{Omega: true})
		sub := bl.Subscribe(16)
		stop := runBalancer(t, bl)
		synctest.Wait()
		wantCounts(t, tab, map[ipvs.Op]int{ipvs.OpCreateService: 2, ipvs.OpCreateDestination: 6})
		wantEvents(t, sub) // none for the state the pools start in

		// Three changes at once: one Sync.
		for i := range 3 {
			if err := bl.SetHealth(a, dkey(netAddr(i)), false); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		wantCounts(t, tab, map[ipvs.Op]int{ipvs.OpDeleteDestination: 3, ipvs.OpCreateDestination: 1})
		wantEvents(t, sub,
			"real server down 10.0.0.1:80 of tcp 192.0.2.10:80",
			"real server down 10.0.0.2:80 of tcp 192.0.2.10:80",
			"real server down 10.0.0.3:80 of tcp 192.0.2.10:80",
			"quorum down tcp 192.0.2.10:80")
		if up, _ := bl.QuorumUp(a); up {
			t.Fatal("quorum still up")
		}

		// The same health again is no transition.
		if err := bl.SetHealth(a, dkey(netAddr(0)), false); err != nil {
			t.Fatal(err)
		}
		if err := bl.SetHealth(b, dkey(netAddr(0)), false); err != nil {
			t.Fatal(err)
		}
		if err := bl.SetWeight(b, dkey(netAddr(1)), 5); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wantCounts(t, tab, map[ipvs.Op]int{ipvs.OpUpdateDestination: 2})
		wantEvents(t, sub, "real server down 10.0.0.1:80 of tcp 192.0.2.11:80")

		if err := bl.SetHealth(a, dkey(netAddr(2)), true); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wantCounts(t, tab, map[ipvs.Op]int{ipvs.OpDeleteDestination: 1, ipvs.OpCreateDestination: 1})
		wantEvents(t, sub, "real server up 10.0.0.3:80 of tcp 192.0.2.10:80", "quorum up tcp 192.0.2.10:80")

		if err := bl.SetHealth(tcp("192.0.2.99:80"), dkey(netAddr(0)), true); !errors.Is(err, ipvs.ErrNotFound) {
			t.Fatalf("unknown pool: %v", err)
		}
		if _, err := bl.Up(a, dkey("10.0.0.99:80")); !errors.Is(err, ipvs.ErrNotFound) {
			t.Fatalf("unknown server: %v", err)
		}

		// Stopping removes the owned services only; omega reports the
		// servers and quorums that were up; C is closed.
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		mustEqualTable(t, tab, []ipvs.VirtualServer{foreign})
		wantEvents(t, sub,
			"real server down 10.0.0.3:80 of tcp 192.0.2.10:80",
			"quorum down tcp 192.0.2.10:80",
			"real server down 10.0.0.2:80 of tcp 192.0.2.11:80",
			"real server down 10.0.0.3:80 of tcp 192.0.2.11:80",
			"quorum down tcp 192.0.2.11:80",
			"closed")
		if st := bl.Stats(); st.Syncs != 1 || st.Applies < 3 || st.Failures != 0 || st.Events != 12 || st.Dropped != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestBalancerSubscriptions: a subscriber that does not read never holds
// the Balancer up; a full queue drops its oldest event, counted; C closes
// when Run returns, and a subscription made after that is closed.
func TestBalancerSubscriptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := ipvstest.New()
		pools := twoPools()
		a := pools[0].Service.ServiceKey
		bl := newBalancer(t, tab, pools, ipvs.BalancerConfig{})
		latest, stuck, closed := bl.Subscribe(1), bl.Subscribe(2), bl.Subscribe(4)
		closed.Close()
		closed.Close()
		stop := runBalancer(t, bl)
		synctest.Wait()
		wantCounts(t, tab, map[ipvs.Op]int{ipvs.OpCreateService: 2, ipvs.OpCreateDestination: 6})
		for i := range 10 {
			if err := bl.SetHealth(a, dkey(netAddr(0)), i%2 == 1); err != nil {
				t.Fatal(err)
			}
			synctest.Wait() // each change applied on its own
		}
		wantCounts(t, tab, map[ipvs.Op]int{ipvs.OpDeleteDestination: 5, ipvs.OpCreateDestination: 5})
		wantEvents(t, latest, "real server up 10.0.0.1:80 of tcp 192.0.2.10:80")
		if latest.Dropped() != 9 || stuck.Dropped() != 8 || closed.Dropped() != 0 {
			t.Fatalf("dropped %d %d %d, want 9 8 0", latest.Dropped(), stuck.Dropped(), closed.Dropped())
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		wantEvents(t, stuck,
			"real server down 10.0.0.1:80 of tcp 192.0.2.10:80",
			"real server up 10.0.0.1:80 of tcp 192.0.2.10:80",
			"closed")
		wantEvents(t, latest, "closed")
		wantEvents(t, closed, "closed")
		wantEvents(t, bl.Subscribe(1), "closed")
		if st := bl.Stats(); st.Events != 10 || st.Dropped != 17 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestBalancerRunsOnce: a second Run returns ErrRan, while the first runs
// and after it returned.
func TestBalancerRunsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bl := newBalancer(t, ipvstest.New(), twoPools(), ipvs.BalancerConfig{})
		stop := runBalancer(t, bl)
		synctest.Wait()
		ended, cancel := context.WithCancel(t.Context())
		cancel() // a second Run that did run would return at once
		if err := bl.Run(ended); !errors.Is(err, ipvs.ErrRan) {
			t.Fatalf("Run while running: %v", err)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if err := bl.Run(ended); !errors.Is(err, ipvs.ErrRan) {
			t.Fatalf("Run after Run: %v", err)
		}
	})
}

func TestBalancerRetriesFailedSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := ipvstest.New()
		pools := twoPools()
		a := pools[0].Service.ServiceKey
		tab.FailOnce(ipvs.OpCreateDestination, a, dkey(netAddr(1)), errors.New("boom"))
		bl := newBalancer(t, tab, pools, ipvs.BalancerConfig{RetryInterval: 5 * time.Second})
		stop := runBalancer(t, bl)
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
		if st := bl.Stats(); st.Syncs != 2 || st.Failures != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestBalancerRetryOff: with a negative RetryInterval a failed Sync is not
// retried on a timer; the next change syncs in full and repairs it.
func TestBalancerRetryOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := ipvstest.New()
		pools := twoPools()
		a := pools[0].Service.ServiceKey
		tab.FailOnce(ipvs.OpCreateDestination, a, dkey(netAddr(1)), errors.New("boom"))
		bl := newBalancer(t, tab, pools, ipvs.BalancerConfig{RetryInterval: -1, ResyncInterval: -1})
		stop := runBalancer(t, bl)
		synctest.Wait()
		wantIO(t, tab, 1, 7)
		time.Sleep(ipvs.DefaultRetryInterval)
		synctest.Wait()
		wantIO(t, tab, 0, 0)
		time.Sleep(time.Hour)
		synctest.Wait()
		wantIO(t, tab, 0, 0)
		if err := bl.SetWeight(a, dkey(netAddr(0)), 2); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wantIO(t, tab, 3, 2) // a full Sync: the services, two services' destinations; the repair and the weight
		mustEqualTable(t, tab, bl.Desired())
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// blockingDeletes holds every DeleteService until release is closed or
// its context ends.
type blockingDeletes struct {
	ipvs.Backend
	release chan struct{}
}

func (b blockingDeletes) DeleteService(ctx context.Context, k ipvs.ServiceKey) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-b.release:
		return b.Backend.DeleteService(ctx, k)
	}
}

// TestBalancerReleaseTimeout: the release at the end of Run is bounded by
// ReleaseTimeout (DefaultReleaseTimeout for zero), and unbounded when it is
// negative.
func TestBalancerReleaseTimeout(t *testing.T) {
	for _, tc := range []struct {
		timeout, want time.Duration
	}{{0, ipvs.DefaultReleaseTimeout}, {3 * time.Second, 3 * time.Second}, {-1, 2 * time.Hour}} {
		t.Run(tc.timeout.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tab := ipvstest.New()
				be := blockingDeletes{Backend: tab, release: make(chan struct{})}
				bl := newBalancer(t, be, twoPools(), ipvs.BalancerConfig{ReleaseTimeout: tc.timeout})
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				go func() { done <- bl.Run(ctx) }()
				synctest.Wait()
				cancel()
				start := time.Now()
				if tc.timeout < 0 {
					time.Sleep(tc.want)
					synctest.Wait()
					select {
					case err := <-done:
						t.Fatalf("Run returned after %v without a bound: %v", time.Since(start), err)
					default:
					}
					close(be.release)
				}
				err := <-done
				if got := time.Since(start); got != tc.want {
					t.Fatalf("Run returned after %v, want %v", got, tc.want)
				}
				if wantErr := tc.timeout >= 0; (err != nil) != wantErr || (wantErr && !errors.Is(err, context.DeadlineExceeded)) {
					t.Fatalf("Run: %v", err)
				}
			})
		})
	}
}

func TestBalancerKeepOnExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := ipvstest.New()
		bl := newBalancer(t, tab, twoPools(), ipvs.BalancerConfig{KeepOnExit: true})
		sub := bl.Subscribe(8)
		stop := runBalancer(t, bl)
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		mustEqualTable(t, tab, bl.Desired())
		wantEvents(t, sub, "closed") // no omega: no events at the end
		// A later run adopts what this one left, and removes it.
		bl2 := newBalancer(t, tab, nil, ipvs.BalancerConfig{Adopt: bl.Owned()})
		stop = runBalancer(t, bl2)
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
	pools[1].SorryServer = sorry(1)
	_, err := ipvs.NewBalancer(ipvstest.New(), pools, ipvs.BalancerConfig{})
	if !errors.Is(err, ipvs.ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"ServiceKey: duplicate pool", "SorryServer: set with Quorum -1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v does not say %q", err, want)
		}
	}
}
