package bgp_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/bgp"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/vigiltest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// These tests run a Speaker over a Supervisor on the in-memory platform
// (a "box") against a collector over loopback. The sessions and updates
// are real TCP, so the tests wait for what the collector records, with a
// bound. One Speaker per test process at a time: see collector.

const (
	routerASN = 64512
	boxASN    = 64513
)

var (
	anycastVIP = netip.MustParsePrefix("203.0.113.10/32")
	vrrpVIP    = netip.MustParsePrefix("203.0.113.20/32")
	netVIP     = netip.MustParsePrefix("198.51.100.0/24")
	local      = netip.MustParseAddr("127.0.0.2")
	comm       = bgp.Community(64513<<16 | 100)
	large      = bgp.LargeCommunity{ASN: boxASN, Local1: 1, Local2: 2}
)

// switchCheck is a check whose result the test sets.
type switchCheck struct{ down atomic.Bool }

func (f *switchCheck) Check(context.Context) error {
	if f.down.Load() {
		return errors.New("down")
	}
	return nil
}

// box is a Supervisor with a tracker "web" (the anycast VIP's backend)
// and an instance VI_1, alone on its segment, tracking "vrrp" with
// weight 0 (its failure puts VI_1 in FAULT), and a Speaker over it.
type box struct {
	web, vrrp switchCheck
	sup       *vigil.Supervisor
	sp        *bgp.Speaker
	events    *bgp.Subscription
	stopSup   context.CancelFunc
	stopSp    context.CancelFunc
	supDone   chan error
	spDone    chan error
}

// boxConfig is the Speaker's Config: one peer, the collector c, and
// three VIPs: anycastVIP behind "web" (MED 10, a community and a large
// one), vrrpVIP following VI_1, netVIP with no gate.
func boxConfig(c *collector) bgp.Config {
	return bgp.Config{ASN: boxASN, RouterID: netip.MustParseAddr("192.0.2.1"),
		Peers: []bgp.Peer{{Address: netip.MustParseAddr("127.0.0.1"), ASN: routerASN, Port: c.port,
			LocalAddress: local, HoldTime: 3 * time.Second, ConnectRetry: time.Second}},
		VIPs: []bgp.VIP{
			{Prefix: anycastVIP, Trackers: []string{"web"}, MED: 10,
				Communities: []bgp.Community{comm}, LargeCommunities: []bgp.LargeCommunity{large}},
			{Prefix: vrrpVIP, Instance: "VI_1"},
			{Prefix: netVIP},
		},
	}
}

