package netlink

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
)

// While one goroutine sends the outbox, the others' frames queue; it
// sends them all, news first, each kind in order; a frame whose context
// ended meanwhile is dropped; every poster returns once its frame is
// out.
func TestOutboxNewsFirstOneSender(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newOutbox()
		release := make(chan struct{})
		var mu sync.Mutex
		var order []string
		senders := map[*frame]bool{}
		send := func(f *frame) {
			<-release
			mu.Lock()
			order = append(order, f.addr.String())
			mu.Unlock()
		}
		mk := func(s string) *frame { return &frame{addr: netip.MustParseAddr(s)} }
		a1, a2, a3, b1 := mk("192.0.2.1"), mk("192.0.2.2"), mk("192.0.2.3"), mk("192.0.2.11")
		returned := make(chan *frame, 4)
		post := func(ctx context.Context, f *frame, news bool) {
			go func() { o.post(ctx, f, news, send); returned <- f }()
			synctest.Wait()
		}
		ctx := t.Context()
		post(ctx, a1, false) // sends a1 itself, held in send
		post(ctx, a2, false) // queued
		dropped, cancel := context.WithCancel(ctx)
		post(dropped, a3, false) // queued, then its announcement ends
		cancel()
		synctest.Wait()
		if f := <-returned; f != a3 {
			t.Fatalf("%v returned first, want the dropped frame's poster", f.addr)
		}
		post(ctx, b1, true) // news, queued after a2
		for range 3 {
			release <- struct{}{}
			synctest.Wait()
		}
		for range 3 {
			senders[<-returned] = true
		}
		if !senders[a1] || !senders[a2] || !senders[b1] {
			t.Errorf("posters returned: %v", senders)
		}
		if got, want := fmt.Sprint(order), "[192.0.2.1 192.0.2.11 192.0.2.2]"; got != want {
			t.Errorf("sent %s, want %s (news first, the dropped frame not at all)", got, want)
		}
		select {
		case o.sending <- struct{}{}:
			<-o.sending
		default:
			t.Error("the outbox is still held after the queue emptied")
		}
	})
}

// Once the outbox has queued a frame, posting another allocates nothing:
// its entries are reused. An entry whose poster left on its context is
// not reused while the sender may still signal it.
func TestOutboxReusesEntries(t *testing.T) {
	o := newOutbox()
	f := &frame{}
	sent := 0
	send := func(*frame) { sent++ }
	ctx := context.Background()
	o.post(ctx, f, true, send)
	if n := testing.AllocsPerRun(100, func() { o.post(ctx, f, false, send) }); n != 0 {
		t.Errorf("post: %v allocations, want 0", n)
	}
	if sent != 102 {
		t.Errorf("sent %d frames, want 102", sent)
	}
	if len(o.free) != 1 {
		t.Errorf("%d free entries after posts one at a time, want 1", len(o.free))
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	o.sending <- struct{}{} // someone else is sending: the post only queues
	o.post(gone, f, true, send)
	if len(o.free) != 0 || o.news.len() != 1 {
		t.Fatalf("a post whose context ended: %d free, %d queued; want 0 and 1", len(o.free), o.news.len())
	}
	<-o.sending
	o.drain(send) // drops it (its context ended) and signals it
	if sent != 102 || len(o.free) != 0 {
		t.Errorf("after the drain: %d sent, %d free; want 102 and 0 (the abandoned entry is not reused)", sent, len(o.free))
	}
}
