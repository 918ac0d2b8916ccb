//go:build linux

package vrrp_test

import (
	"context"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// approachRouter is a backup with precise timers on a Hub whose adverts
// the test injects with chosen arrival times (real time: timerfds do not
// run on synctest's clock).
type approachRouter struct {
	r    *vrrp.Router
	conn *vrrptest.Conn
	sub  *vrrp.Subscription
	mdi  time.Duration // Master_Down_Interval once it heard the master
}

// masterInterval is the injected master's advert interval. At 100 ms the
// Master_Down_Interval (361 ms) leaves the router hundreds of milliseconds
// to take an advert before the approach could no longer be armed ahead, so
// a loaded machine (CI runs packages in parallel, with -race) does not
// turn these tests into races.
const masterInterval = 100 * time.Millisecond

func startApproach(t *testing.T, lead time.Duration) *approachRouter {
	t.Helper()
	return startApproachOn(t, lead, nil)
}

// startApproachOn is startApproach with the precise timer on clock (nil:
// the router's own).
func startApproachOn(t *testing.T, lead time.Duration, clock *vrrp.Clock) *approachRouter {
	t.Helper()
	hub := vrrptest.NewHub(1)
	conn, err := hub.Join(ourAddr)
	if err != nil {
		t.Fatal(err)
	}
	// Our own interval is 1 s, so the Master_Down_Timer armed at startup
	// (3.6 s) does not fire in the test; the master's interval is learned
	// from its advert (RFC 9568 Master_Adver_Interval).
	cfg := vrrp.Config{VRID: 51, Version: vrrp.V3, Priority: 100, Interval: time.Second,
		VIPs: []netip.Prefix{vip}, InitialState: vrrp.Backup}
	r, err := vrrp.NewRouter(conn, vrrptest.NewAddrs(), &vrrptest.Announcer{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetTimers(vrrp.Timers{Precise: true, FinalApproach: lead, Clock: clock}); err != nil {
		t.Fatal(err)
	}
	a := &approachRouter{r: r, conn: conn, sub: r.Subscribe(8),
		mdi: 3*masterInterval + (256-100)*masterInterval/256}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	a.next(t, vrrp.Backup)
	return a
}

// next waits (bounded) for the next transition and checks where it went.
func (a *approachRouter) next(t *testing.T, want vrrp.State) vrrp.Event {
	t.Helper()
	select {
	case ev := <-a.sub.C():
		if ev.To != want {
			t.Fatalf("transition %v → %v (%v), want → %v", ev.From, ev.To, ev.Reason, want)
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no transition to %v within 5 s", want)
	}
	panic("unreachable")
}

// inject delivers an advert from a priority-200 master as if it had
// arrived now, and returns that time.
func (a *approachRouter) inject(t *testing.T) time.Time {
	t.Helper()
	adv := vrrp.Advertisement{Version: vrrp.V3, VRID: 51, Priority: 200, Interval: masterInterval,
		Addrs: []netip.Addr{vip.Addr()}}
	b := marshal(t, adv, peerAddr, vrrp.GroupV4)
	now := time.Now()
	a.conn.Inject(b, vrrp.PacketInfo{Src: peerAddr, Dst: vrrp.GroupV4, TTL: 255, Time: now})
	return now
}

// After the master's last advert, the backup polls through the final
// approach and takes over at Master_Down_Interval after that advert's
// arrival: never before it.
func TestFinalApproachTakeover(t *testing.T) {
	a := startApproach(t, 5*time.Millisecond)
	at := a.inject(t)
	ev := a.next(t, vrrp.Master)
	if deadline := at.Add(a.mdi); ev.Time.Before(deadline) {
		t.Errorf("took over %v before Master_Down_Interval (%v) had passed", deadline.Sub(ev.Time), a.mdi)
	}
	if n := a.r.Stats().FinalApproaches; n != 1 {
		t.Errorf("FinalApproaches = %d, want 1", n)
	}
}

// An advert that arrives while the backup polls re-arms Master_Down_Timer:
// the approach ends, the backup stays backup, and it takes over only after
// the new deadline, through a second approach.
func TestFinalApproachInterruptedByAdvert(t *testing.T) {
	// A 100 ms approach (of the 361 ms Master_Down_Interval): a wide window
	// to land an advert in.
	a := startApproach(t, 100*time.Millisecond)
	a.inject(t)
	in := false
	for end := time.Now().Add(2 * time.Second); !in && time.Now().Before(end); {
		if in = a.r.Stats().FinalApproaches == 1; !in {
			time.Sleep(time.Millisecond) // leave the CPU to the router
		}
	}
	if !in {
		t.Fatal("the backup never started its final approach")
	}
	at := a.inject(t)
	ev := a.next(t, vrrp.Master)
	if deadline := at.Add(a.mdi); ev.Time.Before(deadline) {
		t.Errorf("took over %v before the re-armed deadline: the advert during the approach was ignored", deadline.Sub(ev.Time))
	}
	if n := a.r.Stats().FinalApproaches; n != 2 {
		t.Errorf("FinalApproaches = %d, want 2", n)
	}
}

// Without FinalApproach (negative) the precise timer still takes over on
// time, and no approach is counted.
func TestFinalApproachOff(t *testing.T) {
	a := startApproach(t, -1)
	at := a.inject(t)
	ev := a.next(t, vrrp.Master)
	if deadline := at.Add(a.mdi); ev.Time.Before(deadline) {
		t.Errorf("took over %v early", deadline.Sub(ev.Time))
	}
	if n := a.r.Stats().FinalApproaches; n != 0 {
		t.Errorf("FinalApproaches = %d, want 0", n)
	}
}

// Routers sharing a Clock take turns polling: of two whose final
// approaches begin together, one polls and the other sleeps to its
// deadline on the timer (a mass failover's routers polling at once took
// the CPUs their takeovers needed). Neither takes over early. The
// approach is 150 ms wide, so the second router begins its approach
// while the first still polls, however the two are scheduled.
func TestFinalApproachTakesTurns(t *testing.T) {
	// One poller per Clock with 2 or 3 CPUs (GOMAXPROCS/2): make it so
	// on any machine.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	clock, err := vrrp.NewClock()
	if err != nil {
		t.Fatal(err)
	}
	defer clock.Close()
	a, b := startApproachOn(t, 150*time.Millisecond, clock), startApproachOn(t, 150*time.Millisecond, clock)
	atA, atB := a.inject(t), b.inject(t)
	evA, evB := a.next(t, vrrp.Master), b.next(t, vrrp.Master)
	for _, c := range []struct {
		name   string
		at, to time.Time
	}{{"a", atA.Add(a.mdi), evA.Time}, {"b", atB.Add(b.mdi), evB.Time}} {
		if c.to.Before(c.at) {
			t.Errorf("%s took over %v before its deadline", c.name, c.at.Sub(c.to))
		}
	}
	sa, sb := a.r.Stats(), b.r.Stats()
	if polled, slept := sa.FinalApproaches+sb.FinalApproaches, sa.FinalApproachesSkipped+sb.FinalApproachesSkipped; polled != 1 || slept != 1 {
		t.Errorf("approaches polled %d (a %d, b %d), slept through %d; want 1 and 1", polled,
			sa.FinalApproaches, sb.FinalApproaches, slept)
	}
}
