package ipvs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-ha/vigil/internal/logx"
)

// Run syncs the pools into the backend at once, applies every change
// after that, and syncs again every ResyncInterval, until ctx ends. Then,
// unless KeepOnExit, it removes the services it owns (with a fresh context
// bounded by ReleaseTimeout), publishes the events still pending and,
// with Omega (BalancerConfig.Omega, or a pool's PoolConfig.Omega for that
// pool), the downs of every real server and quorum still up, closes
// the subscriptions' channels, and returns. It returns nil, or the error
// of that last removal.
//
// A Balancer runs once: a second call returns ErrRan, whether the first
// is still running or has returned.
func (bl *Balancer) Run(ctx context.Context) error {
	if !bl.ran.CompareAndSwap(false, true) {
		return ErrRan
	}
	defer bl.events.Close()
	var (
		retry    <-chan time.Time
		resync   *time.Timer
		full     = true
		failures uint64 // in a row, for the log
	)
	if bl.cfg.ResyncInterval > 0 {
		resync = time.NewTimer(bl.cfg.ResyncInterval)
		defer resync.Stop()
	}
	bl.mu.Lock()
	beat := bl.beat
	bl.mu.Unlock()
	var alive <-chan time.Time // wakes the loop to beat while nothing happens
	if p := beat.Period(); p > 0 {
		t := time.NewTicker(p)
		defer t.Stop()
		alive = t.C
	}
	for {
		var err error
		var events []Event
		wrote := true // false: a wake with nothing to write
		start := time.Now()
		if full {
			var desired []VirtualServer
			desired, events = bl.take()
			bl.counts.Syncs.Add(1)
			_, err = bl.syncer.Sync(ctx, desired)
			if resync != nil {
				resync.Reset(bl.cfg.ResyncInterval)
			}
		} else {
			// Only what changed since the last write: a health flip of
			// one real server among 30,000 diffs one service.
			var changed []VirtualServer
			var removed []ServiceKey
			changed, removed, events = bl.takePart()
			wrote = len(changed) > 0 || len(removed) > 0
			bl.counts.Applies.Add(1)
			_, err = bl.syncer.applyPart(ctx, changed, removed)
			if errors.Is(err, errNeedWhole) {
				desired, more := bl.take()
				_, err = bl.syncer.Apply(ctx, desired)
				events = append(events, more...)
			}
		}
		if wrote {
			bl.counts.syncDur.Observe(time.Since(start))
		}
		switch {
		case err != nil && ctx.Err() == nil:
			bl.counts.Failures.Add(1)
			failures++
			if logx.Sampled(failures) {
				bl.log.Warn("ipvs: sync failed", "failures", failures, "retry_in", bl.cfg.RetryInterval, "err", err)
			}
			retry = nil
			if bl.cfg.RetryInterval > 0 {
				retry = time.After(bl.cfg.RetryInterval)
			}
		case err == nil && wrote:
			// After a failure the Syncer keeps no record, so a write
			// with something in it was a whole one: the table is right.
			// A wake with nothing to write proves nothing: a retry due
			// stays due.
			retry = nil
			if failures > 0 {
				bl.log.Info("ipvs: sync recovered", "failures", failures)
				failures = 0
			}
		}
		full = false
		if err != nil {
			// Not applied: the events wait for the write that applies
			// them (the retry, the next change or resync).
			bl.mu.Lock()
			bl.pending = append(events, bl.pending...)
			bl.mu.Unlock()
		} else {
			bl.publish(events)
		}
		var tick <-chan time.Time
		if resync != nil {
			tick = resync.C
		}
	wait:
		for {
			beat.Beat()
			select {
			case <-ctx.Done():
				return bl.stop(ctx)
			case <-alive:
				continue
			case <-bl.wake:
			case <-retry:
				full = true
			case <-tick:
				full = true
			}
			break wait
		}
	}
}

// take returns the desired table and the pending events, and forgets
// what changed (the whole table is written).
func (bl *Balancer) take() ([]VirtualServer, []Event) {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	ev := bl.pending
	bl.pending = nil
	clear(bl.dirty)
	clear(bl.gone)
	return bl.desired(), ev
}

// takePart returns what changed since the last take (see part) and the
// pending events.
func (bl *Balancer) takePart() ([]VirtualServer, []ServiceKey, []Event) {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	ev := bl.pending
	bl.pending = nil
	changed, removed := bl.part()
	return changed, removed, ev
}

// publish sends events to the subscriptions; it never waits.
func (bl *Balancer) publish(events []Event) {
	for _, e := range events {
		bl.events.Publish(e)
	}
	bl.counts.Events.Add(uint64(len(events)))
}

// stop releases the table and publishes the last events.
func (bl *Balancer) stop(ctx context.Context) error {
	var err error
	if !bl.cfg.KeepOnExit {
		rctx, cancel := context.WithoutCancel(ctx), context.CancelFunc(func() {})
		if bl.cfg.ReleaseTimeout > 0 {
			rctx, cancel = context.WithTimeout(rctx, bl.cfg.ReleaseTimeout)
		}
		_, err = bl.syncer.Sync(rctx, nil)
		cancel()
		if err != nil {
			err = fmt.Errorf("ipvs: balancer: removing the services: %w", err)
		}
	}
	_, events := bl.take()
	bl.mu.Lock()
	for _, p := range bl.pools {
		if bl.cfg.Omega || p.cfg.Omega {
			events = append(events, p.downEvents()...)
		}
	}
	bl.mu.Unlock()
	bl.publish(events)
	return err
}
