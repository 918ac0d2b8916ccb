package vrrp

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/internal/feed"
)

// AnnounceLowerPrio announces addrs through a's AnnounceLowerPrio if a is
// a LowerPrioAnnouncer, else through Announce: what the Router does for
// a master that heard a lower priority master, for wrappers of an
// Announcer to pass on.
func AnnounceLowerPrio(ctx context.Context, a Announcer, addrs []netip.Addr) error {
	if la, ok := a.(LowerPrioAnnouncer); ok {
		return la.AnnounceLowerPrio(ctx, addrs)
	}
	return a.Announce(ctx, addrs)
}

// LowerPrioAdvert reports an advert from a lower priority master (or one
// of equal priority and lower address) received while Master: keepalived's
// MASTER_RX_LOWER_PRI event, for notify_master_rx_lower_pri. The router
// answers it by itself (an advert unless LowerPrioNoAdvert, and an
// announcement); the report is for scripts that must put back what the
// other master took (cloud secondary addresses).
type LowerPrioAdvert struct {
	Instance string
	// Time is when the advert arrived.
	Time time.Time
	// Src and Priority are the advert's sender and priority.
	Src      netip.Addr
	Priority uint8
	// Ours is our effective priority.
	Ours uint8
}

// LowerPrioSubscription receives a router's LowerPrioAdverts, one per
// such advert, in order.
type LowerPrioSubscription struct {
	s *feed.Sub[LowerPrioAdvert]
}

// SubscribeLowerPrio returns a subscription to the router's
// LowerPrioAdverts. Its queue holds up to n of them (at least 1); the
// router never waits: when the queue is full the oldest is dropped and
// counted. The channel is closed by Close and when Run returns. Safe for
// concurrent use.
func (r *Router) SubscribeLowerPrio(n int) *LowerPrioSubscription {
	return &LowerPrioSubscription{s: r.lower.Subscribe(n)}
}

// SubscribeLowerPrioFunc is SubscribeLowerPrio calling f with each
// report instead, as SubscribeFunc does with events: on the goroutine
// running Run, in order, nothing dropped; f must return at once.
func (r *Router) SubscribeLowerPrioFunc(f func(LowerPrioAdvert)) *LowerPrioSubscription {
	return &LowerPrioSubscription{s: r.lower.SubscribeFunc(f)}
}

// C is the channel of reports, closed by Close and when the router's Run
// returns (nil for SubscribeLowerPrioFunc's).
func (s *LowerPrioSubscription) C() <-chan LowerPrioAdvert { return s.s.C() }

// Dropped counts the reports this subscription lost because its queue
// was full.
func (s *LowerPrioSubscription) Dropped() uint64 { return s.s.Dropped() }

// Close stops delivery and closes C. Calling it again does nothing.
func (s *LowerPrioSubscription) Close() { s.s.Close() }

// reportLowerPrio publishes a LowerPrioAdvert if the machine answered
// the advert in (as of now) as one from a lower priority master.
func (lp *loop) reportLowerPrio(in Input, actions []Action, now time.Time) {
	if in.Kind != InputAdvert || !slices.ContainsFunc(actions, func(a Action) bool { return a.Kind == ActAnnounce && a.LowerPrio }) {
		return
	}
	r := lp.r
	r.lower.Publish(LowerPrioAdvert{Instance: r.view.Load().cfg.Name, Time: now, Src: in.Src, Priority: in.Priority,
		Ours: r.machine.Priority()})
}
