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

// SubscribeTo is Subscribe with the caller's channel: the router's events
// go to c, which any number of routers may share, so that one goroutine
// reads the transitions of them all with no queue or goroutine per
// router (vrrpd does so for its 1,000 routers). Events carry their
// router's Config.Name in Instance. The router never closes c: the
// caller closes it, if at all, once every router sending to it has
// returned from Run (or the subscriptions are closed). When c is full
// the oldest event in it, of whichever router, is dropped and counted
// here and in this router's Stats.EventsDropped; c should be buffered
// (a nil c receives nothing and counts every event dropped). Close
// stops delivery. Safe for concurrent use.
func (r *Router) SubscribeTo(c chan Event) *Subscription {
	return &Subscription{s: r.events.SubscribeTo(c)}
}

// SubscribeFunc is Subscribe for a caller with a queue of its own
// (the Supervisor's, for all its routers): f is called with each event,
// in order, on the goroutine running Run, and must return at once (it
// holds up the router); nothing is dropped. It saves the subscription's
// queue and the goroutine that would read it. C is nil; Close stops the
// calls, as Run's return does. Safe for concurrent use.
func (r *Router) SubscribeFunc(f func(Event)) *Subscription {
	return &Subscription{s: r.events.SubscribeFunc(f)}
}

// C is the channel of events. It is closed by Close and when the
// router's Run returns, after the events still queued, so
// `for e := range sub.C()` ends with the router. SubscribeTo's is the
// caller's channel: neither closes it.
func (s *Subscription) C() <-chan Event { return s.s.C() }

// Dropped counts the events this subscription lost because its queue was
// full.
func (s *Subscription) Dropped() uint64 { return s.s.Dropped() }

// Close stops delivery and closes C (not SubscribeTo's); the events still
// queued can be read. Calling it again does nothing.
func (s *Subscription) Close() { s.s.Close() }
