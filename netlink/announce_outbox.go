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
	mu   sync.Mutex // guards news, rest and free
	news fifo
	rest fifo
	// free are queued entries to reuse (a frame costs no allocation once
	// the outbox has seen as many at once), at most maxFree.
	free []*queued
	// sending holds a value while a goroutine sends the queue (a
	// channel, not a mutex, so no goroutine ever blocks on it).
	sending chan struct{}
}

// queued is one frame waiting in the outbox.
type queued struct {
	ctx  context.Context // a frame whose announcement ended is not sent
	f    *frame
	done chan struct{} // one value once sent or dropped (capacity 1)
}

// maxFree bounds the queued entries an outbox keeps for reuse.
const maxFree = 256

func newOutbox() *outbox { return &outbox{sending: make(chan struct{}, 1)} }

// post queues f, sends the queue if no one else is, and returns once f
// was sent (or dropped: ctx ended first) or ctx ended; send sends one
// frame.
func (o *outbox) post(ctx context.Context, f *frame, news bool, send func(*frame)) {
	o.mu.Lock()
	var q *queued
	if n := len(o.free); n > 0 {
		q, o.free = o.free[n-1], o.free[:n-1]
	} else {
		q = &queued{done: make(chan struct{}, 1)}
	}
	q.ctx, q.f = ctx, f
	if news {
		o.news.push(q)
	} else {
		o.rest.push(q)
	}
	o.mu.Unlock()
	o.drain(send)
	select {
	case <-q.done:
		// Sent or dropped: no one holds q any more.
		q.ctx, q.f = nil, nil
		o.mu.Lock()
		if len(o.free) < maxFree {
			o.free = append(o.free, q)
		}
		o.mu.Unlock()
	case <-ctx.Done():
		// The sender may still take q and signal it: not reused.
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
			q.done <- struct{}{} // q is not touched after this
		}
		<-o.sending
		o.mu.Lock()
		empty := o.news.len() == 0 && o.rest.len() == 0
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
	case o.news.len() > 0:
		q = o.news.pop()
	case o.rest.len() > 0:
		q = o.rest.pop()
	}
	return q
}

// fifo is a queue of entries that keeps its array: once emptied it
// starts again at the front, so queueing allocates only while it grows.
type fifo struct {
	s    []*queued
	head int
}

func (f *fifo) len() int { return len(f.s) - f.head }

func (f *fifo) push(q *queued) { f.s = append(f.s, q) }

// pop takes the first entry; the fifo must not be empty.
func (f *fifo) pop() *queued {
	q := f.s[f.head]
	f.s[f.head] = nil
	f.head++
	if f.head == len(f.s) {
		f.s, f.head = f.s[:0], 0
	}
	return q
}
