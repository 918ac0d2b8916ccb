package ipvs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
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
	// OnQuorumUp and OnQuorumDown, if set, are called once for each gain
	// and loss of a pool's quorum (keepalived's notify_up and notify_down
	// of a virtual server), not for the state a pool starts in. They are
	// called from Run's goroutine, with no lock held, after the Sync that
	// applied the change, in the order the changes happened; they may call
	// the Balancer, and should return quickly, as the next Sync waits.
	OnQuorumUp   func(ServiceKey)
	OnQuorumDown func(ServiceKey)
	// Omega makes the end of Run report, through OnQuorumDown, the pools
	// that have quorum then (keepalived's omega).
	Omega bool
	// KeepOnExit leaves the services in the table when Run ends
	// (keepalived's --dont-release-ipvs); by default Run removes the
	// services it owns before it returns, as keepalived does on exit.
	KeepOnExit bool
	// RetryInterval is the wait before syncing again after a failed Sync;
	// zero means DefaultRetryInterval.
	RetryInterval time.Duration
	// ReleaseTimeout bounds the final Sync that removes the services; zero
	// means DefaultReleaseTimeout.
	ReleaseTimeout time.Duration
	// ResyncInterval is how long after a full Sync the Balancer does the
	// next one, which reads the table and repairs what other programs
	// changed in its services (changes in between are applied with
	// Syncer.Apply, which reads nothing); zero means
	// DefaultResyncInterval, negative never.
	ResyncInterval time.Duration
}

// A Balancer keeps a Backend in step with pools whose real servers'
// health and weights come from outside (health checkers): each SetHealth or
// SetWeight changes a Pool, and Run's goroutine, the only one that writes
// to the backend, applies the pools' desired table after it. Changes that
// come while one is applied are applied together by the next one.
//
// Run does a full Sync (it reads the table) when it starts, after a
// failure (retried after RetryInterval) and every ResyncInterval; a change
// in between is applied with Syncer.Apply, which writes only what changed
// and reads nothing. What other programs do to the Balancer's services is
// repaired at the next full Sync.
type Balancer struct {
	syncer  *Syncer
	log     *slog.Logger
	cfg     BalancerConfig
	wake    chan struct{} // capacity 1: a change is waiting
	running atomic.Bool

	mu     sync.Mutex
	pools  []*Pool
	byKey  map[ServiceKey]*Pool
	events []quorumEvent
}

type quorumEvent struct {
	svc ServiceKey
	up  bool
}

