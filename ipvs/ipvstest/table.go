// Package ipvstest provides an in-memory IPVS table, Table, that implements
// ipvs.Backend as the kernel does, with fault injection (a chosen operation
// fails, a dump is interrupted) and operation counts, for tests and
// benchmarks of code that drives IPVS without a kernel.
package ipvstest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/vigil-ha/vigil/ipvs"
)

// Call is one Backend call, as a Fault sees it.
type Call struct {
	Op      ipvs.Op
	Service ipvs.ServiceKey
	Dest    ipvs.DestinationKey // destination operations only
	Daemon  ipvs.SyncState      // OpStartDaemon and OpStopDaemon only
}

func (c Call) String() string {
	switch c.Op {
	case ipvs.OpListServices, ipvs.OpListDaemons, ipvs.OpFlush, ipvs.OpReadTimeouts, ipvs.OpSetTimeouts:
		return c.Op.String()
	case ipvs.OpStartDaemon, ipvs.OpStopDaemon:
		return fmt.Sprintf("%v %v", c.Op, c.Daemon)
	case ipvs.OpCreateDestination, ipvs.OpUpdateDestination, ipvs.OpDeleteDestination:
		return fmt.Sprintf("%v %v of %v", c.Op, c.Dest, c.Service)
	}
	return fmt.Sprintf("%v %v", c.Op, c.Service)
}

// A Fault decides whether a call fails: it returns the error to return
// instead of doing the call, or nil to let it happen.
type Fault func(Call) error

// Table is an in-memory IPVS table. Like the kernel's it rejects invalid
// services and destinations (wrapping ipvs.ErrInvalid), a duplicate create
// (ipvs.ErrExists), and the update or delete of what it does not hold, or a
// destination of a missing service (ipvs.ErrNotFound); deleting a service
// deletes its destinations; it holds services and destinations in their
// Normalize form. Its sync daemons (StartDaemon) are records of what was
// started, with the kernel's defaults filled in (for an interface with an
// MTU of 1500): nothing is sent. It implements ipvs.Admin: its
// timeouts start as ipvs.DefaultTimeouts. It is safe for concurrent use; the zero Table is not
// usable, make one with New.
type Table struct {
	mu        sync.Mutex
	svcs      map[ipvs.ServiceKey]*entry
	counts    map[ipvs.Op]int
	fault     Fault
	interrupt int
	batches   int
	closed    bool
	daemons   [3]*ipvs.SyncDaemon // by SyncState; [0] unused
	timeouts  ipvs.Timeouts
}

type entry struct {
	st    ipvs.ServiceState
	dests map[ipvs.DestinationKey]*ipvs.DestinationState
}

var (
	_ ipvs.Admin   = (*Table)(nil)
	_ ipvs.Backend = (*Table)(nil)
	_ ipvs.Batcher = (*Table)(nil)
)

// New returns an empty table.
func New() *Table {
	return &Table{svcs: make(map[ipvs.ServiceKey]*entry), counts: make(map[ipvs.Op]int), timeouts: ipvs.DefaultTimeouts}
}

// SetFault makes f decide, from now on, whether each call fails; nil
// removes it. f runs with the table locked and must not call the table.
func (t *Table) SetFault(f Fault) {
	t.mu.Lock()
	t.fault = f
	t.mu.Unlock()
}

// FailOnce makes the next call that matches op, svc and, for destination
// operations, dest fail with err; later calls succeed. It replaces any
// Fault set before.
func (t *Table) FailOnce(op ipvs.Op, svc ipvs.ServiceKey, dest ipvs.DestinationKey, err error) {
	done := false
	t.SetFault(func(c Call) error {
		if done || c.Op != op || c.Service != svc || c.Dest != dest {
			return nil
		}
		done = true
		return err
	})
}

// InterruptDumps makes the next n dumps (Services or Destinations) return
// half of what they would and an error wrapping ipvs.ErrDumpInterrupted.
func (t *Table) InterruptDumps(n int) {
	t.mu.Lock()
	t.interrupt = n
	t.mu.Unlock()
}

// Count returns how many calls of kind op succeeded: an interrupted or
// failed call is not counted.
func (t *Table) Count(op ipvs.Op) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[op]
}

// Writes returns how many calls changed the table.
func (t *Table) Writes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for op, c := range t.counts {
		if op.IsWrite() {
			n += c
		}
	}
	return n
}

// Reads returns how many dumps (Services and Destinations calls)
// succeeded.
func (t *Table) Reads() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[ipvs.OpListServices] + t.counts[ipvs.OpListDestinations]
}

// Batches returns how many times Apply was called.
func (t *Table) Batches() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.batches
}

// Counts returns a copy of the counts of succeeded calls by kind.
func (t *Table) Counts() map[ipvs.Op]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.counts)
}

// ResetCounts sets every count, and Batches, to zero.
func (t *Table) ResetCounts() {
	t.mu.Lock()
	clear(t.counts)
	t.batches = 0
	t.mu.Unlock()
}

