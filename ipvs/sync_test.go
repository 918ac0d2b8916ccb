package ipvs_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/retry"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
)

// table returns n services on 192.0.2.x:80, each with m destinations.
func table(n, m int) []ipvs.VirtualServer {
	out := make([]ipvs.VirtualServer, n)
	for i := range out {
		out[i].Service = svc(fmt.Sprintf("192.0.%d.%d:80", 2+i/250, 1+i%250))
		for j := range m {
			out[i].Destinations = append(out[i].Destinations, dest(fmt.Sprintf("10.%d.%d.%d:8080", i/250, i%250, 1+j), 1+j))
		}
	}
	return out
}

// normalized returns t sorted and in Normalize form, as ipvstest.Table
// reports it.
func normalized(t []ipvs.VirtualServer) []ipvs.VirtualServer {
	out := make([]ipvs.VirtualServer, 0, len(t))
	for _, v := range t {
		n := ipvs.VirtualServer{Service: v.Service.Normalize(), Destinations: []ipvs.Destination{}}
		for _, d := range v.Destinations {
			n.Destinations = append(n.Destinations, d.Normalize())
		}
		slices.SortFunc(n.Destinations, func(a, b ipvs.Destination) int { return a.DestinationKey.Compare(b.DestinationKey) })
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b ipvs.VirtualServer) int { return a.ServiceKey.Compare(b.ServiceKey) })
	return out
}

func mustEqualTable(t *testing.T, tab *ipvstest.Table, want []ipvs.VirtualServer) {
	t.Helper()
	if got, want := tab.Table(), normalized(want); !reflect.DeepEqual(got, want) {
		t.Fatalf("table holds\n%v\nwant\n%v", got, want)
	}
}

func mustSync(t *testing.T, s *ipvs.Syncer, desired []ipvs.VirtualServer, want ipvs.Result) {
	t.Helper()
	res, err := s.Sync(t.Context(), desired)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if res != want {
		t.Fatalf("Sync did %+v, want %+v", res, want)
	}
}

func TestSyncFromEmptyThenNothing(t *testing.T) {
	tab := ipvstest.New()
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
	desired := table(3, 4)
	mustSync(t, s, desired, ipvs.Result{CreatedServices: 3, CreatedDests: 12})
	mustEqualTable(t, tab, desired)
	if got := tab.Writes(); got != 15 {
		t.Fatalf("table saw %d writes, want 15", got)
	}
	tab.ResetCounts()
	mustSync(t, s, desired, ipvs.Result{})
	if got := tab.Writes(); got != 0 {
		t.Fatalf("second Sync wrote %d times", got)
	}
	// Only the desired services' destinations are read.
	if got := tab.Count(ipvs.OpListServices); got != 1 {
		t.Errorf("%d service dumps, want 1", got)
	}
	if got := tab.Count(ipvs.OpListDestinations); got != 3 {
		t.Errorf("%d destination dumps, want 3", got)
	}
}

