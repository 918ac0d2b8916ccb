package ipvs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/internal/counter"
	"github.com/vigil-ha/vigil/internal/feed"
	"github.com/vigil-ha/vigil/internal/hist"
	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/watchdog"
)

// DefaultRetryInterval is how long a Balancer waits before it syncs again
// after a Sync that failed.
const DefaultRetryInterval = time.Second

// DefaultResyncInterval is how often a Balancer reads the table back
// (a full Sync) to repair what others changed.
const DefaultResyncInterval = 30 * time.Second

// DefaultReleaseTimeout bounds the Sync that removes a Balancer's services
// when its Run ends.
const DefaultReleaseTimeout = 10 * time.Second

// BalancerConfig configures a Balancer.
type BalancerConfig struct {
	// Logger receives quorum changes, failed syncs and the Syncer's lines;
	// nil discards them.
	Logger *slog.Logger
	// Adopt are services a previous run created (SyncConfig.Adopt).
	Adopt []ServiceKey
	// Omega makes the end of Run report every real server still up as
	// down and every pool with quorum as losing it (keepalived's omega).
	Omega bool
	// KeepOnExit leaves the services in the table when Run ends
	// (keepalived's --dont-release-ipvs); by default Run removes the
	// services it owns before it returns, as keepalived does on exit.
	KeepOnExit bool
	// RetryInterval is the wait before syncing again after a failed Sync:
	// zero means DefaultRetryInterval; negative means no timed retry (the
	// next change or resync syncs again).
	RetryInterval time.Duration
	// ReleaseTimeout bounds the final Sync that removes the services: zero
	// means DefaultReleaseTimeout, negative no bound.
	ReleaseTimeout time.Duration
	// ResyncInterval is how long after a full Sync the Balancer does the
	// next one, which reads the table and repairs what other programs
	// changed in its services (changes in between are applied with
	// Syncer.Apply, which reads nothing): zero means
	// DefaultResyncInterval, negative never.
	ResyncInterval time.Duration
}

// A Balancer keeps a Backend in step with pools whose real servers'
// health and weights come from outside (health checkers): each SetHealth,
// SetWeight or SetPools changes the pools, and Run's goroutine, the only
// one that writes to the backend, applies the pools' desired table after
// it. Changes that come while one is applied are applied together by the
// next one.
//
// Run does a full Sync (it reads the table) when it starts, after a
// failure (retried after RetryInterval) and every ResyncInterval; a change
// in between is applied with Syncer.Apply, which writes only what changed
// and reads nothing. What other programs do to the Balancer's services is
// repaired at the next full Sync.
//
// The Balancer reports quorum changes and real servers going up and down
// as Events to its subscriptions (Subscribe), from Run's goroutine, after
// the write that applied them succeeded (a failed one keeps them for its
// retry), never for the state a pool starts in. Its methods are safe for
// concurrent use.
type Balancer struct {
	syncer *Syncer
	log    *slog.Logger
	cfg    BalancerConfig
	wake   chan struct{} // capacity 1: a change is waiting
	ran    atomic.Bool
	events feed.Feed[Event]
	counts balancerCounters

	mu      sync.Mutex
	pools   []*Pool
	byKey   map[ServiceKey]*Pool
	pending []Event // guarded by mu: to publish after the next sync
	// dirty are the services changed since the last take, gone those
	// removed.
	dirty map[ServiceKey]struct{}
	gone  map[ServiceKey]struct{}
	beat  *watchdog.Beat // SetBeat's
}

// SetBeat makes Run beat b (see package watchdog) on every turn of its
// loop, and at least every b.Period() while nothing happens, so that a
// Balancer stuck in a backend call is found stalled; its owner calls
// b.Done once Run returned. A sync of a large table must take less than
// b's deadline. Call it before Run: once Run was called, it changes
// nothing and returns ErrRan.
func (bl *Balancer) SetBeat(b *watchdog.Beat) error {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	if bl.ran.Load() {
		return ErrRan
	}
	bl.beat = b
	return nil
}