// Load adds virtual servers directly, without counting operations and
// without faults: for example services that someone else made. It fails
// like CreateService and CreateDestination do.
func (t *Table) Load(table ...ipvs.VirtualServer) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, v := range table {
		if err := t.createService(v.Service); err != nil {
			return err
		}
		for _, d := range v.Destinations {
			if err := t.createDest(v.ServiceKey, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// Table returns what the table holds as a desired table would say it:
// services in key order, each with its destinations in key order, all in
// their Normalize form.
func (t *Table) Table() []ipvs.VirtualServer {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]ipvs.VirtualServer, 0, len(t.svcs))
	for _, k := range slices.SortedFunc(maps.Keys(t.svcs), ipvs.ServiceKey.Compare) {
		e := t.svcs[k]
		v := ipvs.VirtualServer{Service: e.st.Service, Destinations: make([]ipvs.Destination, 0, len(e.dests))}
		for _, dk := range slices.SortedFunc(maps.Keys(e.dests), ipvs.DestinationKey.Compare) {
			v.Destinations = append(v.Destinations, e.dests[dk].Destination)
		}
		out = append(out, v)
	}
	return out
}

// SetServiceStats sets the counters a service reports.
func (t *Table) SetServiceStats(svc ipvs.ServiceKey, st ipvs.Stats) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.svcs[svc]
	if !ok {
		return fmt.Errorf("ipvstest: service %v: %w", svc, ipvs.ErrNotFound)
	}
	e.st.Stats = st
	return nil
}

// SetDestinationStats sets the counters and connection counts a
// destination reports.
func (t *Table) SetDestinationStats(svc ipvs.ServiceKey, d ipvs.DestinationKey, st ipvs.Stats, active, inactive uint32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.svcs[svc]
	if !ok {
		return fmt.Errorf("ipvstest: service %v: %w", svc, ipvs.ErrNotFound)
	}
	ds, ok := e.dests[d]
	if !ok {
		return fmt.Errorf("ipvstest: service %v: destination %v: %w", svc, d, ipvs.ErrNotFound)
	}
	ds.Stats, ds.ActiveConns, ds.InactiveConns = st, active, inactive
	return nil
}

// Closed reports whether Close was called.
func (t *Table) Closed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// begin locks the table and runs the fault for c; on error the table is
// unlocked again.
func (t *Table) begin(ctx context.Context, c Call) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return fmt.Errorf("ipvstest: %v: %w", c, ipvs.ErrClosed)
	}
	if t.fault != nil {
		if err := t.fault(c); err != nil {
			t.mu.Unlock()
			return err
		}
	}
	return nil
}

// end counts c when err is nil, unlocks the table and returns err.
func (t *Table) end(c Call, err error) error {
	if err == nil {
		t.counts[c.Op]++
	}
	t.mu.Unlock()
	return err
}

// Services implements ipvs.Backend.
func (t *Table) Services(ctx context.Context) ([]ipvs.ServiceState, error) {
	c := Call{Op: ipvs.OpListServices}
	if err := t.begin(ctx, c); err != nil {
		return nil, err
	}
	out := make([]ipvs.ServiceState, 0, len(t.svcs))
	for _, k := range slices.SortedFunc(maps.Keys(t.svcs), ipvs.ServiceKey.Compare) {
		out = append(out, t.svcs[k].st)
	}
	if t.interrupt > 0 {
		t.interrupt--
		t.mu.Unlock()
		return out[:len(out)/2], fmt.Errorf("ipvstest: %v: %w", c, ipvs.ErrDumpInterrupted)
	}
	return out, t.end(c, nil)
}

// Destinations implements ipvs.Backend.
func (t *Table) Destinations(ctx context.Context, svc ipvs.ServiceKey) ([]ipvs.DestinationState, error) {
	c := Call{Op: ipvs.OpListDestinations, Service: svc}
	if err := t.begin(ctx, c); err != nil {
		return nil, err
	}
	e, ok := t.svcs[svc]
	if !ok {
		return nil, t.end(c, fmt.Errorf("ipvstest: service %v: %w", svc, ipvs.ErrNotFound))
	}
	out := make([]ipvs.DestinationState, 0, len(e.dests))
	for _, k := range slices.SortedFunc(maps.Keys(e.dests), ipvs.DestinationKey.Compare) {
		out = append(out, *e.dests[k])
	}
	if t.interrupt > 0 {
		t.interrupt--
		t.mu.Unlock()
		return out[:len(out)/2], fmt.Errorf("ipvstest: %v: %w", c, ipvs.ErrDumpInterrupted)
	}
	return out, t.end(c, nil)
}

// CreateService implements ipvs.Backend.
func (t *Table) CreateService(ctx context.Context, svc ipvs.Service) error {
	c := Call{Op: ipvs.OpCreateService, Service: svc.ServiceKey}
	if err := t.begin(ctx, c); err != nil {
		return err
	}
	return t.end(c, t.createService(svc))
}

func (t *Table) createService(svc ipvs.Service) error {
	if err := svc.Validate(); err != nil {
		return fmt.Errorf("ipvstest: create: %w", err)
	}
	if _, ok := t.svcs[svc.ServiceKey]; ok {
		return fmt.Errorf("ipvstest: service %v: %w", svc.ServiceKey, ipvs.ErrExists)
	}
	t.svcs[svc.ServiceKey] = &entry{
		st:    ipvs.ServiceState{Service: svc.Normalize()},
		dests: make(map[ipvs.DestinationKey]*ipvs.DestinationState),
	}
	return nil
}

