package process

import "github.com/vigil-ha/vigil/internal/feed"

// Subscription is one subscriber's queue of a Tracker's Changes; see
// Tracker.Subscribe. Its methods are safe for concurrent use.
type Subscription struct {
	s *feed.Sub[Change]
}

// C delivers the Changes in the order the Tracker published them. It is
// closed by Close and when the Tracker's Run returns, after the Changes
// still queued.
func (s *Subscription) C() <-chan Change { return s.s.C() }

// Dropped counts the Changes this subscription lost: when its queue is
// full, the oldest queued Change is dropped to make room for the newest.
func (s *Subscription) Dropped() uint64 { return s.s.Dropped() }

// Close stops delivery and closes C. Calling it again does nothing.
func (s *Subscription) Close() { s.s.Close() }