// BalancerStats counts what a Balancer did since NewBalancer.
type BalancerStats struct {
	// Syncs counts the full Syncs (they read the table), Applies the
	// changes applied without reading, Failures those of either that
	// returned an error.
	Syncs, Applies, Failures uint64
	// Events counts the events published; Dropped those the
	// subscriptions lost because their queue was full.
	Events, Dropped uint64
	// Ops and OpErrors count the backend calls by kind (Syncer.Stats).
	Ops, OpErrors map[Op]uint64
	// SyncDuration is the histogram of the durations of the Syncs and
	// applies, reads and writes together.
	SyncDuration Histogram
}

// Histogram is a histogram of durations (BalancerStats.SyncDuration):
// counts per bucket, the buckets' bounds in HistogramBounds.
type Histogram = hist.Snapshot

// HistogramBounds are the upper bounds of a Histogram's buckets, 1 ms to
// 10 s; its last bucket is unbounded.
var HistogramBounds = hist.Bounds

// balancerCounters are the live BalancerStats (counter.Snapshot).
type balancerCounters struct {
	Syncs, Applies, Failures, Events atomic.Uint64
	syncDur                          hist.Hist
}

// NewBalancer returns a Balancer of the pools over b; start it with Run.
// Invalid pools (PoolConfig.Validate, a service key given twice) are
// reported together as *FieldErrors wrapping ErrInvalid.
func NewBalancer(b Backend, pools []PoolConfig, cfg BalancerConfig) (*Balancer, error) {
	cfg.Logger = logx.OrDiscard(cfg.Logger)
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.ReleaseTimeout == 0 {
		cfg.ReleaseTimeout = DefaultReleaseTimeout
	}
	if cfg.ResyncInterval == 0 {
		cfg.ResyncInterval = DefaultResyncInterval
	}
	if err := validatePools(pools); err != nil {
		return nil, err
	}
	bl := &Balancer{
		syncer: NewSyncer(b, SyncConfig{Logger: cfg.Logger, Adopt: cfg.Adopt}),
		log:    cfg.Logger,
		cfg:    cfg,
		wake:   make(chan struct{}, 1),
		byKey:  make(map[ServiceKey]*Pool, len(pools)),
	}
	for _, pc := range pools {
		p, _ := NewPool(pc) // valid
		bl.pools = append(bl.pools, p)
		bl.byKey[p.Key()] = p
	}
	return bl, nil
}

// validatePools reports every invalid pool and every key given twice.
func validatePools(pools []PoolConfig) error {
	return validateServices(pools, func(pc PoolConfig) ServiceKey { return pc.Service.ServiceKey }, PoolConfig.Validate, "duplicate pool")
}

// SetPools replaces the Balancer's pools with pools, before or during
// Run, as keepalived's reload does: pools are matched to the current ones
// by service key, real servers by address and port.
//
//   - A pool that stays is reconfigured (Pool.Reconfigure): its real
//     servers that stay keep their health, and the weight SetWeight gave
//     them unless their configured weight changed; its quorum keeps its
//     state and is evaluated again with the new servers and settings
//     (an EventQuorumUp or EventQuorumDown if that changes it); each
//     removed real server that was up is reported with EventServerDown.
//   - A new pool starts as in NewBalancer.
//   - A pool no longer given has each real server that was up reported
//     with EventServerDown, and its quorum, if up, with EventQuorumDown;
//     its service is deleted.
//
// Run then writes only the difference: nothing for unchanged pools, one
// update for one changed weight, one create for one new real server, one
// delete for a removed service (a new service is created after a full
// Sync, which reads the table first: it may exist already).
//
// Invalid pools change nothing and are reported as NewBalancer reports
// them.
func (bl *Balancer) SetPools(pools []PoolConfig) error {
	// A pool given as it was last given is valid and needs no change:
	// only the others are validated and reconfigured (a reload of
	// thousands of real servers with one weight changed costs one pool).
	bl.mu.Lock()
	same := make([]bool, len(pools))
	var check []PoolConfig
	for i, pc := range pools {
		if p := bl.byKey[pc.Service.ServiceKey]; p != nil && p.cfg.equal(&pc) {
			same[i] = true
		} else {
			check = append(check, pc)
		}
	}
	bl.mu.Unlock()
	if err := validatePools(check); err != nil {
		return err
	}
	if err := validateServices(pools, func(pc PoolConfig) ServiceKey { return pc.Service.ServiceKey },
		func(PoolConfig) error { return nil }, "duplicate pool"); err != nil {
		return err
	}
	next := make([]*Pool, 0, len(pools))
	byKey := make(map[ServiceKey]*Pool, len(pools))
	bl.mu.Lock()
	for i, pc := range pools {
		k := pc.Service.ServiceKey
		p := bl.byKey[k]
		if p == nil {
			p, _ = NewPool(pc) // valid
			bl.markDirty(k)
		} else if same[i] && p.cfg.equal(&pc) {
			// Unchanged (and not changed meanwhile: SetPools calls are
			// not expected to race, but Run may have run).
		} else {
			wasUp := p.upServers()
			q, _ := p.Reconfigure(pc) // valid, same key
			for _, d := range wasUp {
				if _, ok := p.index[d]; !ok {
					bl.pending = append(bl.pending, Event{Kind: EventServerDown, Service: k, Dest: d})
				}
			}
			bl.quorumEvent(k, q)
			bl.markDirty(k)
		}
		next = append(next, p)
		byKey[k] = p
	}
	for _, p := range bl.pools {
		if byKey[p.Key()] == nil {
			bl.pending = append(bl.pending, p.downEvents()...)
			bl.markGone(p.Key())
		}
	}
	bl.pools, bl.byKey = next, byKey
	bl.mu.Unlock()
	bl.poke()
	return nil
}