func TestSyncChanges(t *testing.T) {
	tab := ipvstest.New()
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
	desired := table(3, 4)
	mustSync(t, s, desired, ipvs.Result{CreatedServices: 3, CreatedDests: 12})

	// k weights: k updates.
	desired[0].Destinations[1].Weight = 50
	desired[2].Destinations[0].Weight = 0
	desired[2].Destinations[3].Weight = 7
	mustSync(t, s, desired, ipvs.Result{UpdatedDests: 3})
	mustEqualTable(t, tab, desired)

	// Forwarding method and thresholds: updates in place.
	desired[1].Destinations[0].Forward = ipvs.Route
	desired[1].Destinations[1].UpperThreshold = 100
	mustSync(t, s, desired, ipvs.Result{UpdatedDests: 2})

	// Scheduler, flags, persistence: one service update each time.
	desired[0].Scheduler = ipvs.SourceHashing
	mustSync(t, s, desired, ipvs.Result{UpdatedServices: 1})
	desired[0].SchedFlags = ipvs.FlagFallback
	desired[0].Persistence = 300 * time.Second
	desired[0].PersistenceMask = 24
	mustSync(t, s, desired, ipvs.Result{UpdatedServices: 1})
	// An explicit full mask is the default one.
	desired[1].PersistenceMask = 32
	mustSync(t, s, desired, ipvs.Result{})
	mustEqualTable(t, tab, desired)

	// A destination's key: delete and create.
	desired[1].Destinations[2].Port = 9090
	mustSync(t, s, desired, ipvs.Result{DeletedDests: 1, CreatedDests: 1})
	// A service's key: the new one with its destinations, then the old one deleted.
	desired[2].Port = 8443
	mustSync(t, s, desired, ipvs.Result{CreatedServices: 1, CreatedDests: 4, DeletedServices: 1})
	mustEqualTable(t, tab, desired)

	// Removing a destination and a service.
	desired[0].Destinations = desired[0].Destinations[1:]
	desired = desired[:2]
	mustSync(t, s, desired, ipvs.Result{DeletedDests: 1, DeletedServices: 1})
	mustEqualTable(t, tab, desired)

	// An empty table deletes everything owned.
	mustSync(t, s, nil, ipvs.Result{DeletedServices: 2})
	mustEqualTable(t, tab, nil)
	if owned := s.Owned(); len(owned) != 0 {
		t.Fatalf("still owns %v", owned)
	}
}

func TestSyncLeavesForeignServices(t *testing.T) {
	tab := ipvstest.New()
	foreign := []ipvs.VirtualServer{
		{Service: svc("192.0.2.1:443"), Destinations: []ipvs.Destination{dest("10.9.0.1:443", 1)}}, // same VIP, other port
		{Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{FWMark: 9}, Scheduler: ipvs.RoundRobin}},
	}
	if err := tab.Load(foreign...); err != nil {
		t.Fatal(err)
	}
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
	desired := table(1, 2) // 192.0.2.1:80
	mustSync(t, s, desired, ipvs.Result{CreatedServices: 1, CreatedDests: 2})
	mustEqualTable(t, tab, append(slices.Clone(foreign), desired...))
	mustSync(t, s, nil, ipvs.Result{DeletedServices: 1})
	mustEqualTable(t, tab, foreign)
	if got := tab.Count(ipvs.OpListDestinations); got != 0 {
		t.Errorf("read destinations %d times, of services it had just made or does not own", got)
	}
}

func TestSyncTakesOverDesiredService(t *testing.T) {
	tab := ipvstest.New()
	pre := ipvs.VirtualServer{Service: svc("192.0.2.1:80"), Destinations: []ipvs.Destination{dest("10.0.0.1:8080", 5), dest("10.0.0.99:8080", 1)}}
	pre.Scheduler = ipvs.RoundRobin
	if err := tab.Load(pre); err != nil {
		t.Fatal(err)
	}
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
	desired := table(1, 2)
	// scheduler, the weight of .1, .99 gone, .2 new
	mustSync(t, s, desired, ipvs.Result{UpdatedServices: 1, UpdatedDests: 1, DeletedDests: 1, CreatedDests: 1})
	mustEqualTable(t, tab, desired)
	if got := s.Owned(); !reflect.DeepEqual(got, []ipvs.ServiceKey{desired[0].ServiceKey}) {
		t.Fatalf("owns %v", got)
	}
}

func TestSyncAdopt(t *testing.T) {
	tab := ipvstest.New()
	// What a previous run made: two services; the new run wants one of them.
	prev := table(2, 2)
	if err := tab.Load(prev...); err != nil {
		t.Fatal(err)
	}
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{Adopt: []ipvs.ServiceKey{prev[0].ServiceKey, prev[1].ServiceKey, tcp("192.0.2.200:80")}})
	mustSync(t, s, prev[:1], ipvs.Result{DeletedServices: 1})
	mustEqualTable(t, tab, prev[:1])
	// The adopted key the table did not hold is forgotten.
	if got := s.Owned(); !reflect.DeepEqual(got, []ipvs.ServiceKey{prev[0].ServiceKey}) {
		t.Fatalf("owns %v", got)
	}
}

