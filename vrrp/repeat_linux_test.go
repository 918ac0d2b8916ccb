//go:build linux

package vrrp

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// repeatRig is a backup Router on a Conn of a Socket without a raw
// socket, and its master's advert, which the test dispatches as the
// socket's reader would.
type repeatRig struct {
	s    *Socket
	r    *Router
	sub  *Subscription
	b    []byte
	info PacketInfo
	done chan error
}

var (
	repeatSrc = netip.MustParseAddr("192.0.2.1")
	repeatVIP = netip.MustParsePrefix("192.0.2.100/32")
)

func newRepeatRig(t *testing.T, ctx context.Context, timers Timers) *repeatRig {
	t.Helper()
	s := testSocket(false)
	conn, err := s.Conn(51, ConnConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r, err := NewRouter(conn, nil, nil, Config{VRID: 51, Version: V3, Priority: 100, Interval: 100 * time.Millisecond,
		VIPs: []netip.Prefix{repeatVIP}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetTimers(timers); err != nil {
		t.Fatal(err)
	}
	a := Advertisement{Version: V3, VRID: 51, Priority: 200, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{repeatVIP.Addr()}}
	b, err := a.Marshal(repeatSrc, GroupV4)
	if err != nil {
		t.Fatal(err)
	}
	g := &repeatRig{s: s, r: r, sub: r.Subscribe(16), b: b, info: PacketInfo{Src: repeatSrc, Dst: GroupV4, TTL: TTL, IfIndex: 2},
		done: make(chan error, 1)}
	go func() { g.done <- r.Run(ctx) }()
	return g
}

// send dispatches the master's advert, arrived now.
func (g *repeatRig) send() time.Time {
	info := g.info
	info.Time = time.Now()
	g.s.dispatch(g.b, info)
	return info.Time
}

// events returns the transitions so far.
func (g *repeatRig) events() []Event {
	var es []Event
	for {
		select {
		case e := <-g.sub.C():
			es = append(es, e)
		default:
			return es
		}
	}
}

// A backup's master's adverts, the same every interval, reach the
// Router's loop once: the Conn records the others (SocketStats.Repeats),
// counted as accepted, and the loop still restarts Master_Down_Timer from
// the last of them: it takes over Master_Down_Interval after the last
// advert to the nanosecond, as if it had stepped each.
func TestBackupRepeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		g := newRepeatRig(t, ctx, Timers{})
		synctest.Wait()
		const n = 20 // 2 s: over five Master_Down_Intervals
		var last time.Time
		for range n {
			last = g.send()
			time.Sleep(100 * time.Millisecond)
		}
		synctest.Wait()
		for _, e := range g.events() {
			if e.To != Backup {
				t.Fatalf("while its master advertised: %v → %v (%v)", e.From, e.To, e.Reason)
			}
		}
		st := g.s.Stats()
		if st.Delivered != n || st.Repeats != n-1 || st.QueueFull != 0 {
			t.Errorf("socket stats %+v: want %d delivered, %d of them repeats", st, n, n-1)
		}
		if rs := g.r.Stats(); rs.AdvertsReceived != n {
			t.Errorf("router counted %d adverts received, want %d", rs.AdvertsReceived, n)
		}
		mdi := 3*100*time.Millisecond + (156*100*time.Millisecond)/256
		time.Sleep(time.Until(last.Add(mdi)) + time.Millisecond)
		synctest.Wait()
		es := g.events()
		if len(es) != 1 || es[0].To != Master || !es[0].Time.Equal(last.Add(mdi)) {
			t.Fatalf("after the last advert: events %+v; want Master at the last advert + %v (%v)", es, mdi, last.Add(mdi))
		}
		cancel()
		if err := <-g.done; err != nil {
			t.Fatal(err)
		}
	})
}