// newBox starts a box with the Speaker Config cfg; both stop in
// t.Cleanup.
func newBox(t *testing.T, cfg bgp.Config) *box {
	t.Helper()
	b := &box{}
	p, err := vigiltest.New(vigiltest.Config{Hub: vrrptest.NewHub(1), Addr4: netip.MustParseAddr("192.0.2.1")})
	if err != nil {
		t.Fatal(err)
	}
	pol := check.Policy{Interval: 50 * time.Millisecond, Timeout: 50 * time.Millisecond, Rise: 1, Fall: 1, Warmup: -1}
	b.sup, err = vigil.New(p, vigil.Config{
		Trackers: []vigil.Tracker{
			{Name: "web", Check: &vigil.TrackerCheck{Checker: &b.web, Policy: pol}},
			{Name: "vrrp", Check: &vigil.TrackerCheck{Checker: &b.vrrp, Policy: pol}},
		},
		Instances: []vigil.Instance{{InstanceConfig: vigil.InstanceConfig{Interface: "eth0",
			VRRP: vrrp.Config{Name: "VI_1", VRID: 51, Version: vrrp.V3, Priority: 200, Interval: 100 * time.Millisecond,
				VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24")}}},
			Track: []vigil.Track{{Tracker: "vrrp"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	b.sp, err = bgp.New(b.sup, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.events = b.sp.Subscribe(64)
	var supCtx, spCtx context.Context
	supCtx, b.stopSup = context.WithCancel(context.Background())
	spCtx, b.stopSp = context.WithCancel(context.Background())
	b.supDone, b.spDone = make(chan error, 1), make(chan error, 1)
	go func() { b.supDone <- b.sup.Run(supCtx) }()
	go func() { b.spDone <- b.sp.Run(spCtx) }()
	t.Cleanup(func() {
		b.stopSp()
		b.stopSup()
		if err := <-b.spDone; err != nil {
			t.Errorf("Speaker.Run: %v", err)
		}
		if err := <-b.supDone; err != nil {
			t.Errorf("Supervisor.Run: %v", err)
		}
	})
	return b
}

// stopSpeaker stops b's Speaker and waits for its Run to return.
func (b *box) stopSpeaker(t *testing.T) {
	t.Helper()
	b.stopSp()
	if err := <-b.spDone; err != nil {
		t.Fatal(err)
	}
	b.spDone <- nil // for the cleanup
}

// waitEvent returns b's next event of kind for prefix (at most 15 s).
func (b *box) waitEvent(t *testing.T, kind bgp.EventKind, prefix netip.Prefix) bgp.Event {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev := <-b.events.C():
			if ev.Kind == kind && ev.Prefix == prefix {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event for %v", kind, prefix)
		}
	}
}

// TestAnycast: the anycast VIP is announced while "web" passes, with its
// MED and communities (and no LOCAL_PREF: eBGP) and the session's address
// as next hop, and
// withdrawn when it fails, alone; the withdraw event carries the time of
// the check that decided it.
func TestAnycast(t *testing.T) {
	c := newCollector(t, "127.0.0.1")
	cfg := boxConfig(c)
	cfg.VIPs[0].LocalPref = 300 // not sent over eBGP
	b := newBox(t, cfg)
	rs := c.waitRoutes(anycastVIP, vrrpVIP, netVIP)
	want := route{NextHop: local, MED: 10, MEDSet: true, Communities: []bgp.Community{comm}, Large: []bgp.LargeCommunity{large}}
	if got := rs[anycastVIP]; !equalRoute(got, want) {
		t.Errorf("%v: %+v, want %+v", anycastVIP, got, want)
	}
	if got := rs[netVIP]; !equalRoute(got, route{NextHop: local}) {
		t.Errorf("%v: %+v, want next hop %v and nothing else", netVIP, got, local)
	}

	st := b.sp.State()
	wantPeers := []bgp.PeerState{{Address: netip.MustParseAddr("127.0.0.1"), ASN: routerASN, Session: "established"}}
	wantVIPs := []bgp.VIPState{{Prefix: anycastVIP, Announced: true}, {Prefix: vrrpVIP, Announced: true}, {Prefix: netVIP, Announced: true}}
	if !slices.Equal(st.Peers, wantPeers) || !slices.Equal(st.VIPs, wantVIPs) || st.Draining || st.Drained {
		t.Errorf("State = %+v, want peers %+v, VIPs %+v", st, wantPeers, wantVIPs)
	}

	failed := time.Now()
	b.web.down.Store(true)
	c.waitRoutes(vrrpVIP, netVIP)
	if got := b.sp.State().VIPs[0]; got.Announced {
		t.Errorf("State after the failure: %+v announced", got)
	}
	ev := b.waitEvent(t, bgp.EventWithdraw, anycastVIP)
	if ev.Cause.Before(failed) || ev.Time.Before(ev.Cause) {
		t.Errorf("withdraw event %+v: its cause is before the failure (%v) or after the withdrawal", ev, failed)
	}
	b.web.down.Store(false)
	c.waitRoutes(anycastVIP, vrrpVIP, netVIP)
	b.waitEvent(t, bgp.EventAnnounce, anycastVIP)
}

func equalRoute(a, b route) bool {
	return a.NextHop == b.NextHop && a.MED == b.MED && a.MEDSet == b.MEDSet && a.LocalPref == b.LocalPref &&
		slices.Equal(a.Communities, b.Communities) && slices.Equal(a.Large, b.Large)
}

// TestFollowVRRP: vrrpVIP is announced only while VI_1 is MASTER.
func TestFollowVRRP(t *testing.T) {
	c := newCollector(t, "127.0.0.1")
	b := newBox(t, boxConfig(c))
	c.waitRoutes(anycastVIP, vrrpVIP, netVIP)
	b.vrrp.down.Store(true) // VI_1 → FAULT
	c.waitRoutes(anycastVIP, netVIP)
	b.vrrp.down.Store(false) // VI_1 → BACKUP → MASTER
	c.waitRoutes(anycastVIP, vrrpVIP, netVIP)
}

// TestDrain: Drain announces the VIPs again with GRACEFUL_SHUTDOWN and
// the drain MED, withdraws them after Drain.Time, returns no earlier,
// and from then on announces nothing whatever the gates do, while the
// session stays up.
func TestDrain(t *testing.T) {
	const drainTime = 3 * time.Second
	c := newCollector(t, "127.0.0.1")
	cfg := boxConfig(c)
	cfg.Drain = bgp.Drain{Time: drainTime, MED: 500}
	b := newBox(t, cfg)
	c.waitRoutes(anycastVIP, vrrpVIP, netVIP)

	start := time.Now()
	drained := make(chan error, 1)
	go func() { drained <- b.sp.Drain(t.Context()) }()
	for _, p := range []netip.Prefix{anycastVIP, vrrpVIP, netVIP} {
		b.waitEvent(t, bgp.EventDrain, p)
	}
	if st := b.sp.State(); !st.Draining || st.Drained || !st.VIPs[0].Draining || !st.VIPs[0].Announced {
		t.Errorf("State while draining: %+v", st)
	}
	// The events come when GoBGP took the paths; the collector may lag.
	c.wait("draining routes", func() bool {
		for _, rt := range c.rib {
			if rt.MED != 500 || !slices.Contains(rt.Communities, bgp.GracefulShutdown) {
				return false
			}
		}
		return len(c.rib) == 3
	})
	rs := c.routes()
	if got := rs[anycastVIP].Communities; !slices.Equal(got, []bgp.Community{comm, bgp.GracefulShutdown}) {
		t.Errorf("draining %v: communities %v, want its own and GRACEFUL_SHUTDOWN", anycastVIP, got)
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if st := b.sp.State(); !st.Drained || st.VIPs[0].Announced {
		t.Errorf("State after Drain: %+v", st)
	}
	if d := time.Since(start); d < drainTime {
		t.Errorf("Drain returned after %v, before the drain time %v", d, drainTime)
	}
	c.waitRoutes()

	b.web.down.Store(true)
	b.vrrp.down.Store(true)
	b.waitEvent(t, bgp.EventWithdraw, anycastVIP) // (after the drain's withdrawal: none announced)
}

// TestDrainAtOnce: with a negative Drain.Time, Drain withdraws at once,
// without a draining announcement.
func TestDrainAtOnce(t *testing.T) {
	c := newCollector(t, "127.0.0.1")
	cfg := boxConfig(c)
	cfg.Drain.Time = -1
	b := newBox(t, cfg)
	c.waitRoutes(anycastVIP, vrrpVIP, netVIP)
	if err := b.sp.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.waitRoutes()
	for {
		select {
		case ev := <-b.events.C():
			if ev.Kind == bgp.EventDrain {
				t.Fatalf("%+v with a negative drain time", ev)
			}
		default:
			return
		}
	}
}

// TestDrainCanceled: a Drain whose context ends during the wait
// withdraws at once and returns the context's error.
func TestDrainCanceled(t *testing.T) {
	c := newCollector(t, "127.0.0.1")
	cfg := boxConfig(c)
	cfg.Drain.Time = time.Hour
	b := newBox(t, cfg)
	c.waitRoutes(anycastVIP, vrrpVIP, netVIP)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.sp.Drain(ctx) }()
	b.waitEvent(t, bgp.EventDrain, netVIP)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain: %v, want context.Canceled", err)
	}
	c.waitRoutes()
}

// TestSupervisorStops: when the Supervisor's Run returns, the Speaker
// withdraws every VIP and keeps its session.
func TestSupervisorStops(t *testing.T) {
	c := newCollector(t, "127.0.0.1")
	b := newBox(t, boxConfig(c))
	c.waitRoutes(anycastVIP, vrrpVIP, netVIP)
	b.stopSup()
	c.waitRoutes()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up || c.notified {
		t.Errorf("session up %v, NOTIFICATION %v; want up, none", c.up, c.notified)
	}
}

// TestStop: a Speaker stopping without graceful restart closes its
// session with a NOTIFICATION (Cease), so the router drops its routes.
func TestStop(t *testing.T) {
	c := newCollector(t, "127.0.0.1")
	b := newBox(t, boxConfig(c))
	c.waitRoutes(anycastVIP, vrrpVIP, netVIP)
	b.stopSpeaker(t)
	c.wait("NOTIFICATION and close", func() bool { return c.notified && !c.up })
}

// TestGracefulRestart: with graceful restart, the OPEN carries the
// capability with the restart time, and a Speaker stopping without
// Drain closes its session without a NOTIFICATION, so a helper router
// keeps the routes; after Drain, it sends one.
func TestGracefulRestart(t *testing.T) {
	for _, drain := range []bool{false, true} {
		c := newCollector(t, "127.0.0.1")
		cfg := boxConfig(c)
		cfg.GracefulRestart = bgp.GracefulRestart{Enabled: true, RestartTime: 30 * time.Second}
		cfg.Drain.Time = -1
		b := newBox(t, cfg)
		c.waitRoutes(anycastVIP, vrrpVIP, netVIP)
		c.mu.Lock()
		restart, ok := grTime(c.open)
		c.mu.Unlock()
		if !ok || restart != 30 {
			t.Errorf("OPEN: graceful restart capability %v, restart time %d; want 30", ok, restart)
		}
		if drain {
			if err := b.sp.Drain(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		b.stopSpeaker(t)
		c.wait("session closed", func() bool { return !c.up })
		c.mu.Lock()
		if c.notified != drain {
			t.Errorf("drained %v: NOTIFICATION %v, want %v", drain, c.notified, drain)
		}
		c.mu.Unlock()
	}
}

// TestIPv6: an IPv6 VIP goes to an IPv6 peer with the session's address
// as next hop (in MP_REACH_NLRI), and not to the IPv4 peer.
func TestIPv6(t *testing.T) {
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback:", err)
	} else {
		ln.Close()
	}
	c4 := newCollector(t, "127.0.0.1")
	c6 := newCollector(t, "::1")
	vip6 := netip.MustParsePrefix("2001:db8::10/128")
	cfg := boxConfig(c4)
	cfg.Peers = append(cfg.Peers, bgp.Peer{Address: netip.MustParseAddr("::1"), ASN: routerASN, Port: c6.port, ConnectRetry: time.Second})
	cfg.VIPs = append(cfg.VIPs, bgp.VIP{Prefix: vip6, Trackers: []string{"web"}, MED: 7})
	b := newBox(t, cfg)
	rs := c6.waitRoutes(vip6)
	if got := rs[vip6]; !equalRoute(got, route{NextHop: netip.MustParseAddr("::1"), MED: 7, MEDSet: true}) {
		t.Errorf("%v: %+v, want next hop ::1, MED 7", vip6, got)
	}
	c4.waitRoutes(anycastVIP, vrrpVIP, netVIP)
	b.web.down.Store(true)
	c6.waitRoutes()
	c4.waitRoutes(vrrpVIP, netVIP)
}

// TestRunOnce: a second Run returns ErrRan; Run after Close, ErrClosed.
func TestRunOnce(t *testing.T) {
	c := newCollector(t, "127.0.0.1")
	b := newBox(t, boxConfig(c))
	c.waitRoutes(anycastVIP, vrrpVIP, netVIP)
	if err := b.sp.Run(t.Context()); !errors.Is(err, bgp.ErrRan) {
		t.Errorf("second Run: %v, want ErrRan", err)
	}
	b.stopSpeaker(t)
	if err := b.sp.Run(t.Context()); !errors.Is(err, bgp.ErrRan) {
		t.Errorf("Run after Run: %v, want ErrRan", err)
	}

	sp, err := bgp.New(b.sup, boxConfig(c))
	if err != nil {
		t.Fatal(err)
	}
	sub := sp.Subscribe(1)
	sp.Close()
	if _, ok := <-sub.C(); ok {
		t.Error("subscription open after Close")
	}
	if err := sp.Run(t.Context()); !errors.Is(err, bgp.ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
}

// TestPassive: a Speaker with ListenPort accepts the session of a
// passive peer, which it does not dial, and announces over it.
func TestPassive(t *testing.T) {
	c := newCollector(t, "127.0.0.1")
	l, err := net.Listen("tcp", "127.0.0.1:0") // a port free now, for the Speaker
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := boxConfig(c)
	cfg.ListenPort = port
	cfg.Peers[0].Passive = true
	cfg.Peers[0].LocalAddress = netip.Addr{}
	b := newBox(t, cfg)
	// GoBGP listens before it has its peers, and turns a session away
	// until then (a router would retry): dial once the peer is there.
	deadline := time.Now().Add(15 * time.Second)
	for len(b.sp.State().Peers) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the Speaker has no peer after 15s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.dial(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	c.waitRoutes(anycastVIP, vrrpVIP, netVIP)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions != 1 {
		t.Errorf("%d sessions, want the one the collector opened", c.sessions)
	}
}

// TestIBGP: to an iBGP peer a VIP goes with its LOCAL_PREF (100 when it
// sets none) and no MED change; the next hop is still the session's.
func TestIBGP(t *testing.T) {
	c := newCollector(t, "127.0.0.1")
	c.asn = boxASN
	cfg := boxConfig(c)
	cfg.Peers[0].ASN = boxASN
	cfg.VIPs[0].LocalPref = 300
	newBox(t, cfg)
	rs := c.waitRoutes(anycastVIP, vrrpVIP, netVIP)
	if got := rs[anycastVIP]; got.LocalPref != 300 || got.MED != 10 || got.NextHop != local {
		t.Errorf("%v over iBGP: %+v, want LOCAL_PREF 300, MED 10, next hop %v", anycastVIP, got, local)
	}
	if got := rs[netVIP]; got.LocalPref != 100 {
		t.Errorf("%v over iBGP: %+v, want LOCAL_PREF 100", netVIP, got)
	}
}
