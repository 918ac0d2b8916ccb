package ipvs_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/internal/retry"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
)

// backends are the two write paths of a Syncer over an ipvstest.Table:
// batched (the Table's Apply) and one call at a time.
var backends = []struct {
	name    string
	of      func(*ipvstest.Table) ipvs.Backend
	batches int // Batcher calls per Sync or Apply that writes
}{
	{"batched", func(t *ipvstest.Table) ipvs.Backend { return t }, 1},
	{"unbatched", ipvstest.Unbatched, 0},
}

// eachBackend runs f, batched and unbatched, with a new table and a
// Syncer over it; batches is the number of Batcher calls a Sync or Apply
// that writes makes.
func eachBackend(t *testing.T, f func(t *testing.T, tab *ipvstest.Table, s *ipvs.Syncer, batches int)) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			tab := ipvstest.New()
			f(t, tab, ipvs.NewSyncer(be.of(tab), ipvs.SyncConfig{}), be.batches)
		})
	}
}

func mustApply(t *testing.T, s *ipvs.Syncer, desired []ipvs.VirtualServer, want ipvs.Result) {
	t.Helper()
	res, err := s.Apply(t.Context(), desired)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if res != want {
		t.Fatalf("Apply did %+v, want %+v", res, want)
	}
}

// wantIO checks the reads and writes the table saw since the last check.
func wantIO(t *testing.T, tab *ipvstest.Table, reads, writes int) {
	t.Helper()
	if r, w := tab.Reads(), tab.Writes(); r != reads || w != writes {
		t.Fatalf("%d reads and %d writes, want %d and %d", r, w, reads, writes)
	}
	tab.ResetCounts()
}

func TestApplyChange1pct(t *testing.T) {
	eachBackend(t, func(t *testing.T, tab *ipvstest.Table, s *ipvs.Syncer, batches int) {
		base := table(1000, 10)
		mustSync(t, s, base, ipvs.Result{CreatedServices: 1000, CreatedDests: 10000})
		if got := tab.Batches(); got != batches {
			t.Fatalf("Sync made %d batch calls, want %d", got, batches)
		}
		wantIO(t, tab, 1, 11000) // from empty: one service dump, no destinations to read
		mustApply(t, s, changed(base), ipvs.Result{UpdatedDests: 100})
		wantIO(t, tab, 0, 100)
		mustEqualTable(t, tab, changed(base))
		mustApply(t, s, base, ipvs.Result{UpdatedDests: 100})
		wantIO(t, tab, 0, 100)
		mustApply(t, s, base, ipvs.Result{})
		wantIO(t, tab, 0, 0)
		mustEqualTable(t, tab, base)
	})
}

// TestApplyFirstSyncs: without a record (a new Syncer, with adopted keys
// it has not read) Apply reads the table, like Sync.
func TestApplyFirstSyncs(t *testing.T) {
	tab := ipvstest.New()
	old := table(3, 2)
	if err := tab.Load(old...); err != nil {
		t.Fatal(err)
	}
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{Adopt: []ipvs.ServiceKey{old[2].ServiceKey}})
	desired := old[:2]
	desired[0].Destinations[0].Weight = 7
	mustApply(t, s, desired, ipvs.Result{UpdatedDests: 1, DeletedServices: 1})
	wantIO(t, tab, 3, 2) // the services, and the two desired services' destinations
	mustEqualTable(t, tab, desired)
	mustApply(t, s, desired, ipvs.Result{})
	wantIO(t, tab, 0, 0)
}

