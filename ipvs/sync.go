package ipvs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/internal/retry"
)

// SyncConfig configures a Syncer.
type SyncConfig struct {
	// Logger receives one line per Sync that changed something, and one
	// per operation at debug level; nil discards them.
	Logger *slog.Logger
	// Adopt are keys this Syncer owns from the start: the services a
	// previous run created (see Syncer.Owned), so that a restarted program
	// deletes those it no longer wants.
	Adopt []ServiceKey
}

// A Syncer keeps the services it owns in a Backend equal to a desired
// table, and leaves every other service alone.
//
// The Syncer owns every key that was in a desired table given to Sync or
// Apply, or adopted, and that it has not deleted since. It deletes an
// owned service when it is no longer desired; it never deletes a service it
// does not own. A desired service the backend already holds (made by
// someone else, or by a previous run) is taken over: Sync updates it and
// its destinations to the desired ones, and owns it from then on.
//
// Sync reads the backend and compares; Apply compares against the
// Syncer's record of what it last read and wrote, and reads nothing (see
// Apply for the trade-off). When the Backend is a Batcher the writes of one
// Sync or Apply go to it in one call.
//
// Calls are serialized: Sync, Apply, Owned and ReadStats may be called
// from any goroutine, one at a time.
type Syncer struct {
	b   Backend
	log *slog.Logger

	mu    sync.Mutex
	owned map[ServiceKey]struct{}
	// rec is what the backend holds for the owned services, as of the
	// last Sync or Apply that succeeded entirely; nil when there is none
	// (no Sync yet, or the last one failed somewhere).
	rec map[ServiceKey]recEntry

	// ops and opErrs count the backend calls that succeeded and failed,
	// by Op.
	ops, opErrs [numOps]atomic.Uint64
}

// numOps sizes the per-Op counters.
const numOps = int(OpSetTimeouts) + 1

// SyncerStats count a Syncer's backend calls since NewSyncer.
type SyncerStats struct {
	// Ops counts the calls that succeeded, OpErrors those that failed,
	// by kind (the table's writes and reads); a kind never called is
	// absent (nil when none).
	Ops, OpErrors map[Op]uint64
}

// Stats returns the Syncer's counters. Safe at any time.
func (s *Syncer) Stats() SyncerStats {
	return SyncerStats{Ops: opCounts(&s.ops), OpErrors: opCounts(&s.opErrs)}
}

func opCounts(c *[numOps]atomic.Uint64) map[Op]uint64 {
	var m map[Op]uint64
	for i := range c {
		if n := c[i].Load(); n > 0 {
			if m == nil {
				m = map[Op]uint64{}
			}
			m[Op(i)] = n
		}
	}
	return m
}

// counted counts one call of op that returned err.
func (s *Syncer) counted(op Op, err error) {
	if err != nil {
		s.opErrs[op].Add(1)
	} else {
		s.ops[op].Add(1)
	}
}

// recEntry is one service of the record, in Normalize form.
type recEntry struct {
	svc   Service
	dests map[DestinationKey]Destination
}

// NewSyncer returns a Syncer over b.
func NewSyncer(b Backend, cfg SyncConfig) *Syncer {
	s := &Syncer{b: b, log: logx.OrDiscard(cfg.Logger), owned: make(map[ServiceKey]struct{}, len(cfg.Adopt))}
	for _, k := range cfg.Adopt {
		s.owned[k] = struct{}{}
	}
	return s
}

// Owned returns the keys the Syncer owns, sorted: save them to give them
// as SyncConfig.Adopt after a restart.
func (s *Syncer) Owned() []ServiceKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.SortedFunc(maps.Keys(s.owned), ServiceKey.Compare)
}

