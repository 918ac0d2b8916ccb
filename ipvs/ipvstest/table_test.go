package ipvstest_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	key = ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80}
	svc = ipvs.Service{ServiceKey: key, Scheduler: ipvs.RoundRobin}
	dst = ipvs.Destination{DestinationKey: ipvs.DestinationKey{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}, Forward: ipvs.Masquerade, Weight: 1}
)

func TestKernelLike(t *testing.T) {
	ctx := t.Context()
	tab := ipvstest.New()
	if err := tab.CreateDestination(ctx, key, dst); !errors.Is(err, ipvs.ErrNotFound) {
		t.Errorf("destination of a missing service: %v", err)
	}
	if err := tab.CreateService(ctx, ipvs.Service{ServiceKey: key}); !errors.Is(err, ipvs.ErrInvalid) {
		t.Errorf("zero scheduler: %v", err)
	}
	if err := tab.CreateService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if err := tab.CreateService(ctx, svc); !errors.Is(err, ipvs.ErrExists) {
		t.Errorf("duplicate service: %v", err)
	}
	if err := tab.CreateDestination(ctx, key, dst); err != nil {
		t.Fatal(err)
	}
	if err := tab.CreateDestination(ctx, key, dst); !errors.Is(err, ipvs.ErrExists) {
		t.Errorf("duplicate destination: %v", err)
	}
	bad := dst
	bad.Weight = -1
	if err := tab.UpdateDestination(ctx, key, bad); !errors.Is(err, ipvs.ErrInvalid) {
		t.Errorf("invalid update: %v", err)
	}
	other := dst
	other.Port = 81
	if err := tab.UpdateDestination(ctx, key, other); !errors.Is(err, ipvs.ErrNotFound) {
		t.Errorf("update of a missing destination: %v", err)
	}
	if err := tab.DeleteDestination(ctx, key, other.DestinationKey); !errors.Is(err, ipvs.ErrNotFound) {
		t.Errorf("delete of a missing destination: %v", err)
	}
	if got := tab.Table(); len(got) != 1 || got[0].PersistenceMask != 32 || len(got[0].Destinations) != 1 {
		t.Errorf("table %+v, want one normalized service with one destination", got)
	}
	if err := tab.DeleteService(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := tab.UpdateService(ctx, svc); !errors.Is(err, ipvs.ErrNotFound) {
		t.Errorf("update of a missing service: %v", err)
	}
	// Deleting the service deleted its destination.
	if err := tab.CreateService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if ds, err := tab.Destinations(ctx, key); err != nil || len(ds) != 0 {
		t.Errorf("destinations after re-create: %v, %v", ds, err)
	}
	want := map[ipvs.Op]int{ipvs.OpCreateService: 2, ipvs.OpCreateDestination: 1, ipvs.OpDeleteService: 1, ipvs.OpListDestinations: 1}
	for op, n := range want {
		if got := tab.Count(op); got != n {
			t.Errorf("%v counted %d, want %d", op, got, n)
		}
	}
	if got := tab.Writes(); got != 4 {
		t.Errorf("%d writes, want 4", got)
	}
	tab.Close()
	if err := tab.CreateService(ctx, svc); err == nil || !tab.Closed() {
		t.Error("a closed table still works")
	}
}

func TestFaults(t *testing.T) {
	ctx := t.Context()
	tab := ipvstest.New()
	if err := tab.Load(ipvs.VirtualServer{Service: svc, Destinations: []ipvs.Destination{dst}}); err != nil {
		t.Fatal(err)
	}
	if tab.Writes() != 0 {
		t.Fatal("Load counted")
	}
	boom := errors.New("boom")
	tab.FailOnce(ipvs.OpUpdateDestination, key, dst.DestinationKey, boom)
	if err := tab.UpdateDestination(ctx, key, dst); !errors.Is(err, boom) {
		t.Fatalf("first: %v", err)
	}
	if err := tab.UpdateDestination(ctx, key, dst); err != nil {
		t.Fatalf("second: %v", err)
	}
	if got := tab.Count(ipvs.OpUpdateDestination); got != 1 {
		t.Errorf("counted %d updates, want 1 (the failed one is not)", got)
	}
	tab.InterruptDumps(2)
	if _, err := tab.Services(ctx); !errors.Is(err, ipvs.ErrDumpInterrupted) {
		t.Errorf("services: %v", err)
	}
	if _, err := tab.Destinations(ctx, key); !errors.Is(err, ipvs.ErrDumpInterrupted) {
		t.Errorf("destinations: %v", err)
	}
	if l, err := tab.Services(ctx); err != nil || len(l) != 1 {
		t.Errorf("third dump: %v, %v", l, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := tab.DeleteService(cctx, key); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := t.Context()
	tab := ipvstest.New()
	if err := tab.CreateService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			d := dst
			d.Port = uint16(1000 + i)
			for range 50 {
				_ = tab.CreateDestination(ctx, key, d)
				_, _ = tab.Destinations(ctx, key)
				_ = tab.DeleteDestination(ctx, key, d.DestinationKey)
			}
		})
	}
	wg.Wait()
	if got := tab.Count(ipvs.OpCreateDestination); got != 400 {
		t.Errorf("%d creates, want 400", got)
	}
}