func TestSyncPartialFailure(t *testing.T) {
	tab := ipvstest.New()
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
	desired := table(3, 3)
	boom := errors.New("boom")
	bad, badDest := desired[1].ServiceKey, desired[1].Destinations[2].DestinationKey
	tab.FailOnce(ipvs.OpCreateDestination, bad, badDest, boom)
	res, err := s.Sync(t.Context(), desired)
	if want := (ipvs.Result{CreatedServices: 3, CreatedDests: 8, Failed: 1}); res != want {
		t.Fatalf("did %+v, want %+v", res, want)
	}
	var se *ipvs.SyncError
	if !errors.As(err, &se) || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want a SyncError wrapping boom", err)
	}
	if se.Op != ipvs.OpCreateDestination || se.Service != bad || se.Dest != badDest {
		t.Fatalf("error names %v %v %v", se.Op, se.Service, se.Dest)
	}
	if want := "ipvs: service tcp 192.0.2.2:80: destination 10.0.1.3:8080: create destination: boom"; err.Error() != want {
		t.Fatalf("error %q\nwant %q", err, want)
	}
	tab.ResetCounts()
	mustSync(t, s, desired, ipvs.Result{CreatedDests: 1})
	mustEqualTable(t, tab, desired)
}

func TestSyncDeleteFailsThenConverges(t *testing.T) {
	tab := ipvstest.New()
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
	desired := table(2, 1)
	mustSync(t, s, desired, ipvs.Result{CreatedServices: 2, CreatedDests: 2})
	boom := errors.New("boom")
	tab.FailOnce(ipvs.OpDeleteService, desired[1].ServiceKey, ipvs.DestinationKey{}, boom)
	if res, err := s.Sync(t.Context(), desired[:1]); !errors.Is(err, boom) || res.Failed != 1 {
		t.Fatalf("Sync: %+v, %v", res, err)
	}
	// Still owned, so the next Sync deletes it.
	mustSync(t, s, desired[:1], ipvs.Result{DeletedServices: 1})
	mustEqualTable(t, tab, desired[:1])
}

func TestSyncAlreadyGoneIsNotAFailure(t *testing.T) {
	tab := ipvstest.New()
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
	desired := table(1, 2)
	mustSync(t, s, desired, ipvs.Result{CreatedServices: 1, CreatedDests: 2})
	// Someone deletes the destination between the dump and the delete.
	tab.SetFault(func(c ipvstest.Call) error {
		if c.Op == ipvs.OpDeleteDestination {
			return fmt.Errorf("gone: %w", ipvs.ErrNotFound)
		}
		return nil
	})
	res, err := s.Sync(t.Context(), []ipvs.VirtualServer{{Service: desired[0].Service, Destinations: desired[0].Destinations[:1]}})
	if err != nil || res.Failed != 0 {
		t.Fatalf("Sync: %+v, %v", res, err)
	}
}

func TestSyncInterruptedDump(t *testing.T) {
	tab := ipvstest.New()
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
	desired := table(4, 2)
	mustSync(t, s, desired, ipvs.Result{CreatedServices: 4, CreatedDests: 8})
	// Two interrupted dumps (services, then a destinations one): read again.
	tab.InterruptDumps(2)
	mustSync(t, s, desired, ipvs.Result{})

	// More than the retries: the service dump fails, nothing is done.
	tab.InterruptDumps(retry.DumpAttempts)
	res, err := s.Sync(t.Context(), nil)
	var se *ipvs.SyncError
	if !errors.Is(err, ipvs.ErrDumpInterrupted) || !errors.As(err, &se) || se.Op != ipvs.OpListServices || res != (ipvs.Result{}) {
		t.Fatalf("Sync: %+v, %v", res, err)
	}
	mustEqualTable(t, tab, desired)

	// A destination dump interrupted too often fails that service only.
	tab.InterruptDumps(0)
	desired[0].Destinations[0].Weight = 9
	desired[3].Destinations[0].Weight = 9
	calls := 0
	tab.SetFault(func(c ipvstest.Call) error {
		if c.Op == ipvs.OpListDestinations && c.Service == desired[0].ServiceKey {
			calls++
			return fmt.Errorf("dump: %w", ipvs.ErrDumpInterrupted)
		}
		return nil
	})
	res, err = s.Sync(t.Context(), desired)
	if !errors.As(err, &se) || se.Op != ipvs.OpListDestinations || se.Service != desired[0].ServiceKey || res.UpdatedDests != 1 {
		t.Fatalf("Sync: %+v, %v", res, err)
	}
	if calls != retry.DumpAttempts {
		t.Fatalf("dumped %d times, want %d", calls, retry.DumpAttempts)
	}
	tab.SetFault(nil)
	mustSync(t, s, desired, ipvs.Result{UpdatedDests: 1})
}

