package feed

import (
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDropOldest(t *testing.T) {
	var f Feed[int]
	s := f.Subscribe(3)
	for i := 1; i <= 5; i++ {
		f.Publish(i)
	}
	var got []int
	for range 3 {
		got = append(got, <-s.C())
	}
	if want := []int{3, 4, 5}; !equal(got, want) {
		t.Fatalf("got %v, want %v (the oldest dropped)", got, want)
	}
	if s.Dropped() != 2 || f.Dropped() != 2 {
		t.Fatalf("dropped: sub %d feed %d, want 2 and 2", s.Dropped(), f.Dropped())
	}
}

func TestLatestOnly(t *testing.T) {
	var f Feed[string]
	s := f.Subscribe(0) // at least 1: the latest value
	f.Publish("a")
	f.Publish("b")
	if v := <-s.C(); v != "b" {
		t.Fatalf("got %q, want the latest %q", v, "b")
	}
}

func TestCloseSub(t *testing.T) {
	var f Feed[int]
	a, b := f.Subscribe(4), f.Subscribe(4)
	f.Publish(1)
	a.Close()
	a.Close()
	f.Publish(2)
	if n := f.Subscribers(); n != 1 {
		t.Fatalf("subscribers %d, want 1", n)
	}
	if v, ok := <-a.C(); !ok || v != 1 {
		t.Fatalf("closed sub: got %v %v, want the queued 1 first", v, ok)
	}
	if _, ok := <-a.C(); ok {
		t.Fatal("closed sub still open after its queue")
	}
	if v1, v2 := <-b.C(), <-b.C(); v1 != 1 || v2 != 2 {
		t.Fatalf("other sub got %d %d, want 1 2", v1, v2)
	}
}

func TestCloseFeed(t *testing.T) {
	var f Feed[int]
	s := f.Subscribe(2)
	f.Publish(7)
	f.Close()
	f.Close()
	f.Publish(8) // no effect, no panic
	s.Close()    // after the feed's Close: no double close
	var got []int
	for v := range s.C() {
		got = append(got, v)
	}
	if !equal(got, []int{7}) {
		t.Fatalf("got %v, want [7]", got)
	}
	late := f.Subscribe(1)
	if _, ok := <-late.C(); ok {
		t.Fatal("subscribing after Close: channel open")
	}
}

// TestConcurrent runs publishers, readers and closers together (for -race);
// every value is either delivered or counted as dropped.
func TestConcurrent(t *testing.T) {
	var f Feed[int]
	const pubs, per = 4, 1000
	s := f.Subscribe(8)
	var got int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range s.C() {
			got++
		}
	}()
	var wg sync.WaitGroup
	for range pubs {
		wg.Go(func() {
			for i := range per {
				f.Publish(i)
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			f.Subscribe(1).Close()
		}
	})
	wg.Wait()
	f.Close()
	<-done
	if uint64(got)+s.Dropped() != pubs*per {
		t.Fatalf("delivered %d + dropped %d != published %d", got, s.Dropped(), pubs*per)
	}
}

// TestShared: feeds subscribed to one channel deliver into it in order;
// closing them stops delivery and leaves the channel open (it is the
// caller's); a full channel drops its oldest value, counted to the
// subscriber whose publish dropped it.
func TestShared(t *testing.T) {
	var a, b Feed[int]
	c := make(chan int, 2)
	sa, sb := a.SubscribeTo(c), b.SubscribeTo(c)
	if sa.C() != (<-chan int)(c) {
		t.Fatal("C is not the caller's channel")
	}
	a.Publish(1)
	b.Publish(2)
	a.Publish(3) // full: drops 1
	if got := []int{<-c, <-c}; !equal(got, []int{2, 3}) {
		t.Fatalf("got %v, want [2 3]", got)
	}
	if sa.Dropped() != 1 || a.Dropped() != 1 || sb.Dropped() != 0 || b.Dropped() != 0 {
		t.Fatalf("dropped: a %d/%d b %d/%d, want 1/1 0/0", sa.Dropped(), a.Dropped(), sb.Dropped(), b.Dropped())
	}
	sa.Close()
	sa.Close()
	b.Close()
	sb.Close()   // after its feed's Close
	a.Publish(4) // no subscriber left
	b.Publish(5) // closed
	c <- 6       // still open: a close would panic here
	if v := <-c; v != 6 {
		t.Fatalf("got %d, want only 6 after the subscriptions ended", v)
	}
	late := b.SubscribeTo(c)
	b.Publish(7)
	if len(c) != 0 || late.Dropped() != 0 {
		t.Fatalf("subscribed to a closed feed: %d queued, %d dropped; want nothing", len(c), late.Dropped())
	}
}

// TestSharedNoRoom: a channel that never has room (nil; unbuffered with
// no reader) makes Publish count the value dropped and return.
func TestSharedNoRoom(t *testing.T) {
	for _, c := range []chan int{nil, make(chan int)} {
		var f Feed[int]
		s := f.SubscribeTo(c)
		f.Publish(1)
		f.Publish(2)
		if s.Dropped() != 2 || f.Dropped() != 2 {
			t.Fatalf("cap %d: dropped %d/%d, want 2/2", cap(c), s.Dropped(), f.Dropped())
		}
	}
}

// TestSharedConcurrent: many feeds publishing at once into one small
// channel while it is read: every value delivered or counted dropped.
func TestSharedConcurrent(t *testing.T) {
	const feeds, per = 8, 2000
	c := make(chan int, 4)
	fs := make([]Feed[int], feeds)
	subs := make([]*Sub[int], feeds)
	for i := range fs {
		subs[i] = fs[i].SubscribeTo(c)
	}
	var got int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range c {
			got++
		}
	}()
	var wg sync.WaitGroup
	for i := range fs {
		wg.Go(func() {
			for v := range per {
				fs[i].Publish(v)
			}
			fs[i].Close()
		})
	}
	wg.Wait()
	close(c)
	<-done
	var dropped uint64
	for i, s := range subs {
		if s.Dropped() != fs[i].Dropped() {
			t.Fatalf("feed %d: sub dropped %d, feed %d", i, s.Dropped(), fs[i].Dropped())
		}
		dropped += s.Dropped()
	}
	if uint64(got)+dropped != feeds*per {
		t.Fatalf("delivered %d + dropped %d != published %d", got, dropped, feeds*per)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A function subscriber gets every value, in order, none dropped however
// many; Close stops the calls; the feed's Close too, and a subscriber
// added after it is never called.
func TestFunc(t *testing.T) {
	var f Feed[int]
	var got []int
	s := f.SubscribeFunc(func(v int) { got = append(got, v) })
	for i := range 1000 {
		f.Publish(i)
	}
	if len(got) != 1000 || got[0] != 0 || got[999] != 999 || s.Dropped() != 0 || f.Dropped() != 0 || s.C() != nil {
		t.Fatalf("got %d values (first %d), dropped %d / %d", len(got), got[0], s.Dropped(), f.Dropped())
	}
	s.Close()
	s.Close()
	f.Publish(1000)
	if len(got) != 1000 || f.Subscribers() != 0 {
		t.Fatalf("after Close: %d values, %d subscribers", len(got), f.Subscribers())
	}
	var g Feed[int]
	n := 0
	g.SubscribeFunc(func(int) { n++ })
	g.Publish(1)
	g.Close()
	g.Publish(2)
	late := g.SubscribeFunc(func(int) { n += 10 })
	g.Publish(3)
	late.Close()
	if n != 1 {
		t.Fatalf("calls %d, want 1: none after the feed's Close", n)
	}
}