// A Conn records repeats only of the message set, from the same place,
// and keeps arrival order: a message that is not the repeat queues and
// stops the recording, so that the repeats after it queue behind it;
// nothing is set while messages wait.
func TestSocketConnRepeatOrder(t *testing.T) {
	s := testSocket(false)
	conn, err := s.Conn(51, ConnConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	a := Advertisement{Version: V3, VRID: 51, Priority: 200, Interval: time.Second, Addrs: []netip.Addr{repeatVIP.Addr()}}
	rep, err := a.Marshal(repeatSrc, GroupV4)
	if err != nil {
		t.Fatal(err)
	}
	a.Priority = 0
	stop, err := a.Marshal(repeatSrc, GroupV4)
	if err != nil {
		t.Fatal(err)
	}
	info := PacketInfo{Src: repeatSrc, Dst: GroupV4, TTL: TTL, IfIndex: 2}
	t0 := time.Unix(1000, 0)
	at := func(i int) PacketInfo { x := info; x.Time = t0.Add(time.Duration(i) * time.Second); return x }
	var received atomic.Uint64
	rt := repeatTimer{mdi: 10 * time.Second, deadline: at(10).Time}
	if !conn.setRepeat(rep, at(0), &received, rt) {
		t.Fatal("setRepeat on an empty queue: not set")
	}
	if _, ok := conn.takeRepeat(); ok {
		t.Fatal("a repeat taken before any arrived")
	}
	s.dispatch(rep, at(1))
	s.dispatch(rep, at(2))
	if got, ok := conn.takeRepeat(); !ok || !got.Equal(at(2).Time) {
		t.Fatalf("takeRepeat = %v, %v; want the latest, %v", got, ok, at(2).Time)
	}
	if _, ok := conn.takeRepeat(); ok {
		t.Fatal("a repeat taken twice")
	}
	s.dispatch(rep, at(3))
	s.dispatch(stop, at(4)) // not the repeat: queued, recording stops
	s.dispatch(rep, at(5))  // behind it
	if st := s.Stats(); st.Repeats != 3 || st.Delivered != 5 || len(conn.q) != 2 || received.Load() != 3 {
		t.Fatalf("stats %+v, %d queued, %d counted received; want 3 repeats of 5, 2 queued, 3 counted",
			st, len(conn.q), received.Load())
	}
	if conn.setRepeat(rep, at(5), &received, rt) {
		t.Error("setRepeat with messages queued: set")
	}
	if got, ok := conn.takeRepeat(); !ok || !got.Equal(at(3).Time) {
		t.Fatalf("takeRepeat = %v, %v; want the one before the queued ones, %v", got, ok, at(3).Time)
	}
	for i, want := range []PacketInfo{at(4), at(5)} {
		m := <-conn.q
		if m.info != want {
			t.Fatalf("queued message %d arrived %v, want %v", i, m.info.Time, want.Time)
		}
		conn.reuse(m)
	}
	// Only the same bytes from the same place are the repeat.
	if !conn.setRepeat(rep, at(5), &received, rt) {
		t.Fatal("setRepeat on an empty queue: not set")
	}
	others := map[string]func(*PacketInfo){
		"src":     func(i *PacketInfo) { i.Src = netip.MustParseAddr("192.0.2.3") },
		"dst":     func(i *PacketInfo) { i.Dst = netip.MustParseAddr("192.0.2.2") },
		"ttl":     func(i *PacketInfo) { i.TTL = 64 },
		"ifindex": func(i *PacketInfo) { i.IfIndex = 3 },
	}
	for name, f := range others {
		x := at(6)
		f(&x)
		s.dispatch(rep, x)
		if _, ok := conn.takeRepeat(); ok || len(conn.q) != 1 {
			t.Errorf("other %s: taken as the repeat (%d queued)", name, len(conn.q))
		}
		conn.reuse(<-conn.q)
		conn.setRepeat(rep, at(5), &received, rt)
	}
	s.dispatch(stop[:len(stop)-1], at(7))
	if _, ok := conn.takeRepeat(); ok || len(conn.q) != 1 {
		t.Errorf("other bytes: taken as the repeat (%d queued)", len(conn.q))
	}
	conn.reuse(<-conn.q)
	// Each repeat moves the deadline Master_Down_Interval past itself; one
	// at or after the deadline in force is queued (the Router steps the
	// expiry first).
	rt.deadline = at(8).Time
	conn.setRepeat(rep, at(7), &received, rt)
	s.dispatch(rep, at(8))
	if _, ok := conn.takeRepeat(); ok || len(conn.q) != 1 {
		t.Errorf("a repeat at the deadline: taken as the repeat (%d queued)", len(conn.q))
	}
	conn.reuse(<-conn.q)
	conn.setRepeat(rep, at(7), &received, rt)
	s.dispatch(rep, at(7))  // deadline 17
	s.dispatch(rep, at(16)) // deadline 26
	s.dispatch(rep, at(25))
	if got, ok := conn.takeRepeat(); !ok || !got.Equal(at(25).Time) || len(conn.q) != 0 {
		t.Errorf("repeats each before the deadline the one before set: took %v, %v (%d queued); want %v",
			got, ok, len(conn.q), at(25).Time)
	}
}

// The loop sets no repeat for adverts stepping them again would do more
// than restart Master_Down_Timer with, and drops the one set when its
// configuration changes: after a reload that changes the VIPs, the same
// adverts count as address mismatches again, each.
func TestBackupRepeatsReconfigure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		g := newRepeatRig(t, ctx, Timers{})
		synctest.Wait()
		for range 3 {
			g.send()
			time.Sleep(100 * time.Millisecond)
		}
		if st := g.s.Stats(); st.Repeats != 2 {
			t.Fatalf("%d repeats of 3, want 2", st.Repeats)
		}
		cfg := g.r.view.Load().cfg
		cfg.VIPs = []netip.Prefix{netip.MustParsePrefix("192.0.2.101/32")}
		if err := g.r.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for range 3 {
			g.send()
			time.Sleep(100 * time.Millisecond)
		}
		if st, rs := g.s.Stats(), g.r.Stats(); st.Repeats != 2 || rs.AddrMismatch != 3 || rs.AdvertsReceived != 6 {
			t.Errorf("after the reload: %d repeats, %d mismatches, %d received; want 2, 3, 6", st.Repeats, rs.AddrMismatch, rs.AdvertsReceived)
		}
		// A lower priority (we preempt) is not a repeat either.
		cfg.VIPs = []netip.Prefix{repeatVIP}
		cfg.Priority = 250
		if err := g.r.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		g.send()
		g.send()
		synctest.Wait()
		if st := g.s.Stats(); st.Repeats != 2 {
			t.Errorf("a lower priority's adverts: %d repeats, want 2", st.Repeats)
		}
		cancel()
		<-g.done
	})
}