// SetHealth records that the real server d of service svc is up or down.
// It may be called from any goroutine, before or during Run.
func (bl *Balancer) SetHealth(svc ServiceKey, d DestinationKey, up bool) error {
	return bl.change(svc, func(p *Pool) (QuorumChange, error) {
		was, err := p.Up(d)
		if err != nil {
			return QuorumSame, err
		}
		q, err := p.SetHealth(d, up)
		if err == nil && was != up {
			kind := EventServerDown
			if up {
				kind = EventServerUp
			}
			bl.pending = append(bl.pending, Event{Kind: kind, Service: svc, Dest: d})
		}
		return q, err
	})
}

// SetWeight sets the weight of the real server d of service svc (see
// Pool.SetWeight). It may be called from any goroutine, before or during
// Run.
func (bl *Balancer) SetWeight(svc ServiceKey, d DestinationKey, weight int) error {
	return bl.change(svc, func(p *Pool) (QuorumChange, error) { return p.SetWeight(d, weight) })
}

// change runs f on the pool of svc with bl.mu held, records the quorum
// change it returns and wakes Run.
func (bl *Balancer) change(svc ServiceKey, f func(*Pool) (QuorumChange, error)) error {
	bl.mu.Lock()
	p := bl.byKey[svc]
	if p == nil {
		bl.mu.Unlock()
		return fmt.Errorf("ipvs: service %v: no such pool: %w", svc, ErrNotFound)
	}
	q, err := f(p)
	bl.quorumEvent(svc, q)
	bl.markDirty(svc)
	bl.mu.Unlock()
	if err != nil {
		return err
	}
	bl.poke()
	return nil
}

// quorumEvent records and logs the quorum change q of svc; the caller
// holds bl.mu.
func (bl *Balancer) quorumEvent(svc ServiceKey, q QuorumChange) {
	switch q {
	case QuorumGained:
		bl.pending = append(bl.pending, Event{Kind: EventQuorumUp, Service: svc})
	case QuorumLost:
		bl.pending = append(bl.pending, Event{Kind: EventQuorumDown, Service: svc})
	default:
		return
	}
	bl.log.Info("ipvs: quorum "+q.String(), "service", svc.String())
}

// poke wakes Run for a change.
func (bl *Balancer) poke() {
	select {
	case bl.wake <- struct{}{}:
	default: // a Sync is already due
	}
}

// upServers returns the keys of the real servers that are up.
func (p *Pool) upServers() []DestinationKey {
	var out []DestinationKey
	for _, s := range p.servers {
		if s.up {
			out = append(out, s.DestinationKey)
		}
	}
	return out
}

// downEvents returns the events of p's end (removed, or Run's end with
// omega): each real server up goes down, then the quorum if it was up
// (and the pool has one).
func (p *Pool) downEvents() []Event {
	var out []Event
	for _, d := range p.upServers() {
		out = append(out, Event{Kind: EventServerDown, Service: p.Key(), Dest: d})
	}
	if p.QuorumUp() && p.quorum() >= 0 {
		out = append(out, Event{Kind: EventQuorumDown, Service: p.Key()})
	}
	return out
}

