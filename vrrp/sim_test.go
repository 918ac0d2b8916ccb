package vrrp_test

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

func TestSimTwoRoutersElect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		a := s.start(baseConfig("a", 150), s.join("192.0.2.1"))
		b := s.start(baseConfig("b", 100), s.join("192.0.2.2"))
		s.sleepUntil(10 * time.Second)
		wantState(t, s, a, vrrp.Master)
		wantState(t, s, b, vrrp.Backup)
		wantBecame(t, s, a, vrrp.Master, down150)
		wantBecame(t, s, b, vrrp.Master)
		if !a.addrs.Has(vip) || b.addrs.Has(vip) {
			t.Errorf("VIP on a=%v b=%v, want only a", a.addrs.Has(vip), b.addrs.Has(vip))
		}
		if got := a.ann.All(); len(got) != 1 || got[0].Time.Sub(s.t0) != down150 || !got[0].Active() {
			t.Errorf("a's announcements: %+v", got)
		}
		if st := b.r.Status(); st.Master != netip.MustParseAddr("192.0.2.1") {
			t.Errorf("b sees master %v", st.Master)
		}
		// a advertised at 3.414 s and every second after: 7 adverts by 10 s.
		if got := a.r.Stats().AdvertsSent; got != 7 {
			t.Errorf("a sent %d adverts, want 7", got)
		}
		if got := b.r.Stats().AdvertsReceived; got != 7 {
			t.Errorf("b accepted %d adverts, want 7", got)
		}
		a.stop()
		b.stop()
	})
}

func TestSimThreeRoutersElect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		a := s.start(baseConfig("a", 100), s.join("192.0.2.1"))
		b := s.start(baseConfig("b", 200), s.join("192.0.2.2"))
		c := s.start(baseConfig("c", 150), s.join("192.0.2.3"))
		s.sleepUntil(10 * time.Second)
		wantBecame(t, s, b, vrrp.Master, down200)
		wantState(t, s, a, vrrp.Backup)
		wantState(t, s, c, vrrp.Backup)
		wantBecame(t, s, a, vrrp.Master)
		wantBecame(t, s, c, vrrp.Master)
		for _, n := range []*node{a, b, c} {
			n.stop()
		}
	})
}

// RFC 5798 §6.4.2: a crashed master is replaced exactly
// Master_Down_Interval after its last advert.
func TestSimCrashTakeover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		a := s.start(baseConfig("a", 200), s.join("192.0.2.1"))
		b := s.start(baseConfig("b", 150), s.join("192.0.2.2"))
		c := s.start(baseConfig("c", 100), s.join("192.0.2.3"))
		s.sleepUntil(10 * time.Second)
		wantBecame(t, s, a, vrrp.Master, down200)
		a.crash() // at 10 s; a's last advert left at 9.21875 s
		last := down200 + 6*time.Second
		s.sleepUntil(20 * time.Second)
		wantBecame(t, s, b, vrrp.Master, last+down150)
		wantBecame(t, s, c, vrrp.Master)
		wantState(t, s, c, vrrp.Backup)
		if got := b.ann.All(); len(got) != 1 || got[0].Time.Sub(s.t0) != last+down150 {
			t.Errorf("b's announcements: %+v", got)
		}
		if got := a.r.Stats().PriorityZeroTx; got != 1 {
			t.Errorf("a sent %d priority 0 adverts into the void, want 1", got)
		}
		if got := b.r.Stats().PriorityZeroRx; got != 0 {
			t.Errorf("b heard %d priority 0 adverts from a crashed master", got)
		}
		b.stop()
		c.stop()
	})
}

// RFC 5798 §6.4.3: a master that stops sends priority 0, and the backup
// takes over after Skew_Time instead of Master_Down_Interval.
func TestSimGracefulStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		a := s.start(baseConfig("a", 150), s.join("192.0.2.1"))
		b := s.start(baseConfig("b", 100), s.join("192.0.2.2"))
		s.sleepUntil(10 * time.Second)
		a.stop()
		if a.addrs.Has(vip) {
			t.Error("a kept the VIP after a graceful stop")
		}
		wantBecame(t, s, a, vrrp.Stopped, 10*time.Second)
		s.sleepUntil(20 * time.Second)
		wantBecame(t, s, b, vrrp.Master, 10*time.Second+skew100)
		if got := b.r.Stats().PriorityZeroRx; got != 1 {
			t.Errorf("b heard %d priority 0 adverts, want 1", got)
		}
		if !b.addrs.Has(vip) {
			t.Error("b has no VIP")
		}
		b.stop()
	})
}

