package check

import "github.com/vigil-ha/vigil/internal/feed"

// A Subscription receives values from a Monitor (Subscription[Status]) or
// a Group (Subscription[Change]). The producer never waits for it: its
// queue holds the n values given to Subscribe (at least 1), and when it is
// full the oldest value is dropped to make room and counted in Dropped, so
// a subscription made with Subscribe(1) always holds the latest value. Its
// methods are safe for concurrent use.
type Subscription[T any] struct {
	sub *feed.Sub[T]
}

// C returns the channel of values. It is closed by Close, and when the
// producer's Run returns, after the values still queued.
func (s *Subscription[T]) C() <-chan T { return s.sub.C() }

// Close ends the subscription and closes C. Calling it again does nothing.
func (s *Subscription[T]) Close() { s.sub.Close() }

// Dropped counts the values this subscription lost because its queue was
// full.
func (s *Subscription[T]) Dropped() uint64 { return s.sub.Dropped() }