// UpdateService implements ipvs.Backend.
func (t *Table) UpdateService(ctx context.Context, svc ipvs.Service) error {
	c := Call{Op: ipvs.OpUpdateService, Service: svc.ServiceKey}
	if err := t.begin(ctx, c); err != nil {
		return err
	}
	if err := svc.Validate(); err != nil {
		return t.end(c, fmt.Errorf("ipvstest: update: %w", err))
	}
	e, ok := t.svcs[svc.ServiceKey]
	if !ok {
		return t.end(c, fmt.Errorf("ipvstest: service %v: %w", svc.ServiceKey, ipvs.ErrNotFound))
	}
	e.st.Service = svc.Normalize()
	return t.end(c, nil)
}

// DeleteService implements ipvs.Backend.
func (t *Table) DeleteService(ctx context.Context, svc ipvs.ServiceKey) error {
	c := Call{Op: ipvs.OpDeleteService, Service: svc}
	if err := t.begin(ctx, c); err != nil {
		return err
	}
	if _, ok := t.svcs[svc]; !ok {
		return t.end(c, fmt.Errorf("ipvstest: service %v: %w", svc, ipvs.ErrNotFound))
	}
	delete(t.svcs, svc)
	return t.end(c, nil)
}

// CreateDestination implements ipvs.Backend.
func (t *Table) CreateDestination(ctx context.Context, svc ipvs.ServiceKey, d ipvs.Destination) error {
	c := Call{Op: ipvs.OpCreateDestination, Service: svc, Dest: d.DestinationKey}
	if err := t.begin(ctx, c); err != nil {
		return err
	}
	return t.end(c, t.createDest(svc, d))
}

func (t *Table) createDest(svc ipvs.ServiceKey, d ipvs.Destination) error {
	e, ok := t.svcs[svc]
	if !ok {
		return fmt.Errorf("ipvstest: service %v: %w", svc, ipvs.ErrNotFound)
	}
	if err := d.Validate(svc); err != nil {
		return fmt.Errorf("ipvstest: create: %w", err)
	}
	if _, ok := e.dests[d.DestinationKey]; ok {
		return fmt.Errorf("ipvstest: service %v: destination %v: %w", svc, d.DestinationKey, ipvs.ErrExists)
	}
	e.dests[d.DestinationKey] = &ipvs.DestinationState{Destination: d.Normalize()}
	return nil
}

// UpdateDestination implements ipvs.Backend.
func (t *Table) UpdateDestination(ctx context.Context, svc ipvs.ServiceKey, d ipvs.Destination) error {
	c := Call{Op: ipvs.OpUpdateDestination, Service: svc, Dest: d.DestinationKey}
	if err := t.begin(ctx, c); err != nil {
		return err
	}
	e, ok := t.svcs[svc]
	if !ok {
		return t.end(c, fmt.Errorf("ipvstest: service %v: %w", svc, ipvs.ErrNotFound))
	}
	if err := d.Validate(svc); err != nil {
		return t.end(c, fmt.Errorf("ipvstest: update: %w", err))
	}
	ds, ok := e.dests[d.DestinationKey]
	if !ok {
		return t.end(c, fmt.Errorf("ipvstest: service %v: destination %v: %w", svc, d.DestinationKey, ipvs.ErrNotFound))
	}
	ds.Destination = d.Normalize()
	return t.end(c, nil)
}

// DeleteDestination implements ipvs.Backend.
func (t *Table) DeleteDestination(ctx context.Context, svc ipvs.ServiceKey, d ipvs.DestinationKey) error {
	c := Call{Op: ipvs.OpDeleteDestination, Service: svc, Dest: d}
	if err := t.begin(ctx, c); err != nil {
		return err
	}
	e, ok := t.svcs[svc]
	if !ok {
		return t.end(c, fmt.Errorf("ipvstest: service %v: %w", svc, ipvs.ErrNotFound))
	}
	if _, ok := e.dests[d]; !ok {
		return t.end(c, fmt.Errorf("ipvstest: service %v: destination %v: %w", svc, d, ipvs.ErrNotFound))
	}
	delete(e.dests, d)
	return t.end(c, nil)
}

// Apply implements ipvs.Batcher: the changes are applied in order, each as
// its single call would be (counted as its Op, decided by the Fault, ctx
// checked before it).
func (t *Table) Apply(ctx context.Context, changes []ipvs.Change) []error {
	t.mu.Lock()
	t.batches++
	t.mu.Unlock()
	return ipvs.ApplyEach(ctx, t, changes)
}

// Unbatched returns t without its Apply method, so that a Syncer over it
// writes one call at a time.
func Unbatched(t *Table) ipvs.Backend { return unbatched{t} }

type unbatched struct{ ipvs.Backend }

// Close implements ipvs.Backend; later calls fail with ipvs.ErrClosed.
func (t *Table) Close() error {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	return nil
}
