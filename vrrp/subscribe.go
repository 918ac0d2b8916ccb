package vrrp

import "github.com/vigil-ha/vigil/internal/feed"

// Subscription receives a router's transitions, in order, as Events.
type Subscription struct {
	s *feed.Sub[Event]
}

// Subscribe returns a subscription whose queue holds up to n events (at
// least 1). The router never waits for a subscriber: when the queue is
// full, the oldest event is dropped and counted (Dropped, and
// Stats.EventsDropped), so Subscribe(1) always holds the latest. The
// channel is closed by Close and when Run returns, after the last
// transition (to STOPPED); subscribing after Run returned gives a closed
// channel. Safe for concurrent use.
func (r *Router) Subscribe(n int) *Subscription {
	return &Subscription{s: r.events.Subscribe(n)}
}

// C is the channel of events. It is closed by Close and when the
// router's Run returns, after the events still queued, so
// `for e := range sub.C()` ends with the router.
func (s *Subscription) C() <-chan Event { return s.s.C() }

// Dropped counts the events this subscription lost because its queue was
// full.
func (s *Subscription) Dropped() uint64 { return s.s.Dropped() }

// Close stops delivery and closes C; the events still queued can be read.
// Calling it again does nothing.
func (s *Subscription) Close() { s.s.Close() }