// Subscribe returns a subscription to the Balancer's events with a queue
// of n events (at least 1; Subscribe(1) always holds the latest event). A
// full queue drops its oldest event and counts it in Dropped: the
// Balancer never waits. C is closed by Close and when Run returns, after
// the last events (those still pending and, with Omega, the downs of
// Run's end); subscribing after Run returned gives a closed C.
func (bl *Balancer) Subscribe(n int) *Subscription {
	return &Subscription{sub: bl.events.Subscribe(n)}
}

// QuorumUp reports whether the pool of service svc has quorum.
func (bl *Balancer) QuorumUp(svc ServiceKey) (bool, error) {
	return lookup(bl, svc, func(p *Pool) (bool, error) { return p.QuorumUp(), nil })
}

// Up reports whether the real server d of service svc is up.
func (bl *Balancer) Up(svc ServiceKey, d DestinationKey) (bool, error) {
	return lookup(bl, svc, func(p *Pool) (bool, error) { return p.Up(d) })
}

// lookup calls f with the pool of svc, under bl.mu.
func lookup[T any](bl *Balancer, svc ServiceKey, f func(*Pool) (T, error)) (T, error) {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	p := bl.byKey[svc]
	if p == nil {
		var zero T
		return zero, fmt.Errorf("ipvs: service %v: no such pool: %w", svc, ErrNotFound)
	}
	return f(p)
}

// Desired returns the table the pools want now, in pool order, without
// the suspended ones (PoolConfig.Suspended).
func (bl *Balancer) Desired() []VirtualServer {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	return bl.desired()
}

// desired returns the pools' table, suspended pools left out; the
// caller holds bl.mu.
// markDirty records that service k changed; the caller holds bl.mu.
func (bl *Balancer) markDirty(k ServiceKey) {
	if bl.dirty == nil {
		bl.dirty = map[ServiceKey]struct{}{}
	}
	bl.dirty[k] = struct{}{}
	delete(bl.gone, k)
}

// markGone records that service k was removed; the caller holds bl.mu.
func (bl *Balancer) markGone(k ServiceKey) {
	if bl.gone == nil {
		bl.gone = map[ServiceKey]struct{}{}
	}
	bl.gone[k] = struct{}{}
	delete(bl.dirty, k)
}

// part returns the changed part of the desired table: the services
// changed since the last call (their desired entries; a suspended one
// counts as removed) and those removed. The caller holds bl.mu.
func (bl *Balancer) part() (changed []VirtualServer, removed []ServiceKey) {
	for k := range bl.dirty {
		if p := bl.byKey[k]; p != nil && !p.cfg.Suspended {
			changed = append(changed, p.VirtualServer())
		} else {
			removed = append(removed, k)
		}
	}
	for k := range bl.gone {
		removed = append(removed, k)
	}
	clear(bl.dirty)
	clear(bl.gone)
	return changed, removed
}

func (bl *Balancer) desired() []VirtualServer {
	out := make([]VirtualServer, 0, len(bl.pools))
	for _, p := range bl.pools {
		if !p.cfg.Suspended {
			out = append(out, p.VirtualServer())
		}
	}
	return out
}

// Owned returns the service keys the Balancer owns (Syncer.Owned): save
// them for BalancerConfig.Adopt.
func (bl *Balancer) Owned() []ServiceKey { return bl.syncer.Owned() }

// ReadStats reads the kernel's counters of the Balancer's services from
// the backend (Syncer.ReadStats).
func (bl *Balancer) ReadStats(ctx context.Context) ([]ServiceStats, error) {
	return bl.syncer.ReadStats(ctx)
}

// Stats returns the Balancer's counters; it reads nothing from the
// backend.
func (bl *Balancer) Stats() BalancerStats {
	s := counter.Snapshot[BalancerStats](&bl.counts)
	s.Dropped = bl.events.Dropped()
	ss := bl.syncer.Stats()
	s.Ops, s.OpErrors = ss.Ops, ss.OpErrors
	s.SyncDuration = bl.counts.syncDur.Snapshot()
	return s
}