// A returning higher priority router preempts the lower master,
// Master_Down_Interval after it starts (it discards the lower adverts).
func TestSimPreemption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		aConn := s.join("192.0.2.1")
		a := s.start(baseConfig("a", 150), aConn)
		b := s.start(baseConfig("b", 100), s.join("192.0.2.2"))
		s.sleepUntil(10 * time.Second)
		a.stop()
		s.sleepUntil(20500 * time.Millisecond)
		a2 := s.start(baseConfig("a", 150), aConn)
		s.sleepUntil(40 * time.Second)
		wantBecame(t, s, a2, vrrp.Master, 20500*time.Millisecond+down150)
		wantBecame(t, s, b, vrrp.Backup, 0, 20500*time.Millisecond+down150)
		wantState(t, s, b, vrrp.Backup)
		if b.addrs.Has(vip) || !a2.addrs.Has(vip) {
			t.Errorf("VIP on a=%v b=%v after preemption", a2.addrs.Has(vip), b.addrs.Has(vip))
		}
		a2.stop()
		b.stop()
	})
}

// keepalived's preempt_delay: the returning router accepts the lower
// master for the delay after first hearing it, then takes over at once.
func TestSimPreemptDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		b := s.start(baseConfig("b", 100), s.join("192.0.2.2"))
		s.sleepUntil(10500 * time.Millisecond)
		wantBecame(t, s, b, vrrp.Master, down100)
		cfg := baseConfig("a", 150)
		cfg.PreemptDelay = 7 * time.Second
		a := s.start(cfg, s.join("192.0.2.1"))
		// b advertises at 3.609375 + k s; a first hears it at 10.609375 s.
		s.sleepUntil(40 * time.Second)
		firstHeard := down100 + 7*time.Second
		wantBecame(t, s, a, vrrp.Master, firstHeard+7*time.Second)
		wantBecame(t, s, b, vrrp.Backup, 0, firstHeard+7*time.Second)
		a.stop()
		b.stop()
	})
}

// nopreempt: a higher priority router that joins late stays Backup.
func TestSimNoPreempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		b := s.start(baseConfig("b", 100), s.join("192.0.2.2"))
		s.sleepUntil(5 * time.Second)
		cfg := baseConfig("a", 150)
		cfg.NoPreempt = true
		a := s.start(cfg, s.join("192.0.2.1"))
		s.sleepUntil(60 * time.Second)
		wantState(t, s, a, vrrp.Backup)
		wantBecame(t, s, a, vrrp.Master)
		wantBecame(t, s, b, vrrp.Master, down100)
		// With b gone, a takes over after its own Master_Down_Interval.
		b.crash()
		s.sleepUntil(70 * time.Second)
		wantBecame(t, s, a, vrrp.Master, down100+56*time.Second+down150)
		a.stop()
	})
}

// Equal priorities: both time out together, and the higher primary
// address wins (RFC 5798 §6.4.3) one link delay later.
func TestSimEqualPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		lo, hi := s.join("192.0.2.1"), s.join("192.0.2.2")
		lo.SetDelay(time.Millisecond)
		a := s.start(baseConfig("lo", 100), lo)
		b := s.start(baseConfig("hi", 100), hi)
		s.sleepUntil(10 * time.Second)
		wantBecame(t, s, a, vrrp.Master, down100)
		wantBecame(t, s, a, vrrp.Backup, 0, down100+time.Millisecond)
		wantBecame(t, s, b, vrrp.Master, down100)
		wantBecame(t, s, b, vrrp.Backup, 0)
		wantState(t, s, b, vrrp.Master)
		if a.addrs.Has(vip) {
			t.Error("the loser kept the VIP")
		}
		a.stop()
		b.stop()
	})
}

// A partition makes two masters; when it heals there is one master again
// within one advert interval. When the loser's advert reaches the winner
// first, the winner forces the election at once and re-announces the VIPs
// (keepalived's behaviour); when the winner's reaches the loser first, the
// loser simply yields.
func TestSimPartitionHeal(t *testing.T) {
	for _, c := range []struct {
		name        string
		heal        time.Duration
		reannounced bool
	}{
		// b (master since 13.023 s) advertises at x.023 s, a at x.414 s.
		{"winner_speaks_first", 20200 * time.Millisecond, false},
		{"loser_speaks_first", 20900 * time.Millisecond, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newSim(t)
				aConn := s.join("192.0.2.1")
				a := s.start(baseConfig("a", 150), aConn)
				b := s.start(baseConfig("b", 100), s.join("192.0.2.2"))
				s.sleepUntil(10 * time.Second)
				aConn.Cut()
				s.sleepUntil(20 * time.Second)
				// a's last advert before the cut left at 9.414 s.
				lastA := down150 + 6*time.Second
				wantBecame(t, s, b, vrrp.Master, lastA+down100)
				wantState(t, s, a, vrrp.Master)
				s.sleepUntil(c.heal)
				aConn.Heal()
				s.sleepUntil(c.heal + time.Second)
				wantState(t, s, a, vrrp.Master)
				wantState(t, s, b, vrrp.Backup)
				back := b.becameAt(s, vrrp.Backup)
				if len(back) != 2 || back[1] <= c.heal || back[1] > c.heal+time.Second {
					t.Fatalf("b went back to Backup at %v, want within 1 s after %v", back, c.heal)
				}
				var reannounced bool
				for _, an := range a.ann.All() {
					if d := an.Time.Sub(s.t0); d > c.heal && d <= c.heal+time.Second {
						reannounced = true
						if d != back[1] {
							t.Errorf("a re-announced at %v, b yielded at %v", d, back[1])
						}
					}
				}
				if reannounced != c.reannounced {
					t.Errorf("a re-announced: %v, want %v: %+v", reannounced, c.reannounced, a.ann.All())
				}
				if b.addrs.Has(vip) || !a.addrs.Has(vip) {
					t.Errorf("VIP on a=%v b=%v after heal", a.addrs.Has(vip), b.addrs.Has(vip))
				}
				a.stop()
				b.stop()
			})
		})
	}
}

