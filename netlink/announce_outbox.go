package netlink

import (
	"context"
	"sync"
)

// outbox orders and sends the frames of an announcer's announcements on
// its one pair of sockets. News goes first: the first round of an
// announcement's first burst (one frame per address: the segment learns
// of a new master from it) goes ahead of the frames queued for other
// reasons (the rest of the bursts, second bursts, refreshes). And no
// goroutine hands the sockets to another per frame: whoever finds them
// free sends every frame queued, back to back, while the goroutines that
// queued wait for their own frame (their wake-up delays only their next
// frame, not the sockets). With one announcement at a time this is the
// same as sending in place; with 200 routers taking over at once, a
// frame no longer waits for a goroutine's wake-up per frame ahead of it
// (bench/failover -mass).
type outbox struct {
	mu   sync.Mutex // guards news and rest
	news []*queued
	rest []*queued
	// sending holds a value while a goroutine sends the queue (a
	// channel, not a mutex, so no goroutine ever blocks on it).
	sending chan struct{}
}

// queued is one frame waiting in the outbox.
type queued struct {
	ctx  context.Context // a frame whose announcement ended is not sent
	f    *frame
	done chan struct{} // closed once sent or dropped
}

func newOutbox() *outbox { return &outbox{sending: make(chan struct{}, 1)} }

// post queues f, sends the queue if no one else is, and returns once f
// was sent (or dropped: ctx ended first) or ctx ended; send sends one
// frame.
func (o *outbox) post(ctx context.Context, f *frame, news bool, send func(*frame)) {
	q := &queued{ctx: ctx, f: f, done: make(chan struct{})}
	o.mu.Lock()
	if news {
		o.news = append(o.news, q)
	} else {
		o.rest = append(o.rest, q)
	}
	o.mu.Unlock()
	o.drain(send)
	select {
	case <-q.done:
	case <-ctx.Done():
	}
}

// drain sends every queued frame, news first, unless another goroutine
// is at it; a frame queued after that goroutine's last look is sent by
// it or by the poster's own drain, whichever comes last.
func (o *outbox) drain(send func(*frame)) {
	for {
		select {
		case o.sending <- struct{}{}:
		default:
			return // someone is sending; it looks again before it stops
		}
		for q := o.next(); q != nil; q = o.next() {
			if q.ctx.Err() == nil {
				send(q.f)
			}
			close(q.done)
		}
		<-o.sending
		o.mu.Lock()
		empty := len(o.news) == 0 && len(o.rest) == 0
		o.mu.Unlock()
		if empty {
			return
		}
	}
}

// next takes the next frame to send: news first, each kind in order.
func (o *outbox) next() *queued {
	o.mu.Lock()
	defer o.mu.Unlock()
	var q *queued
	switch {
	case len(o.news) > 0:
		q, o.news = o.news[0], o.news[1:]
	case len(o.rest) > 0:
		q, o.rest = o.rest[0], o.rest[1:]
	}
	return q
}
