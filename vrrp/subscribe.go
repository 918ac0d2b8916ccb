package vrrp

import (
	"sync/atomic"
)

// Subscription receives a router's transitions.
type Subscription struct {
	r       *Router
	c       chan Event
	dropped atomic.Uint64
}

// Subscribe returns a subscription whose channel holds up to buf events
// (at least 1). The router never waits for a subscriber: when the buffer is
// full the oldest event is dropped and counted.
func (r *Router) Subscribe(buf int) *Subscription {
	if buf < 1 {
		buf = 1
	}
	s := &Subscription{r: r, c: make(chan Event, buf)}
	r.subMu.Lock()
	r.subs = append(r.subs, s)
	r.subMu.Unlock()
	return s
}

// C is the channel of events. It is never closed.
func (s *Subscription) C() <-chan Event { return s.c }

// Dropped counts events lost because the channel was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Forward calls fn for each event, in order, until done is closed, then
// for the events still queued, and returns. Close done once the router's
// Run has returned, and Forward will have passed on every transition.
func (s *Subscription) Forward(done <-chan struct{}, fn func(Event)) {
	for {
		select {
		case e := <-s.c:
			fn(e)
		case <-done:
			for {
				select {
				case e := <-s.c:
					fn(e)
				default:
					return
				}
			}
		}
	}
}

// Close stops delivery to s.
func (s *Subscription) Close() {
	s.r.subMu.Lock()
	defer s.r.subMu.Unlock()
	for i, x := range s.r.subs {
		if x == s {
			s.r.subs = append(s.r.subs[:i], s.r.subs[i+1:]...)
			return
		}
	}
}

func (r *Router) publish(e Event) {
	r.subMu.Lock()
	subs := append([]*Subscription(nil), r.subs...)
	r.subMu.Unlock()
	for _, s := range subs {
		for {
			select {
			case s.c <- e:
			default:
				// Full: drop the oldest and try again (we are the only sender).
				select {
				case <-s.c:
					s.dropped.Add(1)
					r.eventsDropped.Add(1)
				default:
				}
				continue
			}
			break
		}
	}
}