// v3 at 100 ms: the crash takeover is exact at centisecond intervals.
func TestSimV3FastCrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		cfg := func(name string, prio uint8) vrrp.Config {
			c := baseConfig(name, prio)
			c.Version, c.Interval = vrrp.V3, 100*time.Millisecond
			return c
		}
		a := s.start(cfg("a", 150), s.join("192.0.2.1"))
		b := s.start(cfg("b", 100), s.join("192.0.2.2"))
		s.sleepUntil(time.Second)
		downA := 341406250 * time.Nanosecond // 300ms + 106 x 100ms / 256
		downB := 360937500 * time.Nanosecond // 300ms + 156 x 100ms / 256
		wantBecame(t, s, a, vrrp.Master, downA)
		a.crash()
		s.sleepUntil(2 * time.Second)
		wantBecame(t, s, b, vrrp.Master, downA+6*100*time.Millisecond+downB)
		b.stop()
	})
}

// Several routers side by side in one process: two VRIDs on one IPv4
// segment and an IPv6 router, with different masters.
func TestSimSideBySide(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		h1, h2 := s.join("192.0.2.1"), s.join("192.0.2.2")
		h1b, h2b := s.join("192.0.2.1"), s.join("192.0.2.2")
		h16, h26 := s.join("fe80::1"), s.join("fe80::2")
		v6 := func(name string, prio uint8) vrrp.Config {
			c := baseConfig(name, prio)
			c.Version, c.VIPs = vrrp.V3, []netip.Prefix{netip.MustParsePrefix("2001:db8::100/64")}
			return c
		}
		vrid := func(c vrrp.Config, id uint8) vrrp.Config {
			c.VRID, c.VIPs = id, []netip.Prefix{netip.MustParsePrefix("192.0.2.200/24")}
			return c
		}
		nodes := []*node{
			s.start(baseConfig("51@1", 150), h1), s.start(baseConfig("51@2", 100), h2),
			s.start(vrid(baseConfig("52@1", 100), 52), h1b), s.start(vrid(baseConfig("52@2", 150), 52), h2b),
			s.start(v6("v6@1", 100), h16), s.start(v6("v6@2", 200), h26),
		}
		s.sleepUntil(10 * time.Second)
		want := []vrrp.State{vrrp.Master, vrrp.Backup, vrrp.Backup, vrrp.Master, vrrp.Backup, vrrp.Master}
		for i, n := range nodes {
			wantState(t, s, n, want[i])
			if n.r.State() == vrrp.Backup && len(n.becameAt(s, vrrp.Master)) != 0 {
				t.Errorf("%s was master once: %s", n.name, n.history(s))
			}
			// Each router sees the other VRID's adverts and drops them quietly.
			if st := n.r.Stats(); st.Drop(vrrp.DropVRID) == 0 && n.name[:2] != "v6" {
				t.Errorf("%s dropped no other-VRID adverts", n.name)
			}
		}
		for _, n := range nodes {
			n.stop()
		}
	})
}

// A fault on the master (link down, failed check) resigns it with
// priority 0; clearing it brings it back through Backup and preemption.
func TestSimFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		a := s.start(baseConfig("a", 150), s.join("192.0.2.1"))
		b := s.start(baseConfig("b", 100), s.join("192.0.2.2"))
		s.sleepUntil(10 * time.Second)
		a.r.SetFault("eth0", true)
		a.r.SetFault("chk", true)
		synctest.Wait()
		wantState(t, s, a, vrrp.Fault)
		if a.addrs.Has(vip) {
			t.Error("a kept the VIP in FAULT")
		}
		s.sleepUntil(15 * time.Second)
		wantBecame(t, s, b, vrrp.Master, 10*time.Second+skew100)
		a.r.SetFault("eth0", false)
		s.sleepUntil(20 * time.Second)
		wantState(t, s, a, vrrp.Fault) // chk is still down
		a.r.SetFault("chk", false)
		s.sleepUntil(30 * time.Second)
		wantBecame(t, s, a, vrrp.Backup, 0, 20*time.Second)
		wantBecame(t, s, a, vrrp.Master, down150, 20*time.Second+down150)
		wantState(t, s, b, vrrp.Backup)
		a.stop()
		b.stop()
	})
}

