package netlink

import "github.com/vigil-ha/vigil/internal/feed"

// Subscription is one subscriber's queue of a Watcher's events; see
// Watcher.Subscribe. Its methods are safe for concurrent use.
type Subscription struct {
	s *feed.Sub[Event]
}

// C delivers the events in the order the Watcher published them. It is
// closed by Close and when the Watcher's Run returns, after the events
// still queued.
func (s *Subscription) C() <-chan Event { return s.s.C() }

// Dropped counts the events this subscription lost: when its queue is
// full, the oldest queued event is dropped to make room for the newest.
// See Watcher.Subscribe for how a subscriber recovers.
func (s *Subscription) Dropped() uint64 { return s.s.Dropped() }

// Close stops delivery and closes C. Calling it again does nothing.
func (s *Subscription) Close() { s.s.Close() }
