package vrrp

import (
	"context"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/feed"
)

// routerSync is a Router's part in a sync group.
type routerSync struct {
	// Guarded by Router.ctlMu: SyncTo's latest, not yet applied.
	pending bool
	group   State
	seq     uint64

	// applied is the Seq of the last SyncTo applied; Run's goroutine owns it.
	applied uint64

	mu        sync.Mutex
	status    SyncStatus // the last published
	published bool

	feed feed.Feed[SyncStatus]
}

// SyncTo tells the router the state of its sync group, as a SyncGroup's
// SyncTell action says (group and seq are the action's To and Seq):
// Backup, Master or Fault, or Init to leave the group. The router then
// follows keepalived's rules for a member (Machine.SyncTo):
//
//   - Until told Master, it never becomes master on its own: when it
//     would, it stays in BACKUP, reports WantMaster and waits another
//     Master_Down_Interval, and an address owner starts in BACKUP.
//   - Master: a backup becomes master at once (adds its VIPs, advertises,
//     announces).
//   - Backup: a master leaves for BACKUP without priority 0 and removes
//     its VIPs; a router in FAULT only because of the group starts again.
//   - Fault: a master sends priority 0 and removes its VIPs; the router
//     stays in FAULT until told otherwise and its own faults (SetFault)
//     are cleared.
//
// Its transitions for the group have ReasonSyncGroup. It never blocks:
// the running router applies the group's state at once, after any
// pending Reconfigure, Track and SetFault (of several calls not yet
// applied, the last wins); before Run, at start; after Run returned, it
// has no effect. Once applied, the router reports its SyncStatus with
// Seq seq (SyncStatus, SubscribeSync). A state other than Init, Backup,
// Master or Fault is a *FieldError wrapping ErrInvalid.
//
// A router in a group is told the group's state before Run: one not
// told starts as a router in no group, and an address owner would start
// as master.
func (r *Router) SyncTo(group State, seq uint64) error {
	switch group {
	case Init, Backup, Master, Fault:
	default:
		return invalid(r.view.Load().cfg.object(), "group", "%v, want INIT, BACKUP, MASTER or FAULT", group)
	}
	r.ctlMu.Lock()
	r.sync.pending, r.sync.group, r.sync.seq = true, group, seq
	r.ctlMu.Unlock()
	r.kick()
	return nil
}

// SyncStatus returns what the router's sync group needs to know: its
// state, whether it wants to be master, whether one of its own fault
// sources is down, and the Seq of the last SyncTo it applied. Before
// Run, it is INIT with the faults set so far; after Run, STOPPED. Safe at
// any time.
func (r *Router) SyncStatus() SyncStatus {
	r.sync.mu.Lock()
	st, ok := r.sync.status, r.sync.published
	r.sync.mu.Unlock()
	if ok {
		return st
	}
	r.ctlMu.Lock()
	defer r.ctlMu.Unlock()
	return SyncStatus{State: Init, Faulted: r.track.faulted()}
}

// SyncSubscription receives a router's SyncStatus each time it changes.
type SyncSubscription struct {
	s *feed.Sub[SyncStatus]
}

// SubscribeSync returns a subscription to the router's SyncStatus, which
// it publishes each time it changes (for a SyncGroup's SyncUpdate). Its
// queue holds up to n statuses (at least 1); the router never waits:
// when the queue is full the oldest is dropped and counted, so
// SubscribeSync(1) always holds the latest, which is all a SyncGroup
// needs. The channel is closed by Close and when Run returns, after the
// last status (STOPPED). Safe for concurrent use.
func (r *Router) SubscribeSync(n int) *SyncSubscription {
	return &SyncSubscription{s: r.sync.feed.Subscribe(n)}
}

// SubscribeSyncFunc is SubscribeSync calling f with each status
// instead, as SubscribeFunc does with events: on the goroutine running
// Run, in order, nothing dropped; f must return at once.
func (r *Router) SubscribeSyncFunc(f func(SyncStatus)) *SyncSubscription {
	return &SyncSubscription{s: r.sync.feed.SubscribeFunc(f)}
}

// C is the channel of statuses, closed by Close and when the router's
// Run returns.
func (s *SyncSubscription) C() <-chan SyncStatus { return s.s.C() }

// Dropped counts the statuses this subscription lost because its queue
// was full.
func (s *SyncSubscription) Dropped() uint64 { return s.s.Dropped() }

// Close stops delivery and closes C. Calling it again does nothing.
func (s *SyncSubscription) Close() { s.s.Close() }

// applySync applies SyncTo's latest on Run's goroutine (applyControl).
func (r *Router) applySync(ctx context.Context, lp *loop) {
	r.ctlMu.Lock()
	pending, group, seq := r.sync.pending, r.sync.group, r.sync.seq
	r.sync.pending = false
	r.ctlMu.Unlock()
	if !pending {
		return
	}
	if group != r.machine.Group() {
		r.view.Load().log.Info("vrrp: sync group state", "group", group.String(), "seq", seq)
	}
	r.sync.applied = seq
	lp.reclaim(ctx) // a member the group puts in FAULT or BACKUP stops advertising
	now := time.Now()
	lp.actions = r.machine.SyncTo(group, now, lp.actions[:0])
	lp.do(ctx, lp.actions, now) // reports the new Seq, even with no actions
}

// reportSync publishes the router's SyncStatus if it changed (after
// every step: do).
func (lp *loop) reportSync() {
	r := lp.r
	m := r.machine
	st := SyncStatus{State: m.State(), WantMaster: m.WantMaster(), Faulted: m.faulted, Seq: r.sync.applied}
	r.sync.mu.Lock()
	old, was := r.sync.status, r.sync.published
	r.sync.status, r.sync.published = st, true
	r.sync.mu.Unlock()
	if was && st == old {
		return
	}
	if st.WantMaster && !old.WantMaster {
		r.view.Load().log.Info("vrrp: would become master; its sync group holds it in BACKUP until every member can")
	}
	r.sync.feed.Publish(st)
}
