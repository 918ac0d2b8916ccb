// Package feed is vigil's one implementation of event subscriptions: a
// producer publishes values to any number of subscribers and never waits
// for them. Each subscriber has a bounded queue; when it is full the
// oldest value is dropped and counted, so a subscriber with a queue of 1
// always holds the latest value.
//
// Packages wrap a Sub in their own exported Subscription type (C, Close,
// Dropped) so that their documentation is complete.
package feed

import (
	"sync"
	"sync/atomic"
)

// Feed fans values out to subscribers. The zero value is ready to use.
// Its methods are safe for concurrent use.
type Feed[T any] struct {
	mu      sync.Mutex // guards subs and closed; sends under it never block
	subs    []*Sub[T]
	closed  bool
	dropped atomic.Uint64
}

// Sub is one subscriber's queue.
type Sub[T any] struct {
	f       *Feed[T]
	c       chan T
	fn      func(T) // SubscribeFunc's, called instead of queueing (c nil)
	shared  bool    // c is the caller's (SubscribeTo), or nil (SubscribeFunc): never closed here
	dropped atomic.Uint64
	done    bool // guarded by f.mu: delivery stopped (c closed, unless shared)
}

// Subscribe adds a subscriber whose queue holds up to n values (at least
// 1). After the feed is closed it returns a subscriber whose channel is
// already closed.
func (f *Feed[T]) Subscribe(n int) *Sub[T] {
	if n < 1 {
		n = 1
	}
	return f.add(&Sub[T]{f: f, c: make(chan T, n)})
}

// SubscribeTo adds a subscriber whose queue is c, a channel the caller
// made and may share between feeds: one reader takes the values of many
// producers, with no goroutine or queue per producer. The feed never
// closes c (its Close and the Sub's only stop delivery): the caller
// closes it, if at all, once no feed can publish to it. When c is full
// the oldest value in it, whichever feed published it, is dropped and
// counted to this subscriber and its feed; c should be buffered (an
// unbuffered c takes a value only while its reader waits, and a nil c
// none: the others are counted as dropped). After the feed is closed it
// returns a subscriber that delivers nothing.
func (f *Feed[T]) SubscribeTo(c chan T) *Sub[T] {
	return f.add(&Sub[T]{f: f, c: c, shared: true})
}

// SubscribeFunc adds a subscriber that keeps its own queue: Publish
// calls fn with each value, in order, on the publisher's goroutine and
// under the feed's lock, so fn must return at once (append to a queue
// of its own, say) and must not call the feed. Nothing is dropped here.
// Its Sub's C is nil; Close stops the calls. After the feed is closed it
// returns a subscriber that is never called.
func (f *Feed[T]) SubscribeFunc(fn func(T)) *Sub[T] {
	return f.add(&Sub[T]{f: f, fn: fn, shared: true})
}

// add registers s, or stops it at once if the feed is closed.
func (f *Feed[T]) add(s *Sub[T]) *Sub[T] {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		s.stop()
		return s
	}
	f.subs = append(f.subs, s)
	return s
}

// Publish offers v to every subscriber without waiting: a full queue drops
// its oldest value to take v. It does nothing after Close.
func (f *Feed[T]) Publish(v T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.subs {
		s.offer(v)
	}
}

// offer puts v in s's queue, dropping the oldest value if it is full.
// The caller holds f.mu, so a queue of its own has one sender at a time
// and the second try always finds room (a reader only makes more). A
// shared queue (SubscribeTo) has other feeds' senders, which may fill
// the room made: after offerTries, v itself is dropped, so Publish stays
// bounded.
func (s *Sub[T]) offer(v T) {
	if s.fn != nil {
		s.fn(v)
		return
	}
	for range offerTries {
		select {
		case s.c <- v:
			return
		default:
		}
		select {
		case <-s.c:
			s.drop()
		default:
		}
	}
	s.drop() // v
}

// offerTries bounds offer's attempts to queue a value.
const offerTries = 4

func (s *Sub[T]) drop() {
	s.dropped.Add(1)
	s.f.dropped.Add(1)
}

// Subscribers returns the number of open subscribers.
func (f *Feed[T]) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// Dropped counts the values dropped across all subscribers.
func (f *Feed[T]) Dropped() uint64 { return f.dropped.Load() }

// Close closes every subscriber's channel (after the values still queued)
// and makes later Publish calls do nothing. Calling it again does nothing.
func (f *Feed[T]) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	for _, s := range f.subs {
		s.stop()
	}
	f.subs = nil
}

// stop ends delivery to s; the caller holds f.mu.
func (s *Sub[T]) stop() {
	s.done = true
	if !s.shared {
		close(s.c)
	}
}

// C is the subscriber's channel. It is closed by Close or by the feed's
// Close, after the values still queued; a shared one (SubscribeTo) is the
// caller's to close; SubscribeFunc's is nil.
func (s *Sub[T]) C() <-chan T { return s.c }

// Dropped counts the values this subscriber lost because its queue was
// full.
func (s *Sub[T]) Dropped() uint64 { return s.dropped.Load() }

// Close stops delivery and closes C (unless it is shared: SubscribeTo).
// Calling it again does nothing.
func (s *Sub[T]) Close() {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.done {
		return
	}
	s.stop()
	for i, x := range f.subs {
		if x == s {
			f.subs = append(f.subs[:i:i], f.subs[i+1:]...)
			break
		}
	}
}
