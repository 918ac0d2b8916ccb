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