// TestApplyAfterFailure: a failed operation, an interrupted dump or a
// cancelled context leave no record; the next Apply reads and converges,
// the one after reads nothing again.
func TestApplyAfterFailure(t *testing.T) {
	boom := errors.New("boom")
	for name, breakIt := range map[string]func(tab *ipvstest.Table, s *ipvs.Syncer, desired []ipvs.VirtualServer) error{
		"failed write": func(tab *ipvstest.Table, s *ipvs.Syncer, desired []ipvs.VirtualServer) error {
			tab.FailOnce(ipvs.OpUpdateDestination, desired[1].ServiceKey, desired[1].Destinations[0].DestinationKey, boom)
			_, err := s.Apply(t.Context(), desired)
			return err
		},
		"write to what someone deleted": func(tab *ipvstest.Table, s *ipvs.Syncer, desired []ipvs.VirtualServer) error {
			// Someone deleted the service; Apply does not know and updates
			// its destination: that fails, and the next Apply, a Sync,
			// creates it again.
			if err := tab.DeleteService(t.Context(), desired[1].ServiceKey); err != nil {
				t.Fatal(err)
			}
			_, err := s.Apply(t.Context(), desired)
			return err
		},
		"interrupted dump": func(tab *ipvstest.Table, s *ipvs.Syncer, desired []ipvs.VirtualServer) error {
			tab.InterruptDumps(retry.DumpAttempts)
			_, err := s.Sync(t.Context(), desired)
			tab.InterruptDumps(0)
			return err
		},
		"cancelled": func(tab *ipvstest.Table, s *ipvs.Syncer, desired []ipvs.VirtualServer) error {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := s.Apply(ctx, desired)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			tab := ipvstest.New()
			s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
			desired := table(3, 2)
			mustSync(t, s, desired, ipvs.Result{CreatedServices: 3, CreatedDests: 6})
			desired[1].Destinations[0].Weight = 9
			tab.ResetCounts()
			if err := breakIt(tab, s, desired); err == nil {
				t.Fatal("no error")
			}
			tab.ResetCounts()
			if _, err := s.Apply(t.Context(), desired); err != nil {
				t.Fatalf("Apply after the failure: %v", err)
			}
			if tab.Count(ipvs.OpListServices) != 1 {
				t.Fatalf("Apply after the failure read the services %d times, want 1", tab.Count(ipvs.OpListServices))
			}
			mustEqualTable(t, tab, desired)
			tab.ResetCounts()
			desired[2].Destinations[1].Weight = 4
			mustApply(t, s, desired, ipvs.Result{UpdatedDests: 1})
			wantIO(t, tab, 0, 1)
		})
	}
}

// TestApplyDoesNotSeeExternalChanges: what another program changes in an
// owned service is not seen by Apply (it reads nothing); the next Sync
// repairs it.
func TestApplyDoesNotSeeExternalChanges(t *testing.T) {
	tab := ipvstest.New()
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
	desired := table(2, 3)
	mustSync(t, s, desired, ipvs.Result{CreatedServices: 2, CreatedDests: 6})
	// Another program removes a destination and changes a weight.
	ctx := t.Context()
	if err := tab.DeleteDestination(ctx, desired[0].ServiceKey, desired[0].Destinations[1].DestinationKey); err != nil {
		t.Fatal(err)
	}
	d := desired[1].Destinations[2]
	d.Weight = 50
	if err := tab.UpdateDestination(ctx, desired[1].ServiceKey, d); err != nil {
		t.Fatal(err)
	}
	tab.ResetCounts()
	mustApply(t, s, desired, ipvs.Result{})
	wantIO(t, tab, 0, 0)
	if got := tab.Table(); len(got[0].Destinations) != 2 {
		t.Fatalf("Apply repaired the table: %v", got)
	}
	mustSync(t, s, desired, ipvs.Result{CreatedDests: 1, UpdatedDests: 1})
	mustEqualTable(t, tab, desired)
}

// TestApplyNewServiceSyncs: a desired service the record does not hold
// may be someone else's: Apply syncs, and takes it over.
func TestApplyNewServiceSyncs(t *testing.T) {
	tab := ipvstest.New()
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
	all := table(3, 2)
	mustSync(t, s, all[:2], ipvs.Result{CreatedServices: 2, CreatedDests: 4})
	if err := tab.Load(ipvs.VirtualServer{Service: all[2].Service, Destinations: all[2].Destinations[:1]}); err != nil {
		t.Fatal(err)
	}
	tab.ResetCounts()
	mustApply(t, s, all, ipvs.Result{CreatedDests: 1})
	if tab.Count(ipvs.OpListServices) != 1 {
		t.Fatal("Apply with a new service did not read the table")
	}
	mustEqualTable(t, tab, all)
	// Removing services needs no read: they are in the record.
	tab.ResetCounts()
	mustApply(t, s, all[:1], ipvs.Result{DeletedServices: 2})
	wantIO(t, tab, 0, 2)
	if got := s.Owned(); len(got) != 1 || got[0] != all[0].ServiceKey {
		t.Fatalf("owns %v", got)
	}
}

// TestApplyRandomTables: Apply and Sync do the same operations, batched
// or not, and reach the same table.
func TestApplyRandomTables(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			for i := range 200 {
				tab := ipvstest.New()
				s := ipvs.NewSyncer(be.of(tab), ipvs.SyncConfig{})
				a, b := randomTable(r), randomTable(r)
				if _, err := s.Sync(t.Context(), a); err != nil {
					t.Fatalf("round %d: %v", i, err)
				}
				tab.ResetCounts()
				res, err := s.Apply(t.Context(), b)
				if err != nil {
					t.Fatalf("round %d: %v", i, err)
				}
				mustEqualTable(t, tab, b)
				want := diffSize(a, b)
				if res.Ops() != want || tab.Writes() != want {
					t.Fatalf("round %d: %d ops (%d writes), want %d", i, res.Ops(), tab.Writes(), want)
				}
				if tab.Reads() != 0 && !newKeys(a, b) {
					t.Fatalf("round %d: Apply read %d times", i, tab.Reads())
				}
			}
		})
	}
}