// With a Clock (the precise timers' final approach), as without: the
// repeats restart Master_Down_Timer, in real time, and the Conn does it:
// the timer does not fire while the master advertises.
func TestBackupRepeatsClock(t *testing.T) {
	clock, err := NewClock()
	if err != nil {
		t.Fatal(err)
	}
	defer clock.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	g := newRepeatRig(t, ctx, Timers{Precise: true, Clock: clock})
	// 12 adverts 50 ms apart: 600 ms, over the Master_Down_Interval
	// (361 ms) of the first, with 300 ms to spare for a late wake-up.
	const n = 12
	for range n {
		g.send()
		time.Sleep(50 * time.Millisecond)
	}
	for _, e := range g.events() {
		if e.To != Backup {
			t.Fatalf("while its master advertised: %v → %v (%v)", e.From, e.To, e.Reason)
		}
	}
	if st := g.s.Stats(); st.Repeats < n/2 {
		t.Errorf("%d repeats of %d adverts: the loop was woken for most", st.Repeats, n)
	}
	// The Conn restarted the timer for each: it never fired (the loop
	// was not woken), nor polled.
	clock.mu.Lock()
	fired := clock.fired
	clock.mu.Unlock()
	if rs := g.r.Stats(); fired != 0 || rs.FinalApproaches != 0 {
		t.Errorf("while the master advertised: the clock fired %d times, %d final approaches polled; want 0, 0", fired, rs.FinalApproaches)
	}
	cancel()
	if err := <-g.done; err != nil {
		t.Fatal(err)
	}
	// The Router is gone: its Conn records no more (nor touches the
	// timer).
	before := g.s.Stats().Repeats
	g.send()
	if st := g.s.Stats(); st.Repeats != before {
		t.Errorf("after Run returned: a repeat recorded (%d, was %d)", st.Repeats, before)
	}
}
