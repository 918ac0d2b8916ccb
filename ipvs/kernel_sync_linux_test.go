package ipvs

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
)

// countingBackend counts the netlink requests a Backend makes: one per
// write, one dump per Services or Destinations call (plus one lookup when
// the kernel backend finds a service without destinations).
type countingBackend struct {
	Backend
	reads, writes atomic.Int64
}

func (c *countingBackend) Services(ctx context.Context) ([]ServiceState, error) {
	c.reads.Add(1)
	return c.Backend.Services(ctx)
}

func (c *countingBackend) Destinations(ctx context.Context, svc ServiceKey) ([]DestinationState, error) {
	c.reads.Add(1)
	ds, err := c.Backend.Destinations(ctx, svc)
	if err == nil && len(ds) == 0 {
		c.reads.Add(1)
	}
	return ds, err
}

func (c *countingBackend) CreateService(ctx context.Context, s Service) error {
	c.writes.Add(1)
	return c.Backend.CreateService(ctx, s)
}

func (c *countingBackend) UpdateService(ctx context.Context, s Service) error {
	c.writes.Add(1)
	return c.Backend.UpdateService(ctx, s)
}

func (c *countingBackend) DeleteService(ctx context.Context, k ServiceKey) error {
	c.writes.Add(1)
	return c.Backend.DeleteService(ctx, k)
}

func (c *countingBackend) CreateDestination(ctx context.Context, k ServiceKey, d Destination) error {
	c.writes.Add(1)
	return c.Backend.CreateDestination(ctx, k, d)
}

func (c *countingBackend) UpdateDestination(ctx context.Context, k ServiceKey, d Destination) error {
	c.writes.Add(1)
	return c.Backend.UpdateDestination(ctx, k, d)
}

func (c *countingBackend) DeleteDestination(ctx context.Context, k ServiceKey, d DestinationKey) error {
	c.writes.Add(1)
	return c.Backend.DeleteDestination(ctx, k, d)
}

func (c *countingBackend) reset() (reads, writes int64) {
	return c.reads.Swap(0), c.writes.Swap(0)
}

// countingBatcher is a countingBackend with the kernel's Batcher: each
// change is one netlink request.
type countingBatcher struct {
	*countingBackend
	k       *Kernel
	batches atomic.Int64
}

func (c *countingBatcher) Apply(ctx context.Context, changes []Change) []error {
	c.writes.Add(int64(len(changes)))
	c.batches.Add(1)
	return c.k.Apply(ctx, changes)
}

// counted returns k with counts, batched (a Batcher) or not.
// syncCounted runs s.Sync(table) and checks its Result against want and
// that the backend saw exactly one write per operation.
func syncCounted(t *testing.T, s *Syncer, cb *countingBackend, table []VirtualServer, what string, want Result) {
	t.Helper()
	res, err := s.Sync(context.Background(), table)
	if err != nil {
		t.Fatalf("Sync (%s): %v", what, err)
	}
	if res != want {
		t.Errorf("Sync (%s): %+v, want %+v", what, res, want)
	}
	reads, writes := cb.reset()
	t.Logf("Sync (%s): %+v; %d writes, %d reads", what, res, writes, reads)
	if writes != int64(res.Ops()) {
		t.Errorf("Sync (%s): %d writes for %d operations", what, writes, res.Ops())
	}
}

func counted(k *Kernel, batched bool) (Backend, *countingBackend) {
	cb := &countingBackend{Backend: k}
	if batched {
		return &countingBatcher{countingBackend: cb, k: k}, cb
	}
	return cb, cb
}

// TestKernelSync: Sync against the kernel creates, updates and deletes
// v4, v6 and firewall-mark services and their destinations, as ipvsadm
// -Ln sees it; a second Sync of the same table does nothing. Batched
// (the kernel's Apply) and one request at a time; then Apply writes a
// change without reading.
func TestKernelSync(t *testing.T) {
	for _, batched := range []bool{true, false} {
		t.Run(fmt.Sprintf("batched=%t", batched), func(t *testing.T) { testKernelSync(t, batched) })
	}
}

func testKernelSync(t *testing.T, batched bool) {
	k := openKernel(t)
	ctx := context.Background()
	b, cb := counted(k, batched)
	s := NewSyncer(b, SyncConfig{})
	// Someone else's service, which Sync must leave alone.
	foreign := VirtualServer{Service: Service{ServiceKey: ServiceKey{Protocol: UDP, Addr: netip.MustParseAddr("198.51.100.99"), Port: 53}, Scheduler: RoundRobin}}
	ipvsadm(t, "-A", "-u", "198.51.100.99:53", "-s", "rr")

	table := roundTripTable()
	ndest := 0
	for _, vs := range table {
		ndest += len(vs.Destinations)
	}
	sync := func(what string, want Result) {
		t.Helper()
		syncCounted(t, s, cb, table, what, want)
		checkTable(t, k, append([]VirtualServer{foreign}, table...))
	}
	sync("from empty", Result{CreatedServices: len(table), CreatedDests: ndest})
	sync("again", Result{})

	// Update: a service's scheduler and persistence, a weight, a
	// forwarding method; delete a destination; add a destination and a
	// service; remove a service.
	table[0].Scheduler = WeightedLeastConnection
	table[3].Persistence = 0
	table[0].Destinations[0].Weight = 9
	table[5].Destinations[1].Forward = Route
	table[6].Destinations = table[6].Destinations[:1]
	table[1].Destinations = append(table[1].Destinations, Destination{DestinationKey: DestinationKey{netip.MustParseAddr("203.0.113.99"), 53}, Forward: Masquerade, Weight: 1})
	table[2] = VirtualServer{Service: Service{ServiceKey: ServiceKey{FWMark: 99, Family6: true}, Scheduler: MaglevHashing, SchedFlags: FlagFallback | FlagPort},
		Destinations: []Destination{{DestinationKey: DestinationKey{netip.MustParseAddr("2001:db8:1::99"), 0}, Forward: Tunnel, Weight: 4}}}
	sync("changes", Result{CreatedServices: 1, UpdatedServices: 2, DeletedServices: 1, CreatedDests: 2, UpdatedDests: 2, DeletedDests: 1})
	sync("again", Result{})

	// Apply: two weights and a service, written without reading.
	table[0].Destinations[1].Weight = 77
	table[3].Destinations[0].Weight = 0
	table[3].Scheduler = RoundRobin
	res, err := s.Apply(ctx, table)
	if want := (Result{UpdatedServices: 1, UpdatedDests: 2}); err != nil || res != want {
		t.Fatalf("Apply: %+v, %v; want %+v", res, err, want)
	}
	if reads, writes := cb.reset(); reads != 0 || writes != 3 {
		t.Errorf("Apply: %d reads, %d writes; want 0 and 3", reads, writes)
	}
	checkTable(t, k, append([]VirtualServer{foreign}, table...))

	table = nil
	res, err = s.Sync(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Sync (nil): %+v", res)
	checkTable(t, k, []VirtualServer{foreign})
}
