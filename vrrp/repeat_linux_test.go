//go:build linux

package vrrp

import (
	"context"
	"net/netip"
	"sync"
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
// Router's loop once: the Conn records the others (SocketStats.RepeatsReceived),
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
		if st.Delivered != n || st.RepeatsReceived != n-1 || st.QueueFull != 0 {
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
	if st := s.Stats(); st.RepeatsReceived != 3 || st.Delivered != 5 || len(conn.q) != 2 || received.Load() != 3 {
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
		if st := g.s.Stats(); st.RepeatsReceived != 2 {
			t.Fatalf("%d repeats of 3, want 2", st.RepeatsReceived)
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
		if st, rs := g.s.Stats(), g.r.Stats(); st.RepeatsReceived != 2 || rs.AddrMismatch != 3 || rs.AdvertsReceived != 6 {
			t.Errorf("after the reload: %d repeats, %d mismatches, %d received; want 2, 3, 6", st.RepeatsReceived, rs.AddrMismatch, rs.AdvertsReceived)
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
		if st := g.s.Stats(); st.RepeatsReceived != 2 {
			t.Errorf("a lower priority's adverts: %d repeats, want 2", st.RepeatsReceived)
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
	if st := g.s.Stats(); st.RepeatsReceived < n/2 {
		t.Errorf("%d repeats of %d adverts: the loop was woken for most", st.RepeatsReceived, n)
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
	before := g.s.Stats().RepeatsReceived
	g.send()
	if st := g.s.Stats(); st.RepeatsReceived != before {
		t.Errorf("after Run returned: a repeat recorded (%d, was %d)", st.RepeatsReceived, before)
	}
}

// sent is one advert a Socket without a raw socket sent.
type sent struct {
	at  time.Time
	adv Advertisement
}

// recordSends has s record its sends.
func recordSends(t *testing.T, s *Socket) func() []sent {
	var mu sync.Mutex
	var got []sent
	s.testWrite = func(vrid uint8, b []byte, dst netip.Addr) error {
		var a Advertisement
		if err := a.Unmarshal(b, s.primary, dst); err != nil {
			t.Errorf("sent %x: %v", b, err)
		}
		mu.Lock()
		got = append(got, sent{at: time.Now(), adv: a})
		mu.Unlock()
		return nil
	}
	return func() []sent {
		mu.Lock()
		defer mu.Unlock()
		s := got
		got = nil
		return s
	}
}

// newMasterRig is a Socket without a raw socket, its sends recorded,
// and a Router of priority 200 advertising every iv on its Conn for VRID
// 51, and the Router's Config.
func newMasterRig(t *testing.T, iv time.Duration) (*Socket, func() []sent, *Router, Config) {
	t.Helper()
	s := testSocket(false)
	sends := recordSends(t, s)
	conn, err := s.Conn(51, ConnConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cfg := Config{VRID: 51, Version: V3, Priority: 200, Interval: iv, VIPs: []netip.Prefix{repeatVIP}}
	r, err := NewRouter(conn, nil, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, sends, r, cfg
}

// A master's periodic adverts after its first expiry are sent by its
// Socket (SocketStats.RepeatsSent), on the machine's schedule to the
// nanosecond, until anything else happens: a reload's new addresses go
// out from the next advert on, a higher priority makes it Backup with no
// advert after, and at shutdown it sends priority 0, once.
func TestMasterRepeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		const iv = 100 * time.Millisecond
		s, sends, r, cfg := newMasterRig(t, iv)
		sub := r.Subscribe(16)
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		var master time.Time
		for e := range sub.C() {
			if e.To == Master {
				master = e.Time
				break
			}
		}
		// check: the adverts sent since from, one every interval from
		// first, with addrs and priority; returns when the next is due.
		check := func(what string, got []sent, first time.Time, n int, addr netip.Addr, prio uint8) time.Time {
			t.Helper()
			if len(got) != n {
				t.Fatalf("%s: %d adverts sent, want %d: %v", what, len(got), n, got)
			}
			for i, g := range got {
				if want := first.Add(time.Duration(i) * iv); !g.at.Equal(want) || g.adv.Priority != prio ||
					len(g.adv.Addrs) != 1 || g.adv.Addrs[0] != addr {
					t.Fatalf("%s: advert %d at %v, priority %d, %v; want %v, %d, %v", what, i, g.at, g.adv.Priority,
						g.adv.Addrs, want, prio, addr)
				}
			}
			return first.Add(time.Duration(n) * iv)
		}
		time.Sleep(time.Second + iv/2) // adverts at master + 0..10 intervals
		synctest.Wait()
		check("as master", sends(), master, 11, repeatVIP.Addr(), 200)
		if st, rs := s.Stats(), r.Stats(); st.RepeatsSent != 9 || rs.AdvertsSent != 11 {
			t.Fatalf("the socket sent %d, the router counted %d; want 9 of 11", st.RepeatsSent, rs.AdvertsSent)
		}
		// A reload between two adverts: a master sends the new address at
		// once (Machine.Reconfigure), then every interval from there.
		if got := sends(); len(got) != 0 {
			t.Fatalf("before the next was due: sent %v", got)
		}
		other := netip.MustParsePrefix("192.0.2.101/32")
		cfg.VIPs = []netip.Prefix{other}
		reload := time.Now()
		if err := r.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(4*iv + iv/2)
		synctest.Wait()
		next := check("after the reload", sends(), reload, 5, other.Addr(), 200)
		if st := s.Stats(); st.RepeatsSent != 9+3 {
			t.Fatalf("after the reload the socket sent %d, want 3 more than 9", st.RepeatsSent)
		}
		// A higher priority half an interval before the next advert.
		time.Sleep(time.Until(next.Add(-iv / 2)))
		a := Advertisement{Version: V3, VRID: 51, Priority: 250, Interval: iv, Addrs: []netip.Addr{other.Addr()}}
		b, err := a.Marshal(repeatSrc, GroupV4)
		if err != nil {
			t.Fatal(err)
		}
		s.dispatch(b, PacketInfo{Src: repeatSrc, Dst: GroupV4, TTL: TTL, IfIndex: 2, Time: time.Now()})
		time.Sleep(iv)
		synctest.Wait()
		if got := sends(); len(got) != 0 {
			t.Fatalf("after a higher priority: sent %v", got)
		}
		if st := r.Status(); st.State != Backup {
			t.Fatalf("after a higher priority: %v", st.State)
		}
		// The higher one goes silent: Master again, the socket sends again
		// from the second advert on.
		time.Sleep(time.Second)
		synctest.Wait()
		got := sends()
		if len(got) < 3 || s.Stats().RepeatsSent <= 9+4 {
			t.Fatalf("master again: %d sent, %d by the socket", len(got), s.Stats().RepeatsSent)
		}
		last := got[len(got)-1].at
		time.Sleep(time.Until(last.Add(iv / 2)))
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := sends(); len(got) != 1 || got[0].adv.Priority != 0 {
			t.Fatalf("at shutdown: sent %v; want one advert, priority 0", got)
		}
	})
}

// A Socket closed while it sends a master's repeats: its sender ends,
// and the Router's takeBack afterwards still returns when the next was
// due, sending nothing.
func TestSocketClosedWhileRepeating(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testSocket(false)
		sends := recordSends(t, s)
		var conns []*SocketConn
		var sent atomic.Uint64
		due := time.Now().Add(time.Second)
		for vrid := range uint8(3) {
			c, err := s.Conn(vrid+1, ConnConfig{})
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			c.sendRepeats([]byte{0x31, vrid + 1}, GroupV4, due, 100*time.Millisecond, 0, &sent, func(netip.Addr, error) {})
		}
		synctest.Wait()
		close(s.done)   // as Close does
		synctest.Wait() // the sender ends
		for i, c := range conns {
			if got := c.takeBack(); !got.Equal(due) {
				t.Errorf("conn %d: takeBack = %v, want %v", i, got, due)
			}
		}
		time.Sleep(2 * time.Second)
		if got := sends(); len(got) != 0 || sent.Load() != 0 {
			t.Errorf("after the Socket closed: %d sent", len(got))
		}
	})
}

// A sync group member master on its Socket's repeats, which its group
// then puts in BACKUP (SyncTo, as the Supervisor does when another member
// fails): its Socket sends nothing more (the group's BACKUP sends no
// priority 0 either), and when the group is MASTER again the Router
// advertises at once and hands its adverts out again.
func TestMasterRepeatsSyncTo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		const iv = 100 * time.Millisecond
		s, sends, r, _ := newMasterRig(t, iv)
		syncTo := func(g State, seq uint64) {
			t.Helper()
			if err := r.SyncTo(g, seq); err != nil {
				t.Fatal(err)
			}
		}
		syncTo(Backup, 1)
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		time.Sleep(time.Second) // Master_Down_Timer expired: held, wanting
		synctest.Wait()
		if st := r.SyncStatus(); !st.WantMaster || len(sends()) != 0 {
			t.Fatalf("held in BACKUP: %+v", st)
		}
		syncTo(Master, 2)
		time.Sleep(time.Second + iv/2)
		synctest.Wait()
		if got, rep := len(sends()), s.Stats().RepeatsSent; got != 11 || rep != 9 {
			t.Fatalf("the group's master: %d adverts, %d by the socket; want 11, 9", got, rep)
		}
		syncTo(Backup, 3)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := sends(); len(got) != 0 || r.Status().State != Backup {
			t.Fatalf("in the group's BACKUP (%v): sent %d adverts, the first at %v", r.Status().State, len(got), got[0].at)
		}
		back := time.Now()
		syncTo(Master, 4)
		time.Sleep(time.Second + iv/2)
		synctest.Wait()
		got := sends()
		if len(got) != 11 || !got[0].at.Equal(back) || s.Stats().RepeatsSent != 9+9 {
			t.Fatalf("master again: %d adverts (want 11 from %v), %d by the socket (want 18)", len(got), back,
				s.Stats().RepeatsSent)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second) // the sender wakes to nothing due and ends
	})
}

// A Conn closed while its Router hands it an advert (a Router the
// Supervisor's watchdog replaced, its Conn closed under it): nothing is
// sent for it.
func TestRepeatsAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testSocket(false)
		sends := recordSends(t, s)
		c, err := s.Conn(51, ConnConfig{})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		var sent atomic.Uint64
		c.sendRepeats([]byte{0x31, 51}, GroupV4, time.Now().Add(100*time.Millisecond), 100*time.Millisecond, 0, &sent,
			func(netip.Addr, error) {})
		time.Sleep(time.Second)
		synctest.Wait()
		if got := sends(); len(got) != 0 || sent.Load() != 0 {
			t.Errorf("after Close: %d sent", len(got))
		}
	})
}