// Priority tracking: the weights of tracked sources take the master below
// a backup's priority. The master advertises each new priority at once:
// the backup accepts 120 and discards 50 (preemption), and takes over
// exactly its Master_Down_Interval after the last higher-priority advert.
// Untracking the sources restores the priority, and the old master
// preempts back the same way.
func TestSimTrackWeightFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		a := s.start(baseConfig("a", 150), s.join("192.0.2.1"))
		b := s.start(baseConfig("b", 100), s.join("192.0.2.2"))
		s.sleepUntil(10 * time.Second)
		a.r.Track("chk", -30) // 120: still above b
		synctest.Wait()
		if st := a.r.Status(); st.Priority != 120 {
			t.Errorf("a's priority %d, want 150-30 = 120", st.Priority)
		}
		a.r.Track("disk", -70)
		synctest.Wait()
		if st := a.r.Status(); st.Priority != 50 {
			t.Errorf("a's priority %d, want 150-30-70 = 50", st.Priority)
		}
		s.sleepUntil(20 * time.Second)
		lastHigh := 10 * time.Second // a's advert of 120
		wantBecame(t, s, b, vrrp.Master, lastHigh+down100)
		wantBecame(t, s, a, vrrp.Backup, 0, lastHigh+down100)
		// b advertises every second from 13.609 s; a, back to 150,
		// discards them and takes over Master_Down_Interval after the last
		// one it accepted (19.609 s): the interval armed then, with a's
		// priority of then, 50 (3 s + 206/256 s).
		a.r.Untrack("disk")
		a.r.Untrack("chk")
		s.sleepUntil(30 * time.Second)
		lastB := lastHigh + down100 + 6*time.Second
		down50 := 3804687500 * time.Nanosecond
		wantBecame(t, s, a, vrrp.Master, down150, lastB+down50)
		wantBecame(t, s, b, vrrp.Backup, 0, lastB+down50)
		if st := a.r.Status(); st.Priority != 150 {
			t.Errorf("a's priority %d after Untrack, want 150", st.Priority)
		}
		a.stop()
		b.stop()
	})
}

// An address owner (priority 255) ignores weights, as keepalived does;
// a fault (keepalived's weight 0) still takes it out, and it is master
// again at once when the fault clears.
func TestSimOwnerIgnoresWeights(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		a := s.start(baseConfig("a", 255), s.join("192.0.2.1"))
		b := s.start(baseConfig("b", 200), s.join("192.0.2.2"))
		s.sleepUntil(5 * time.Second)
		a.r.Track("chk", -200)
		s.sleepUntil(20 * time.Second)
		if st := a.r.Status(); st.Priority != 255 || st.State != vrrp.Master {
			t.Errorf("owner %v with priority %d after a weight, want MASTER 255", st.State, st.Priority)
		}
		wantBecame(t, s, a, vrrp.Master, 0)
		wantBecame(t, s, b, vrrp.Master)
		a.r.SetFault("eth0", true)
		s.sleepUntil(25 * time.Second)
		wantBecame(t, s, a, vrrp.Fault, 20*time.Second)
		wantBecame(t, s, b, vrrp.Master, 20*time.Second+(256-200)*time.Second/256) // Skew_Time of 200
		a.r.SetFault("eth0", false)
		s.sleepUntil(30 * time.Second)
		wantBecame(t, s, a, vrrp.Master, 0, 25*time.Second)
		wantBecame(t, s, b, vrrp.Backup, 0, 25*time.Second)
		a.stop()
		b.stop()
	})
}

// Loss: with 20% of adverts lost, the master still holds (a backup needs
// three in a row lost to time out), and the run is repeatable (seeded).
func TestSimLossyLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		aConn := s.join("192.0.2.1")
		aConn.SetLoss(0.2)
		a := s.start(baseConfig("a", 150), aConn)
		b := s.start(baseConfig("b", 100), s.join("192.0.2.2"))
		s.sleepUntil(100 * time.Second)
		wantBecame(t, s, a, vrrp.Master, down150)
		if b.conn.Dropped() == 0 {
			t.Fatal("no advert was lost")
		}
		// Whatever split-brain the loss caused, it healed: a is master.
		wantState(t, s, a, vrrp.Master)
		wantState(t, s, b, vrrp.Backup)
		a.stop()
		b.stop()
	})
}
