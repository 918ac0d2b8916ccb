package ipvs

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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

// TestKernelBenchSync is the benchmark of bench/ipvs/run (IPVS_BENCH=1,
// inside the VM): 1,000 services x 10 destinations loaded by ipvsadm
// --restore and by Sync (batched) from empty, then 1% of the weights
// changed by both (Syncer.Apply: no reads), then a full Sync that changes
// nothing next to ipvsadm -Ln; wall time and netlink requests side by
// side.
func TestKernelBenchSync(t *testing.T) {
	if os.Getenv("IPVS_BENCH") != "1" {
		t.Skip("IPVS_BENCH=1 runs it (bench/ipvs/run)")
	}
	k := openKernel(t)
	ctx := context.Background()
	const nsvc, ndst = 1000, 10
	table := make([]VirtualServer, nsvc)
	var rules strings.Builder
	for i := range table {
		vip := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		vs := VirtualServer{Service: Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: vip, Port: 80}, Scheduler: WeightedLeastConnection}}
		fmt.Fprintf(&rules, "-A -t %s:80 -s wlc\n", vip)
		for j := 0; j < ndst; j++ {
			rip := netip.AddrFrom4([4]byte{198, 19, byte(i % 250), byte(1 + j)})
			d := Destination{DestinationKey: DestinationKey{rip, uint16(8000 + i)}, Forward: Masquerade, Weight: 1 + j}
			vs.Destinations = append(vs.Destinations, d)
			fmt.Fprintf(&rules, "-a -t %s:80 -r %s:%d -m -w %d\n", vip, rip, d.Port, d.Weight)
		}
		table[i] = vs
	}
	// 1% of the weights: every 10th service's first destination.
	var change strings.Builder
	changed := make([]VirtualServer, nsvc)
	for i, vs := range table {
		changed[i] = vs
		changed[i].Destinations = append([]Destination(nil), vs.Destinations...)
		if i%10 == 0 {
			for j := 0; j < ndst; j += 10 {
				d := &changed[i].Destinations[j]
				d.Weight += 100
				fmt.Fprintf(&change, "-e -t %s:80 -r %s:%d -m -w %d\n", vs.Addr, d.Addr, d.Port, d.Weight)
			}
		}
	}
	nchanged := nsvc / 10 * (ndst / 10)

	restore := func(rules string) time.Duration {
		t.Helper()
		start := time.Now()
		if out, err := runIn(rules, "ipvsadm", "-R"); err != nil {
			t.Fatalf("ipvsadm -R: %v: %s", err, out)
		}
		return time.Since(start)
	}
	type row struct {
		what     string
		wall     time.Duration
		writes   int64
		reads    int64
		baseline time.Duration
		base     string // what the baseline ran
	}
	var rows []row

	ipvsadm(t, "-C")
	tRestore := restore(rules.String())
	tChangeRestore := restore(change.String())
	ipvsadm(t, "-C")

	b, cb := counted(k, true)
	s := NewSyncer(b, SyncConfig{})
	start := time.Now()
	res, err := s.Sync(ctx, table)
	wall := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	r, w := cb.reset()
	rows = append(rows, row{"initial Sync (1000 x 10)", wall, w, r, tRestore, "ipvsadm -R"})
	if res.Ops() != nsvc*(1+ndst) || w != int64(nsvc*(1+ndst)) || r != 1 {
		t.Errorf("initial Sync: %+v, %d writes, %d reads; want %d creations, 1 read", res, w, r, nsvc*(1+ndst))
	}
	start = time.Now()
	res, err = s.Apply(ctx, changed)
	wall = time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	r, w = cb.reset()
	rows = append(rows, row{"1% of weights, Apply", wall, w, r, tChangeRestore, "ipvsadm -R (-e)"})
	if res.Ops() != nchanged || res.UpdatedDests != nchanged || w != int64(nchanged) || r != 0 {
		t.Errorf("1%% change: %+v, %d writes, %d reads; want %d destination updates, no read", res, w, r, nchanged)
	}
	start = time.Now()
	res, err = s.Sync(ctx, changed)
	wall = time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	r, w = cb.reset()
	// ipvsadm -Ln reads the same way: one dump of the services, one of
	// each service's destinations.
	start = time.Now()
	ipvsadm(t, "-Ln")
	rows = append(rows, row{"no change, full Sync", wall, w, r, time.Since(start), "ipvsadm -Ln"})
	if res.Ops() != 0 || w != 0 {
		t.Errorf("no-op Sync: %+v, %d writes", res, w)
	}
	// The witness: ipvsadm sees the changed table.
	svcs, err := k.Services(ctx)
	if err != nil || len(svcs) != nsvc {
		t.Fatalf("Services: %d, %v", len(svcs), err)
	}
	if n := strings.Count(ipvsadm(t, "-Ln"), "->") - 1; n != nsvc*ndst {
		t.Errorf("ipvsadm -Ln shows %d destinations, want %d", n, nsvc*ndst)
	}

	fmt.Printf("BENCH %-26s %10s %8s %8s %10s %-16s %6s\n", "case", "vigil", "writes", "reads", "ipvsadm", "(as)", "ratio")
	for _, r := range rows {
		fmt.Printf("BENCH %-26s %10s %8d %8d %10s %-16s %6.2f\n", r.what, r.wall.Round(time.Millisecond), r.writes, r.reads,
			r.baseline.Round(time.Millisecond), r.base, float64(r.wall)/float64(r.baseline))
	}
	fmt.Printf("BENCH (writes batched %d netlink requests per sendmsg)\n", k.batch.chunk)
	ipvsadm(t, "-C")
}

// runIn runs a command with stdin as its input.
func runIn(stdin string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	return cmd.CombinedOutput()
}