// NewBalancer returns a Balancer of the pools over b; start it with Run.
func NewBalancer(b Backend, pools []PoolConfig, cfg BalancerConfig) (*Balancer, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.ReleaseTimeout <= 0 {
		cfg.ReleaseTimeout = DefaultReleaseTimeout
	}
	if cfg.ResyncInterval == 0 {
		cfg.ResyncInterval = DefaultResyncInterval
	}
	bl := &Balancer{
		syncer: NewSyncer(b, SyncConfig{Logger: cfg.Logger, Adopt: cfg.Adopt}),
		log:    cfg.Logger,
		cfg:    cfg,
		wake:   make(chan struct{}, 1),
		byKey:  make(map[ServiceKey]*Pool, len(pools)),
	}
	var errs []error
	for _, pc := range pools {
		p, err := NewPool(pc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if bl.byKey[p.Key()] != nil {
			errs = append(errs, &FieldError{Service: p.Key(), Field: "ServiceKey", Reason: "duplicate pool"})
			continue
		}
		bl.pools = append(bl.pools, p)
		bl.byKey[p.Key()] = p
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return bl, nil
}

// SetHealth records that the real server d of service svc is up or down.
// It may be called from any goroutine, before or during Run.
func (bl *Balancer) SetHealth(svc ServiceKey, d DestinationKey, up bool) error {
	return bl.change(svc, func(p *Pool) (QuorumChange, error) { return p.SetHealth(d, up) })
}

// SetWeight sets the weight of the real server d of service svc (see
// Pool.SetWeight). It may be called from any goroutine, before or during
// Run.
func (bl *Balancer) SetWeight(svc ServiceKey, d DestinationKey, weight int) error {
	return bl.change(svc, func(p *Pool) (QuorumChange, error) { return p.SetWeight(d, weight) })
}

func (bl *Balancer) change(svc ServiceKey, f func(*Pool) (QuorumChange, error)) error {
	bl.mu.Lock()
	p := bl.byKey[svc]
	if p == nil {
		bl.mu.Unlock()
		return fmt.Errorf("ipvs: service %v: no such pool: %w", svc, ErrNotFound)
	}
	q, err := f(p)
	if q != QuorumSame {
		bl.events = append(bl.events, quorumEvent{svc: svc, up: q == QuorumGained})
	}
	bl.mu.Unlock()
	if err != nil {
		return err
	}
	if q != QuorumSame {
		bl.log.Info("ipvs: quorum "+q.String(), "service", svc.String())
	}
	select {
	case bl.wake <- struct{}{}:
	default: // a Sync is already due
	}
	return nil
}

// QuorumUp reports whether the pool of service svc has quorum.
func (bl *Balancer) QuorumUp(svc ServiceKey) (bool, error) {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	p := bl.byKey[svc]
	if p == nil {
		return false, fmt.Errorf("ipvs: service %v: no such pool: %w", svc, ErrNotFound)
	}
	return p.QuorumUp(), nil
}

// Desired returns the table the pools want now, in pool order.
func (bl *Balancer) Desired() []VirtualServer {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	out := make([]VirtualServer, len(bl.pools))
	for i, p := range bl.pools {
		out[i] = p.VirtualServer()
	}
	return out
}

// Owned returns the service keys the Balancer owns (Syncer.Owned): save
// them for BalancerConfig.Adopt.
func (bl *Balancer) Owned() []ServiceKey { return bl.syncer.Owned() }

// Stats returns the counters of the Balancer's services (Syncer.Stats).
func (bl *Balancer) Stats(ctx context.Context) ([]ServiceStats, error) { return bl.syncer.Stats(ctx) }

// Run syncs the pools into the backend at once, applies every change
// after that, and syncs again every ResyncInterval, until ctx ends. Then,
// unless KeepOnExit, it removes the services it owns (with a fresh context
// bounded by ReleaseTimeout), reports the quorum changes still pending
// and, with Omega, the loss of the quorums still up, and returns. It
// returns nil, or the error of that last removal. A Balancer runs once.
func (bl *Balancer) Run(ctx context.Context) error {
	if !bl.running.CompareAndSwap(false, true) {
		return errors.New("ipvs: balancer: Run called twice")
	}
	var (
		retry  <-chan time.Time
		resync *time.Timer
		full   = true
	)
	if bl.cfg.ResyncInterval > 0 {
		resync = time.NewTimer(bl.cfg.ResyncInterval)
		defer resync.Stop()
	}
	for {
		desired, events := bl.take()
		var err error
		if full {
			_, err = bl.syncer.Sync(ctx, desired)
			if resync != nil {
				resync.Reset(bl.cfg.ResyncInterval)
			}
		} else {
			_, err = bl.syncer.Apply(ctx, desired)
		}
		if err != nil && ctx.Err() == nil {
			bl.log.Warn("ipvs: sync failed, will retry", "in", bl.cfg.RetryInterval, "err", err)
			retry = time.After(bl.cfg.RetryInterval)
		} else {
			retry = nil
		}
		full = false
		bl.notify(events)
		var tick <-chan time.Time
		if resync != nil {
			tick = resync.C
		}
		select {
		case <-ctx.Done():
			return bl.stop(ctx)
		case <-bl.wake:
		case <-retry:
			full = true
		case <-tick:
			full = true
		}
	}
}

// take returns the desired table and the pending quorum events.
func (bl *Balancer) take() ([]VirtualServer, []quorumEvent) {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	out := make([]VirtualServer, len(bl.pools))
	for i, p := range bl.pools {
		out[i] = p.VirtualServer()
	}
	ev := bl.events
	bl.events = nil
	return out, ev
}

func (bl *Balancer) notify(events []quorumEvent) {
	for _, e := range events {
		switch {
		case e.up && bl.cfg.OnQuorumUp != nil:
			bl.cfg.OnQuorumUp(e.svc)
		case !e.up && bl.cfg.OnQuorumDown != nil:
			bl.cfg.OnQuorumDown(e.svc)
		}
	}
}

// stop releases the table and reports the last events.
func (bl *Balancer) stop(ctx context.Context) error {
	var err error
	if !bl.cfg.KeepOnExit {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bl.cfg.ReleaseTimeout)
		_, err = bl.syncer.Sync(rctx, nil)
		cancel()
		if err != nil {
			err = fmt.Errorf("ipvs: balancer: removing the services: %w", err)
		}
	}
	_, events := bl.take()
	if bl.cfg.Omega {
		bl.mu.Lock()
		for _, p := range bl.pools {
			if p.QuorumUp() {
				events = append(events, quorumEvent{svc: p.Key()})
			}
		}
		bl.mu.Unlock()
	}
	bl.notify(events)
	return err
}