// newKeys reports whether b has a service a has not.
func newKeys(a, b []ipvs.VirtualServer) bool {
	have := map[ipvs.ServiceKey]bool{}
	for _, v := range a {
		have[v.ServiceKey] = true
	}
	for _, v := range b {
		if !have[v.ServiceKey] {
			return true
		}
	}
	return false
}

// TestSyncServiceCreateFailsBothPaths: the destinations of a service whose
// creation failed fail too, each reported, batched or not; the next Sync
// converges.
func TestSyncServiceCreateFailsBothPaths(t *testing.T) {
	eachBackend(t, func(t *testing.T, tab *ipvstest.Table, s *ipvs.Syncer, _ int) {
		desired := table(2, 3)
		tab.FailOnce(ipvs.OpCreateService, desired[0].ServiceKey, ipvs.DestinationKey{}, ipvs.ErrUnsupported)
		res, err := s.Sync(t.Context(), desired)
		if want := (ipvs.Result{CreatedServices: 1, CreatedDests: 3, Failed: 4}); res != want {
			t.Fatalf("did %+v, want %+v", res, want)
		}
		var dests []ipvs.DestinationKey
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var se *ipvs.SyncError
			if !errors.As(e, &se) || se.Service != desired[0].ServiceKey {
				t.Fatalf("error %v", e)
			}
			if se.Op == ipvs.OpCreateDestination {
				if !errors.Is(se, ipvs.ErrNotFound) {
					t.Fatalf("destination error %v", se)
				}
				dests = append(dests, se.Dest)
			}
		}
		if len(dests) != 3 {
			t.Fatalf("destination errors for %v", dests)
		}
		mustApply(t, s, desired, ipvs.Result{CreatedServices: 1, CreatedDests: 3})
		mustEqualTable(t, tab, desired)
	})
}

// TestBalancerResync: changes are applied without reads; a full Sync
// (reads) runs at start and every ResyncInterval, and repairs what
// another program changed.
func TestBalancerResync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tab := ipvstest.New()
		pools := twoPools()
		a := pools[0].Service.ServiceKey
		bl := newBalancer(t, tab, pools, ipvs.BalancerConfig{ResyncInterval: 10 * time.Second})
		stop := runBalancer(t, bl)
		start := time.Now()
		synctest.Wait()
		wantIO(t, tab, 1, 8)

		time.Sleep(3 * time.Second)
		if err := bl.SetWeight(a, dkey(netAddr(1)), 4); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		wantIO(t, tab, 0, 1)

		// Another program deletes a destination: not seen until the resync.
		if err := tab.DeleteDestination(t.Context(), a, dkey(netAddr(2))); err != nil {
			t.Fatal(err)
		}
		tab.ResetCounts()
		time.Sleep(time.Until(start.Add(10*time.Second - time.Nanosecond)))
		synctest.Wait()
		wantIO(t, tab, 0, 0)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		wantIO(t, tab, 3, 1) // the services, two services' destinations; the repair
		mustEqualTable(t, tab, bl.Desired())

		// The next one 10 s after that one.
		time.Sleep(10*time.Second - time.Nanosecond)
		synctest.Wait()
		wantIO(t, tab, 0, 0)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		wantIO(t, tab, 3, 0)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBalancerResyncInterval: the default resync comes after 30 s; a
// negative ResyncInterval never reads again, and changes are still
// applied.
func TestBalancerResyncInterval(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		reads    int
	}{{0, 3}, {-1, 0}} {
		t.Run(tc.interval.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tab := ipvstest.New()
				pools := twoPools()
				bl := newBalancer(t, tab, pools, ipvs.BalancerConfig{ResyncInterval: tc.interval})
				stop := runBalancer(t, bl)
				synctest.Wait()
				wantIO(t, tab, 1, 8)
				time.Sleep(ipvs.DefaultResyncInterval - time.Nanosecond)
				synctest.Wait()
				wantIO(t, tab, 0, 0)
				time.Sleep(time.Nanosecond)
				synctest.Wait()
				wantIO(t, tab, tc.reads, 0)
				time.Sleep(time.Hour + 7*time.Second) // not at a resync
				synctest.Wait()
				tab.ResetCounts()
				if err := bl.SetWeight(pools[1].Service.ServiceKey, dkey(netAddr(1)), 4); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				wantIO(t, tab, 0, 1)
				if err := stop(); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
