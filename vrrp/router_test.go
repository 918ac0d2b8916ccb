package vrrp_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

var (
	peerAddr = netip.MustParseAddr("192.0.2.9")
	ourAddr  = netip.MustParseAddr("192.0.2.2")
)

func marshal(t *testing.T, a vrrp.Advertisement, src, dst netip.Addr) []byte {
	t.Helper()
	b, err := a.Marshal(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Receive-side validation, one row per keepalived check: each drop is
// counted under its reason and does not reach the state machine.
func TestRouterValidation(t *testing.T) {
	good := vrrp.Advertisement{Version: vrrp.V2, VRID: 51, Priority: 200, Interval: time.Second,
		Addrs: []netip.Addr{vip.Addr()}, AuthType: vrrp.AuthSimple, Auth: vrrp.AuthPassword("secret12")}
	mut := func(f func(a *vrrp.Advertisement)) vrrp.Advertisement {
		a := good
		f(&a)
		return a
	}
	in := vrrp.PacketInfo{Src: peerAddr, Dst: vrrp.GroupV4, TTL: 255}
	cases := []struct {
		name   string
		b      func(t *testing.T) []byte
		info   vrrp.PacketInfo
		unicst bool
		drop   vrrp.DropReason // DropNone: accepted
		mism   bool
	}{
		{"accepted", func(t *testing.T) []byte { return marshal(t, good, peerAddr, vrrp.GroupV4) }, in, false, vrrp.DropNone, false},
		{"ttl_64", func(t *testing.T) []byte { return marshal(t, good, peerAddr, vrrp.GroupV4) },
			vrrp.PacketInfo{Src: peerAddr, Dst: vrrp.GroupV4, TTL: 64}, false, vrrp.DropTTL, false},
		{"version_3", func(t *testing.T) []byte {
			return marshal(t, mut(func(a *vrrp.Advertisement) { a.Version, a.AuthType, a.Auth = vrrp.V3, 0, [8]byte{} }), peerAddr, vrrp.GroupV4)
		}, in, false, vrrp.DropVersion, false},
		{"other_vrid", func(t *testing.T) []byte {
			return marshal(t, mut(func(a *vrrp.Advertisement) { a.VRID = 52 }), peerAddr, vrrp.GroupV4)
		},
			in, false, vrrp.DropVRID, false},
		{"bad_checksum", func(t *testing.T) []byte {
			b := marshal(t, good, peerAddr, vrrp.GroupV4)
			b[7] ^= 0xff
			return b
		}, in, false, vrrp.DropChecksum, false},
		{"truncated", func(t *testing.T) []byte { return marshal(t, good, peerAddr, vrrp.GroupV4)[:10] }, in, false, vrrp.DropMalformed, false},
		{"wrong_password", func(t *testing.T) []byte {
			return marshal(t, mut(func(a *vrrp.Advertisement) { a.Auth = vrrp.AuthPassword("secret13") }), peerAddr, vrrp.GroupV4)
		}, in, false, vrrp.DropAuth, false},
		{"no_auth", func(t *testing.T) []byte {
			return marshal(t, mut(func(a *vrrp.Advertisement) { a.AuthType, a.Auth = vrrp.AuthNone, [8]byte{} }), peerAddr, vrrp.GroupV4)
		}, in, false, vrrp.DropAuth, false},
		{"ah_auth", func(t *testing.T) []byte {
			b := marshal(t, good, peerAddr, vrrp.GroupV4)
			b[4] = 2
			b[6], b[7] = 0, 0
			// recompute the v2 checksum by hand
			var sum uint32
			for i := 0; i+1 < len(b); i += 2 {
				sum += uint32(b[i])<<8 | uint32(b[i+1])
			}
			for sum>>16 != 0 {
				sum = sum&0xffff + sum>>16
			}
			b[6], b[7] = byte(^sum>>8), byte(^sum)
			return b
		}, in, false, vrrp.DropAuth, false},
		{"interval_mismatch_v2", func(t *testing.T) []byte {
			return marshal(t, mut(func(a *vrrp.Advertisement) { a.Interval = 2 * time.Second }), peerAddr, vrrp.GroupV4)
		}, in, false, vrrp.DropInterval, false},
		{"own_advert_looped", func(t *testing.T) []byte { return marshal(t, good, ourAddr, vrrp.GroupV4) },
			vrrp.PacketInfo{Src: ourAddr, Dst: vrrp.GroupV4, TTL: 255}, false, vrrp.DropOwn, false},
		{"unicast_not_a_peer", func(t *testing.T) []byte { return marshal(t, good, peerAddr, ourAddr) },
			vrrp.PacketInfo{Src: peerAddr, Dst: ourAddr, TTL: 255}, true, vrrp.DropPeer, false},
		{"unicast_from_peer", func(t *testing.T) []byte { return marshal(t, good, netip.MustParseAddr("192.0.2.3"), ourAddr) },
			vrrp.PacketInfo{Src: netip.MustParseAddr("192.0.2.3"), Dst: ourAddr, TTL: 255}, true, vrrp.DropNone, false},
		// keepalived: unicast adverts from a peer are accepted whatever
		// their TTL (unicast_ttl, routed peers).
		{"unicast_from_peer_ttl_3", func(t *testing.T) []byte { return marshal(t, good, netip.MustParseAddr("192.0.2.3"), ourAddr) },
			vrrp.PacketInfo{Src: netip.MustParseAddr("192.0.2.3"), Dst: ourAddr, TTL: 3}, true, vrrp.DropNone, false},
		{"address_list_mismatch_accepted", func(t *testing.T) []byte {
			return marshal(t, mut(func(a *vrrp.Advertisement) { a.Addrs = []netip.Addr{netip.MustParseAddr("192.0.2.77")} }), peerAddr, vrrp.GroupV4)
		}, in, false, vrrp.DropNone, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				hub := vrrptest.NewHub(1)
				conn, _ := hub.Join(ourAddr)
				cfg := baseConfig("r", 100)
				cfg.AuthType, cfg.AuthPass = vrrp.AuthSimple, "secret12"
				if c.unicst {
					cfg.Peers = []netip.Addr{netip.MustParseAddr("192.0.2.3")}
				}
				r, err := vrrp.NewRouter(conn, nil, nil, cfg)
				if err != nil {
					t.Fatal(err)
				}
				stop := goRun(r)
				time.Sleep(time.Second)
				conn.Inject(c.b(t), c.info)
				synctest.Wait()
				st := r.Stats()
				for d := vrrp.DropTTL; d <= vrrp.DropPeer; d++ {
					want := uint64(0)
					if d == c.drop {
						want = 1
					}
					if st.Drop(d) != want {
						t.Errorf("drops[%v] = %d, want %d", d, st.Drop(d), want)
					}
				}
				if c.drop != vrrp.DropNone && len(st.Drops) != 1 || c.drop == vrrp.DropNone && st.Drops != nil {
					t.Errorf("Drops %v: want only the reasons that happened", st.Drops)
				}
				accepted := uint64(0)
				if c.drop == vrrp.DropNone {
					accepted = 1
				}
				if st.AdvertsReceived != accepted {
					t.Errorf("accepted %d, want %d", st.AdvertsReceived, accepted)
				}
				if (st.AddrMismatch == 1) != c.mism {
					t.Errorf("address mismatches %d, want %v", st.AddrMismatch, c.mism)
				}
				// An accepted priority-200 advert restarts Master_Down, so at
				// 1 s + 3.609 s we are still Backup; a dropped one does not.
				time.Sleep(2609375*time.Microsecond + time.Nanosecond) // to 3.609 s + 1 ns
				synctest.Wait()
				want := vrrp.Master
				if c.drop == vrrp.DropNone {
					want = vrrp.Backup
				}
				if got := r.State(); got != want {
					t.Errorf("state %v, want %v", got, want)
				}
				if err := stop(); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// solo returns a router for cfg (with no address manager or announcer),
// alone on a new segment whose hub it also returns.
func solo(t *testing.T, cfg vrrp.Config) (*vrrp.Router, *vrrptest.Hub) {
	t.Helper()
	hub := vrrptest.NewHub(1)
	conn, err := hub.Join(ourAddr)
	if err != nil {
		t.Fatal(err)
	}
	r, err := vrrp.NewRouter(conn, nil, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, hub
}

// goRun starts r.Run and returns a function that stops it and returns
// Run's error.
func goRun(r *vrrp.Router) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

func TestRouterConfigErrors(t *testing.T) {
	hub := vrrptest.NewHub(1)
	conn4, _ := hub.Join(ourAddr)
	conn6, _ := hub.Join(netip.MustParseAddr("fe80::2"))
	cases := []struct {
		name string
		cfg  func(c *vrrp.Config)
		conn vrrp.Conn
	}{
		{"vrid_0", func(c *vrrp.Config) { c.VRID = 0 }, conn4},
		{"vip_family", func(c *vrrp.Config) { c.VIPs = []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")} }, conn4},
		{"peer_family", func(c *vrrp.Config) { c.Peers = []netip.Addr{netip.MustParseAddr("2001:db8::1")} }, conn4},
		{"v2_ipv6", func(c *vrrp.Config) { c.VIPs = []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")} }, conn6},
		{"pass_without_type", func(c *vrrp.Config) { c.AuthPass = "x" }, conn4},
		{"type_without_pass", func(c *vrrp.Config) { c.AuthType = vrrp.AuthSimple }, conn4},
		{"auth_v3", func(c *vrrp.Config) { c.Version, c.AuthType, c.AuthPass = vrrp.V3, vrrp.AuthSimple, "x" }, conn4},
		{"auth_ah", func(c *vrrp.Config) { c.AuthType = vrrp.AuthAH }, conn4},
		{"priority_0", func(c *vrrp.Config) { c.Priority = 0 }, conn4},
		{"v2_100ms", func(c *vrrp.Config) { c.Interval = 100 * time.Millisecond }, conn4},
		{"nopreempt_master", func(c *vrrp.Config) { c.NoPreempt, c.InitialState = true, vrrp.Master }, conn4},
		{"nil_conn", func(c *vrrp.Config) {}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := baseConfig("VI_1", 100)
			c.cfg(&cfg)
			_, err := vrrp.NewRouter(c.conn, nil, nil, cfg)
			if !errors.Is(err, vrrp.ErrInvalid) {
				t.Fatalf("NewRouter: %v, want ErrInvalid", err)
			}
		})
	}
}

// Validate reports every problem at once, each naming the instance and
// the field.
func TestConfigValidateAll(t *testing.T) {
	cfg := vrrp.Config{Name: "VI_1", VRID: 0, Version: vrrp.V2, Priority: 0, Interval: 100 * time.Millisecond,
		AuthPass: "x", VIPs: []netip.Prefix{vip, netip.MustParsePrefix("2001:db8::1/64")}}
	err := cfg.Validate()
	want := []string{
		"vrrp: instance VI_1: VRID: 0, want 1..255",
		"vrrp: instance VI_1: Interval: v2 advert interval 100ms must be whole seconds in 1s..255s",
		"vrrp: instance VI_1: Priority: 0 is reserved for a resigning master",
		"vrrp: instance VI_1: VIPs: 2001:db8::1 is not of the family of 192.0.2.100",
		"vrrp: instance VI_1: VIPs: 2001:db8::1: VRRPv2 is IPv4 only",
		"vrrp: instance VI_1: AuthPass: auth_pass without auth_type PASS",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("Validate:\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
	var fe *vrrp.FieldError
	if !errors.Is(err, vrrp.ErrInvalid) || !errors.As(err, &fe) || fe.Object != "instance VI_1" || fe.Field != "VRID" {
		t.Errorf("not a *FieldError wrapping ErrInvalid: %#v", fe)
	}
}

// Interval 0 means 1 s: the adverts say so.
func TestRouterDefaultInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := baseConfig("r", 255)
		cfg.Interval = 0
		r, hub := solo(t, cfg)
		peer, _ := hub.Join(peerAddr)
		if iv := r.Status().MasterAdverInterval; iv != time.Second {
			t.Errorf("interval %v, want 1s", iv)
		}
		stop := goRun(r)
		synctest.Wait()
		b := make([]byte, 100)
		n, info, err := peer.ReadAdvert(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		a, err := vrrp.Parse(b[:n], info.Src, info.Dst)
		if err != nil || a.Interval != time.Second {
			t.Errorf("advert %+v, %v; want a 1 s interval", a, err)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// SetTimers is for before Run: afterwards it returns ErrRan.
func TestRouterSetTimersAfterRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := solo(t, baseConfig("r", 100))
		if err := r.SetTimers(vrrp.Timers{}); err != nil {
			t.Fatalf("before Run: %v", err)
		}
		stop := goRun(r)
		synctest.Wait()
		if err := r.SetTimers(vrrp.Timers{Precise: true}); !errors.Is(err, vrrp.ErrRan) {
			t.Errorf("while running: %v, want ErrRan", err)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRouterRunsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := solo(t, baseConfig("r", 100))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		synctest.Wait()
		if err := r.Run(ctx); !errors.Is(err, vrrp.ErrRan) {
			t.Errorf("second Run: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// A subscriber that never reads does not hold the router up; it loses the
// oldest events and the loss is counted.
func TestRouterSlowSubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := solo(t, baseConfig("r", 100))
		sub := r.Subscribe(1)
		stop := goRun(r)
		time.Sleep(5 * time.Second) // INIT->BACKUP, BACKUP->MASTER
		synctest.Wait()
		if r.State() != vrrp.Master {
			t.Fatalf("state %v", r.State())
		}
		r.SetFault("link", true) // MASTER->FAULT
		synctest.Wait()
		if sub.Dropped() != 2 || r.Stats().EventsDropped != 2 {
			t.Errorf("dropped %d (stats %d), want 2", sub.Dropped(), r.Stats().EventsDropped)
		}
		if e := <-sub.C(); e.To != vrrp.Fault || e.From != vrrp.Master || e.Reason != vrrp.ReasonFault {
			t.Errorf("kept event %+v, want the newest", e)
		}
		sub.Close()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if e, ok := <-sub.C(); ok {
			t.Errorf("closed subscription got %+v", e)
		}
	})
}

// A Conn that fails for good stops Run with an error naming the instance.
func TestRouterConnClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		conn, _ := hub.Join(ourAddr)
		addrs := vrrptest.NewAddrs()
		r, err := vrrp.NewRouter(conn, addrs, nil, baseConfig("VI_9", 255))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- r.Run(context.Background()) }()
		synctest.Wait()
		if !addrs.Has(vip) {
			t.Fatal("owner did not add its VIP")
		}
		conn.Close()
		err = <-done
		if err == nil || !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Run: %v", err)
		}
		if addrs.Has(vip) {
			t.Error("VIP left behind after Run failed")
		}
	})
}

// Address manager failures are counted and logged, and the election goes
// on; the add is retried (addrretry_test.go has the rest).
func TestRouterAddrErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		conn, _ := hub.Join(ourAddr)
		addrs := vrrptest.NewAddrs()
		addrs.SetErr(errors.New("netlink: operation not permitted"))
		r, err := vrrp.NewRouter(conn, addrs, nil, baseConfig("r", 255))
		if err != nil {
			t.Fatal(err)
		}
		stop := goRun(r)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		// Added at 0, retried at 0.1, 0.3, 0.7 and 1.5 s.
		if st := r.Stats(); r.State() != vrrp.Master || st.AddrErrors != 5 || st.AddrRetries != 4 || st.AdvertsSent != 4 {
			t.Errorf("state %v stats %+v", r.State(), r.Stats())
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// A subscription's channel delivers every queued event and is then
// closed when Run returns, so ranging over it ends with the router; one
// made after Run returned is closed at once.
func TestSubscriptionClosedByRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := solo(t, baseConfig("r", 255))
		sub := r.Subscribe(8)
		stop := goRun(r)
		synctest.Wait()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for e := range sub.C() {
			got = append(got, e.From.String()+">"+e.To.String())
		}
		if s := strings.Join(got, " "); s != "INIT>MASTER MASTER>STOPPED" {
			t.Errorf("received %q", s)
		}
		sub.Close() // after Run closed it: no effect
		if _, ok := <-r.Subscribe(1).C(); ok {
			t.Error("a subscription made after Run returned is open")
		}
	})
}

// Routers subscribed to one channel (SubscribeTo) deliver their events
// into it, each in order and named by instance; Run returning leaves the
// channel open (it is the caller's), and a full channel drops its oldest
// event, counted to the router whose event pushed it out.
func TestSubscribeToShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := solo(t, baseConfig("A", 255))
		b, _ := solo(t, baseConfig("B", 255))
		c := make(chan vrrp.Event, 8)
		sa, sb := a.SubscribeTo(c), b.SubscribeTo(c)
		if sa.C() != (<-chan vrrp.Event)(c) {
			t.Fatal("C is not the caller's channel")
		}
		stopA, stopB := goRun(a), goRun(b)
		synctest.Wait()
		if err := errors.Join(stopA(), stopB()); err != nil {
			t.Fatal(err)
		}
		c <- vrrp.Event{Instance: "mine"} // still open: Run did not close it
		got := map[string][]string{}
		for range 5 {
			e := <-c
			got[e.Instance] = append(got[e.Instance], e.From.String()+">"+e.To.String())
		}
		for _, name := range []string{"A", "B"} {
			if s := strings.Join(got[name], " "); s != "INIT>MASTER MASTER>STOPPED" {
				t.Errorf("%s: received %q", name, s)
			}
		}
		if len(got["mine"]) != 1 || len(c) != 0 {
			t.Errorf("got %v, %d left", got, len(c))
		}
		sa.Close() // after Run: no effect, and no close of c
		sb.Close()
		c <- vrrp.Event{}
		<-c

		// One slot: the second router's event pushes out the first's.
		one := make(chan vrrp.Event, 1)
		x, _ := solo(t, baseConfig("X", 255))
		y, _ := solo(t, baseConfig("Y", 255))
		x.SubscribeTo(one)
		sy := y.SubscribeTo(one)
		stopX := goRun(x)
		synctest.Wait() // X: INIT>MASTER queued
		stopY := goRun(y)
		synctest.Wait() // Y: INIT>MASTER drops it
		if e := <-one; e.Instance != "Y" || y.Stats().EventsDropped != 1 || sy.Dropped() != 1 || x.Stats().EventsDropped != 0 {
			t.Errorf("kept %+v; dropped X %d Y %d (sub %d), want Y's event kept and 1 dropped by Y",
				e, x.Stats().EventsDropped, y.Stats().EventsDropped, sy.Dropped())
		}
		if err := errors.Join(stopX(), stopY()); err != nil {
			t.Fatal(err)
		}
	})
}