func TestSyncContextCancelled(t *testing.T) {
	eachBackend(t, func(t *testing.T, tab *ipvstest.Table, s *ipvs.Syncer, _ int) {
		desired := table(3, 3)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		n := 0
		tab.SetFault(func(c ipvstest.Call) error {
			if c.Op.IsWrite() {
				if n++; n == 5 {
					cancel() // during the fifth write, which still happens
				}
			}
			return nil
		})
		res, err := s.Sync(ctx, desired)
		if !errors.Is(err, context.Canceled) || res.Ops() != 5 || res.Failed != 0 {
			t.Fatalf("Sync: %+v, %v", res, err)
		}
		tab.SetFault(nil)
		// The second service was made, without its destinations.
		mustSync(t, s, desired, ipvs.Result{CreatedServices: 1, CreatedDests: 6})
		mustEqualTable(t, tab, desired)
	})
}

func TestSyncInvalidTableChangesNothing(t *testing.T) {
	tab := ipvstest.New()
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
	desired := table(2, 2)
	mustSync(t, s, desired, ipvs.Result{CreatedServices: 2, CreatedDests: 4})
	bad := slices.Clone(desired[:1])
	bad[0].Scheduler = 0
	res, err := s.Sync(t.Context(), bad)
	if !errors.Is(err, ipvs.ErrInvalid) || res != (ipvs.Result{}) {
		t.Fatalf("Sync: %+v, %v", res, err)
	}
	mustEqualTable(t, tab, desired)
}

// diffSize counts the operations that turn a into b.
func diffSize(a, b []ipvs.VirtualServer) int {
	am := map[ipvs.ServiceKey]ipvs.VirtualServer{}
	for _, v := range a {
		am[v.ServiceKey] = v
	}
	n := 0
	for _, v := range b {
		old, ok := am[v.ServiceKey]
		if !ok {
			n += 1 + len(v.Destinations)
			continue
		}
		delete(am, v.ServiceKey)
		if old.Service.Normalize() != v.Service.Normalize() {
			n++
		}
		od := map[ipvs.DestinationKey]ipvs.Destination{}
		for _, d := range old.Destinations {
			od[d.DestinationKey] = d
		}
		for _, d := range v.Destinations {
			o, ok := od[d.DestinationKey]
			if !ok || o.Normalize() != d.Normalize() {
				n++
			}
			delete(od, d.DestinationKey)
		}
		n += len(od)
	}
	return n + len(am)
}

