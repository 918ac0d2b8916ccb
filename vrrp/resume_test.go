package vrrp_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
	"github.com/vigil-ha/vigil/watchdog"
)

// A master's runner restarts (its host's addresses kept): the new Router,
// told ResumeMaster, is MASTER at once without removing the VIP, adverts
// at once and announces, so the backup, which took the old one for its
// master, never takes over.
func TestRouterResumeMaster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		sn := s.sniff("192.0.2.50")
		a1 := s.start(baseConfig("A", 100), s.join("192.0.2.1"))
		b := s.start(baseConfig("B", 50), s.join("192.0.2.2"))
		s.sleepUntil(10 * time.Second)
		wantBecame(t, s, a1, vrrp.Master, down100)
		a1.crash() // silent; its own fake's VIP goes with it

		// The restarted runner, on the host whose addresses still hold
		// the VIP.
		s.sleepUntil(10500 * time.Millisecond)
		a2 := &node{t: t, name: "A2", conn: s.join("192.0.2.3"), addrs: vrrptest.NewAddrs(), ann: &vrrptest.Announcer{}, done: make(chan struct{})}
		if err := a2.addrs.AddVIPs(t.Context(), []netip.Prefix{vip}, true); err != nil {
			t.Fatal(err)
		}
		r, err := vrrp.NewRouter(a2.conn, a2.addrs, a2.ann, baseConfig("A2", 100))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.ResumeMaster(); err != nil {
			t.Fatal(err)
		}
		a2.r = r
		runNode(t, a2)

		s.sleepUntil(20 * time.Second)
		wantState(t, s, a2, vrrp.Master)
		if h := a2.history(s); h != "A2 10.5s:INIT->MASTER(resumed)" {
			t.Fatalf("history %s, want INIT->MASTER(resumed) at 10.5s", h)
		}
		if got := sn.from("192.0.2.3", 0, 11*time.Second); len(got) != 1 || got[0].at != 10500*time.Millisecond {
			t.Fatalf("A2's adverts before 11s: %v, want one at 10.5s", got)
		}
		if ops := a2.opsAfter(s, 0); ops != "+[192.0.2.100/24] +[192.0.2.100/24]" {
			t.Fatalf("A2's address operations %q: want the VIP added again and never removed", ops)
		}
		if !a2.addrs.Has(vip) {
			t.Fatal("the VIP is gone")
		}
		if an := a2.announcedAfter(s, 10500*time.Millisecond); an != "[192.0.2.100]" {
			t.Fatalf("A2 announced %q, want the VIP at 10.5s", an)
		}
		wantBecame(t, s, b, vrrp.Master) // never
		if err := r.ResumeMaster(); !errors.Is(err, vrrp.ErrRan) {
			t.Fatalf("ResumeMaster after Run: %v, want ErrRan", err)
		}
		a2.stop()
		b.stop()
		sn.stop()
	})
}

// A Router given a Beat beats while idle (FAULT: no timer armed) and is
// found stalled when a send blocks, within its deadline and a check
// period; it recovers when the send returns.
func TestRouterBeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		w, err := watchdog.New(watchdog.Config{WatchdogInterval: -1, Stacks: -1})
		if err != nil {
			t.Fatal(err)
		}
		sub := w.Subscribe(16)
		wctx, wcancel := context.WithCancel(context.Background())
		wdone := make(chan error)
		go func() { wdone <- w.Run(wctx) }()

		conn := s.join("192.0.2.1")
		n := &node{t: t, name: "A", conn: conn, addrs: vrrptest.NewAddrs(), ann: &vrrptest.Announcer{}, done: make(chan struct{})}
		r, err := vrrp.NewRouter(conn, n.addrs, n.ann, baseConfig("A", 255))
		if err != nil {
			t.Fatal(err)
		}
		beat := w.Register("vrrp A", 2*time.Second)
		if err := r.SetBeat(beat); err != nil {
			t.Fatal(err)
		}
		r.SetFault("link", true) // FAULT from the start: the loop waits with no timer
		n.r = r
		runNode(t, n)
		s.sleepUntil(30 * time.Second)
		if st := w.Stats(); st.Stalls != 0 || !w.Healthy() {
			t.Fatalf("an idle router stalled: %+v", st)
		}

		conn.BlockNextWrite()
		r.SetFault("link", false) // owner: MASTER and an advert at once, which blocks
		s.sleepUntil(40 * time.Second)
		e := <-sub.C()
		if e.Kind != watchdog.EventStalled || e.Name != "vrrp A" || e.Time.Sub(s.t0) != 32500*time.Millisecond {
			t.Fatalf("got %v %q at %v, want stalled at 32.5s (deadline 2s after 30s, checks every 500ms)", e.Kind, e.Name, e.Time.Sub(s.t0))
		}
		if conn.Stuck() != 1 || w.Healthy() {
			t.Fatalf("%d writes stuck, healthy %v; want 1, false", conn.Stuck(), w.Healthy())
		}
		conn.UnblockWrites()
		s.sleepUntil(41 * time.Second)
		if e := <-sub.C(); e.Kind != watchdog.EventRecovered || !w.Healthy() {
			t.Fatalf("got %v, healthy %v; want recovered", e.Kind, w.Healthy())
		}
		if err := r.SetBeat(beat); !errors.Is(err, vrrp.ErrRan) {
			t.Fatalf("SetBeat after Run: %v, want ErrRan", err)
		}
		n.stop()
		beat.Done()
		wcancel()
		<-wdone
	})
}