// Sync makes the backend hold desired, with the fewest operations:
//
//  1. It reads the backend's services (once; an interrupted dump is read
//     again by internal/retry's rule) and, for each desired service the backend holds, its
//     destinations; no other service's destinations are read.
//  2. For each desired service, in key order: a missing one is created and
//     then its destinations; one that differs (in its Normalize form) is
//     updated; then its destinations that are not desired are deleted,
//     those that differ updated, the missing created, in that order, so
//     that thresholds and weights of the ones that stay never count a
//     server that is leaving.
//  3. Last, owned services no longer desired are deleted, with their
//     destinations; a service the backend no longer holds is simply
//     forgotten.
//
// All reads come before the first write; the writes go in that order, in
// one call when the Backend is a Batcher, else one by one.
//
// A changed key (protocol, address, port, mark, or destination address and
// port) is a different object: the old one is deleted and the new one
// created. Desired services are created before stale ones are deleted, so a
// service that moves to a new port serves on both for a moment rather than
// on neither.
//
// An invalid table (ValidateTable) changes nothing and returns an error
// wrapping ErrInvalid. Otherwise each failed operation is reported as a
// *SyncError, joined, and Sync goes on with the other objects (the
// destinations of a service whose creation failed fail too, and are
// reported); deleting what is already gone is not a failure. A later Sync
// converges: it compares against what the backend then holds. A second
// Sync with the same table does nothing. When ctx ends, Sync stops before
// its next operation (a Batcher: before its next chunk) and the error
// includes ctx.Err().
//
// Sync refreshes the record Apply compares against: after a Sync without
// any failure it is desired; after one with a failure there is none.
func (s *Syncer) Sync(ctx context.Context, desired []VirtualServer) (Result, error) {
	if err := ValidateTable(desired); err != nil {
		return Result{}, fmt.Errorf("ipvs: sync: desired table: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sync(ctx, desired)
}

// Apply makes the backend hold desired, as Sync does (same order, same
// ownership, same errors), but without reading it: it compares desired
// with the Syncer's record of what the owned services held after the last
// Sync or Apply, and writes only the difference. A change of k weights is
// k writes and no read.
//
// It does a full Sync instead (reads included) when the record cannot be
// trusted or is not enough: before the first Sync, after a Sync or Apply
// in which anything failed (an operation, a read, an interrupted dump, or
// ctx ending), and when desired names a service the record does not hold
// (the backend may hold it already, made by someone else: Sync takes it
// over).
//
// The trade-off: Apply does not see what other programs did to the owned
// services since the last Sync (a destination deleted with ipvsadm, a
// weight changed); those changes are repaired by the next Sync, not by
// Apply. Run Sync now and then (Balancer does, every ResyncInterval).
func (s *Syncer) Apply(ctx context.Context, desired []VirtualServer) (Result, error) {
	if err := ValidateTable(desired); err != nil {
		return Result{}, fmt.Errorf("ipvs: apply: desired table: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.rec
	for _, v := range desired {
		if _, ok := rec[v.ServiceKey]; !ok {
			rec = nil
			break
		}
	}
	if rec == nil {
		return s.sync(ctx, desired)
	}
	s.rec = nil
	have := make(map[ServiceKey]Service, len(rec))
	for k, e := range rec {
		have[k] = e.svc
	}
	r := &run{s: s, ctx: ctx}
	return r.reconcile(desired, have, func(k ServiceKey) (map[DestinationKey]Destination, bool) {
		return rec[k].dests, true
	}, nil, nil)
}

// errNeedWhole is applyPart's answer when it cannot apply a part alone:
// there is no record (a Sync must read the table), or a service of the
// part is not in it (new).
var errNeedWhole = errors.New("ipvs: apply the whole table")

// applyPart is Apply for part of the table: changed are the desired
// entries of some services, removed the services to delete; the others
// are left as the record says, unread and undiffed. It returns
// errNeedWhole, having done nothing, when it cannot (see there).
func (s *Syncer) applyPart(ctx context.Context, changed []VirtualServer, removed []ServiceKey) (Result, error) {
	if len(changed) == 0 && len(removed) == 0 {
		return Result{}, nil
	}
	if err := ValidateTable(changed); err != nil {
		return Result{}, fmt.Errorf("ipvs: apply: desired table: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.rec
	if rec == nil {
		return Result{}, errNeedWhole
	}
	scope := make(map[ServiceKey]bool, len(changed)+len(removed))
	for _, v := range changed {
		if _, ok := rec[v.ServiceKey]; !ok {
			return Result{}, errNeedWhole
		}
		scope[v.ServiceKey] = true
	}
	for _, k := range removed {
		scope[k] = true
	}
	have := make(map[ServiceKey]Service, len(scope))
	for k := range scope {
		if e, ok := rec[k]; ok {
			have[k] = e.svc
		}
	}
	s.rec = nil
	r := &run{s: s, ctx: ctx}
	return r.reconcile(changed, have, func(k ServiceKey) (map[DestinationKey]Destination, bool) {
		return rec[k].dests, true
	}, scope, rec)
}

// sync is Sync with s.mu held.
func (s *Syncer) sync(ctx context.Context, desired []VirtualServer) (Result, error) {
	s.rec = nil
	r := &run{s: s, ctx: ctx}
	have, err := s.services(ctx)
	if err != nil {
		for _, v := range desired {
			s.owned[v.ServiceKey] = struct{}{}
		}
		return Result{}, s.finish(Result{}, &SyncError{Op: OpListServices, Err: err})
	}
	return r.reconcile(desired, have, func(k ServiceKey) (map[DestinationKey]Destination, bool) {
		if ctx.Err() != nil {
			return nil, false
		}
		dests, err := s.destinations(ctx, k)
		if err != nil {
			r.fail(OpListDestinations, k, DestinationKey{}, err)
			return nil, false
		}
		return dests, true
	}, nil, nil)
}

// A run is one Sync or Apply: its counts and errors.
type run struct {
	s    *Syncer
	ctx  context.Context
	res  Result
	errs []error
}

func (r *run) fail(op Op, svc ServiceKey, d DestinationKey, err error) {
	r.res.Failed++
	r.errs = append(r.errs, &SyncError{Op: op, Service: svc, Dest: d, Err: err})
	r.s.log.Debug("ipvs: operation failed", "op", op.String(), "service", svc.String(), "dest", d.String(), "err", err)
}

// reconcile computes the writes that make the backend, which holds the
// services have and the destinations dests returns (false: unknown, that
// service's destinations are left alone), hold desired; applies them; and
// keeps the record when nothing failed. The caller holds s.mu.
//
// With a scope (applyPart), desired and have are the services of the
// scope only: services outside it are neither deleted nor recorded anew,
// and the record of the others (base) is kept.
func (r *run) reconcile(desired []VirtualServer, have map[ServiceKey]Service, dests func(ServiceKey) (map[DestinationKey]Destination, bool), scope map[ServiceKey]bool, base map[ServiceKey]recEntry) (Result, error) {
	s := r.s
	for _, v := range desired {
		s.owned[v.ServiceKey] = struct{}{}
	}
	var changes []Change
	// next is the record if every change succeeds: desired, sharing the
	// destination maps of services that do not change.
	next := make(map[ServiceKey]recEntry, len(desired))
	for _, v := range sortedTable(desired) {
		n := len(changes)
		cur, ok := have[v.ServiceKey]
		if !ok {
			changes = append(changes, Change{Op: OpCreateService, Service: v.Service})
			for _, d := range v.Destinations {
				changes = append(changes, Change{Op: OpCreateDestination, Service: v.Service, Dest: d})
			}
			next[v.ServiceKey] = entry(v)
			continue
		}
		if cur.Normalize() != v.Service.Normalize() {
			changes = append(changes, Change{Op: OpUpdateService, Service: v.Service})
		}
		held, ok := dests(v.ServiceKey)
		if !ok {
			continue
		}
		kept := 0
		for _, d := range v.Destinations {
			if _, ok := held[d.DestinationKey]; ok {
				kept++
			}
		}
		if kept < len(held) {
			want := make(map[DestinationKey]bool, len(v.Destinations))
			for _, d := range v.Destinations {
				want[d.DestinationKey] = true
			}
			for _, dk := range slices.SortedFunc(maps.Keys(held), DestinationKey.Compare) {
				if !want[dk] {
					changes = append(changes, Change{Op: OpDeleteDestination, Service: v.Service, Dest: held[dk]})
				}
			}
		}
		for _, d := range v.Destinations {
			if c, ok := held[d.DestinationKey]; ok && c.Normalize() != d.Normalize() {
				changes = append(changes, Change{Op: OpUpdateDestination, Service: v.Service, Dest: d})
			}
		}
		for _, d := range v.Destinations {
			if _, ok := held[d.DestinationKey]; !ok {
				changes = append(changes, Change{Op: OpCreateDestination, Service: v.Service, Dest: d})
			}
		}
		if len(changes) == n {
			next[v.ServiceKey] = recEntry{svc: cur.Normalize(), dests: held} // held equals v's (normalized) destinations
		} else {
			next[v.ServiceKey] = entry(v)
		}
	}
	want := make(map[ServiceKey]bool, len(desired))
	for _, v := range desired {
		want[v.ServiceKey] = true
	}
	owned := maps.Keys(s.owned)
	if scope != nil {
		owned = maps.Keys(scope)
	}
	for _, key := range slices.SortedFunc(owned, ServiceKey.Compare) {
		if _, ok := s.owned[key]; !ok || want[key] {
			continue
		}
		if _, ok := have[key]; !ok {
			delete(s.owned, key)
			continue
		}
		changes = append(changes, Change{Op: OpDeleteService, Service: Service{ServiceKey: key}})
	}
	r.write(changes)
	if err := r.ctx.Err(); err != nil {
		r.errs = append(r.errs, fmt.Errorf("ipvs: sync stopped: %w", err))
	}
	if len(r.errs) == 0 {
		if scope != nil {
			for k := range scope {
				delete(base, k)
			}
			maps.Copy(base, next)
			next = base
		}
		s.rec = next
	}
	return r.res, s.finish(r.res, r.errs...)
}

// write applies changes, through the Backend's Batcher if it has one, and
// counts and reports each.
func (r *run) write(changes []Change) {
	if len(changes) == 0 {
		return
	}
	var errs []error
	if b, ok := r.s.b.(Batcher); ok {
		errs = b.Apply(r.ctx, changes)
	} else {
		errs = ApplyEach(r.ctx, r.s.b, changes)
	}
	for i, c := range changes {
		var err error
		if i < len(errs) {
			err = errs[i]
		} else {
			err = fmt.Errorf("ipvs: backend answered %d of %d changes", len(errs), len(changes))
		}
		if cerr := r.ctx.Err(); err != nil && cerr != nil && errors.Is(err, cerr) {
			continue // not tried: ctx ended
		}
		if err != nil && (c.Op == OpDeleteService || c.Op == OpDeleteDestination) && errors.Is(err, ErrNotFound) {
			err = nil // already gone: converged
		}
		key, dk := c.Service.ServiceKey, c.Dest.DestinationKey
		r.s.counted(c.Op, err)
		if err != nil {
			r.fail(c.Op, key, dk, err)
			continue
		}
		r.res.count(c.Op)
		if c.Op == OpDeleteService {
			delete(r.s.owned, key)
		}
		r.s.log.Debug("ipvs: applied", "op", c.Op.String(), "service", key.String(), "dest", dk.String())
	}
}

// entry returns the record of v: v in Normalize form. Record entries are
// never changed once made (a later record may share them).
func entry(v VirtualServer) recEntry {
	e := recEntry{svc: v.Service.Normalize(), dests: make(map[DestinationKey]Destination, len(v.Destinations))}
	for _, d := range v.Destinations {
		e.dests[d.DestinationKey] = d.Normalize()
	}
	return e
}

func (s *Syncer) finish(res Result, errs ...error) error {
	if res.Ops() > 0 || len(errs) > 0 {
		s.log.Info("ipvs: synced",
			"created_services", res.CreatedServices, "updated_services", res.UpdatedServices, "deleted_services", res.DeletedServices,
			"created_dests", res.CreatedDests, "updated_dests", res.UpdatedDests, "deleted_dests", res.DeletedDests,
			"failed", res.Failed)
	}
	return errors.Join(errs...)
}

// sortedTable returns the table in key order, each destination list in key
// order: t itself when it is in order, else a sorted copy (the caller's
// table is never changed).
func sortedTable(t []VirtualServer) []VirtualServer {
	byKey := func(a, b VirtualServer) int { return a.ServiceKey.Compare(b.ServiceKey) }
	destByKey := func(a, b Destination) int { return a.DestinationKey.Compare(b.DestinationKey) }
	sorted := slices.IsSortedFunc(t, byKey)
	for i := 0; sorted && i < len(t); i++ {
		sorted = slices.IsSortedFunc(t[i].Destinations, destByKey)
	}
	if sorted {
		return t
	}
	out := slices.Clone(t)
	slices.SortFunc(out, byKey)
	for i := range out {
		out[i].Destinations = slices.Clone(out[i].Destinations)
		slices.SortFunc(out[i].Destinations, destByKey)
	}
	return out
}

// services reads the backend's services.
func (s *Syncer) services(ctx context.Context) (map[ServiceKey]Service, error) {
	return readMap(func() ([]ServiceState, error) {
		l, err := s.b.Services(ctx)
		s.counted(OpListServices, err)
		return l, err
	},
		func(st ServiceState) (ServiceKey, Service) { return st.ServiceKey, st.Service })
}

// destinations reads the destinations of svc.
func (s *Syncer) destinations(ctx context.Context, svc ServiceKey) (map[DestinationKey]Destination, error) {
	return readMap(func() ([]DestinationState, error) {
		l, err := s.b.Destinations(ctx, svc)
		s.counted(OpListDestinations, err)
		return l, err
	},
		func(st DestinationState) (DestinationKey, Destination) { return st.DestinationKey, st.Destination })
}

// readMap dumps a list with read (see dump) and returns it as a map, each
// entry's key and value from kv.
func readMap[S any, K comparable, V any](read func() ([]S, error), kv func(S) (K, V)) (map[K]V, error) {
	list, err := dump(read)
	if err != nil {
		return nil, err
	}
	m := make(map[K]V, len(list))
	for _, st := range list {
		k, v := kv(st)
		m[k] = v
	}
	return m, nil
}

// dump calls read, again while the dump is interrupted, by
// internal/retry's rule; an interruption it gives up on says how many
// reads were tried.
func dump[T any](read func() ([]T, error)) ([]T, error) {
	list, err := retry.Dump(func(err error) bool { return errors.Is(err, ErrDumpInterrupted) }, read)
	switch {
	case errors.Is(err, ErrDumpInterrupted):
		return nil, fmt.Errorf("interrupted %d times: %w", retry.DumpAttempts, err)
	case err != nil:
		return nil, err
	}
	return list, nil
}