// randomTable draws a valid table from a small space of keys, so that two
// draws overlap.
func randomTable(r *rand.Rand) []ipvs.VirtualServer {
	scheds := []ipvs.Scheduler{ipvs.RoundRobin, ipvs.WeightedLeastConnection, ipvs.SourceHashing}
	fwds := []ipvs.Forward{ipvs.Masquerade, ipvs.Route, ipvs.Tunnel}
	var out []ipvs.VirtualServer
	for i := range 12 {
		if r.IntN(3) == 0 {
			continue
		}
		var v ipvs.VirtualServer
		switch i % 3 {
		case 0:
			v.ServiceKey = ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Port: 80}
		case 1:
			v.ServiceKey = ipvs.ServiceKey{Protocol: ipvs.UDP, Addr: netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i)), Port: 53}
			v.OnePacket = r.IntN(2) == 0
		case 2:
			v.ServiceKey = ipvs.ServiceKey{FWMark: uint32(i)}
		}
		v.Scheduler = scheds[r.IntN(len(scheds))]
		if r.IntN(2) == 0 {
			v.Persistence = time.Duration(r.IntN(3)) * 60 * time.Second
		}
		for j := range 6 {
			if r.IntN(2) == 0 {
				continue
			}
			addr := netip.AddrFrom4([4]byte{10, 0, byte(i), byte(j)})
			if v.Is6() {
				addr = netip.MustParseAddr(fmt.Sprintf("2001:db8:1::%x:%x", i, j))
			}
			d := ipvs.Destination{DestinationKey: ipvs.DestinationKey{Addr: addr, Port: 8000}, Forward: fwds[r.IntN(3)], Weight: r.IntN(3)}
			if d.Forward == ipvs.Tunnel && r.IntN(2) == 0 {
				d.TunnelType, d.TunnelPort = ipvs.GUE, 6080
			}
			v.Destinations = append(v.Destinations, d)
		}
		out = append(out, v)
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func TestSyncRandomTables(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		tab := ipvstest.New()
		s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
		a, b := randomTable(r), randomTable(r)
		res, err := s.Sync(t.Context(), a)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		mustEqualTable(t, tab, a)
		if res.Ops() != diffSize(nil, a) {
			t.Fatalf("round %d: %d ops, want %d", i, res.Ops(), diffSize(nil, a))
		}
		res, err = s.Sync(t.Context(), b)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		mustEqualTable(t, tab, b)
		if want := diffSize(a, b); res.Ops() != want || tab.Writes() != res.Ops()+diffSize(nil, a) {
			t.Fatalf("round %d: %d ops (%d writes), want %d", i, res.Ops(), tab.Writes(), want)
		}
		if res, err := s.Sync(t.Context(), b); err != nil || res.Ops() != 0 {
			t.Fatalf("round %d: third Sync %+v, %v", i, res, err)
		}
	}
}

func TestStats(t *testing.T) {
	tab := ipvstest.New()
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
	desired := table(2, 2)
	mustSync(t, s, desired, ipvs.Result{CreatedServices: 2, CreatedDests: 4})
	if err := tab.Load(ipvs.VirtualServer{Service: svc("198.51.100.1:80")}); err != nil {
		t.Fatal(err)
	}
	k, d := desired[1].ServiceKey, desired[1].Destinations[1].DestinationKey
	if err := tab.SetServiceStats(k, ipvs.Stats{Connections: 10, BytesIn: 1000}); err != nil {
		t.Fatal(err)
	}
	if err := tab.SetDestinationStats(k, d, ipvs.Stats{Connections: 4}, 3, 1); err != nil {
		t.Fatal(err)
	}
	st, err := s.ReadStats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[1].ServiceKey != k || st[1].Stats.Connections != 10 || len(st[1].Destinations) != 2 {
		t.Fatalf("stats %+v", st)
	}
	if ds := st[1].Destinations[1]; ds.DestinationKey != d || ds.ActiveConns != 3 || ds.InactiveConns != 1 || ds.Stats.Connections != 4 {
		t.Fatalf("destination stats %+v", ds)
	}
	all, err := ipvs.ReadStats(t.Context(), tab)
	if err != nil || len(all) != 3 {
		t.Fatalf("ReadStats: %d, %v", len(all), err)
	}
}

func TestSyncErrorFormat(t *testing.T) {
	boom := errors.New("boom")
	for _, tt := range []struct {
		e    ipvs.SyncError
		want string
	}{
		{ipvs.SyncError{Op: ipvs.OpListServices, Err: boom}, "ipvs: list services: boom"},
		{ipvs.SyncError{Op: ipvs.OpUpdateService, Service: tcp("192.0.2.1:80"), Err: boom}, "ipvs: service tcp 192.0.2.1:80: update service: boom"},
		{ipvs.SyncError{Op: ipvs.OpDeleteDestination, Service: ipvs.ServiceKey{FWMark: 3}, Dest: dkey("[2001:db8::1]:80"), Err: boom}, "ipvs: service fwmark 3: destination [2001:db8::1]:80: delete destination: boom"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	if got := ipvs.Op(0).String(); got != "Op(0)" {
		t.Errorf("Op(0) = %q", got)
	}
}
