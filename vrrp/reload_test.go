package vrrp_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// A reload of each field an operator changes keeps the master: no
// transition, no priority 0, the VIPs that stay untouched, only the
// removed ones removed, only the new ones added and announced. The
// master advertises the new configuration at once (10 s), then on the
// new interval. The backup stays backup.
func TestSimReloadKeepsMaster(t *testing.T) {
	const at = 10 * time.Second
	two := []netip.Prefix{vip, vip2}
	cases := []struct {
		name   string
		before func(c *vrrp.Config) // both routers, at start
		reload func(c *vrrp.Config) // a's new configuration
		both   bool                 // reload b the same way first (v2 checks the interval)
		ops    string               // a's address operations from 10 s
		ann    string               // a's announcements from 10 s
		prio   uint8                // in a's adverts from 10 s
		ival   time.Duration
		addrs  []netip.Prefix // in a's adverts from 10 s
	}{
		{name: "priority_up", reload: func(c *vrrp.Config) { c.Priority = 200 }, prio: 200},
		{name: "priority_down_above_backup", reload: func(c *vrrp.Config) { c.Priority = 120 }, prio: 120},
		{name: "interval", both: true, reload: func(c *vrrp.Config) { c.Interval = 2 * time.Second }, ival: 2 * time.Second},
		{name: "vip_added", reload: func(c *vrrp.Config) { c.VIPs = two },
			ops: "+[192.0.2.101/24]", ann: "[192.0.2.101]", addrs: two},
		{name: "vips_replaced", before: func(c *vrrp.Config) { c.VIPs = two },
			reload: func(c *vrrp.Config) { c.VIPs = []netip.Prefix{vip2, vip3} },
			// The announcement of .100 and .101 stops (.100 is gone):
			// .101 is announced again with the new .102.
			ops: "-[192.0.2.100/24] +[192.0.2.102/24]", ann: "[192.0.2.101 192.0.2.102]", addrs: []netip.Prefix{vip2, vip3}},
		{name: "vip_removed", before: func(c *vrrp.Config) { c.VIPs = two },
			reload: func(c *vrrp.Config) { c.VIPs = []netip.Prefix{vip2} },
			ops:    "-[192.0.2.100/24]", ann: "[192.0.2.101]", addrs: []netip.Prefix{vip2}},
		{name: "nopreempt", reload: func(c *vrrp.Config) { c.NoPreempt = true }},
		{name: "preempt_delay", reload: func(c *vrrp.Config) { c.PreemptDelay = 5 * time.Second }},
		{name: "accept_mode_off", reload: func(c *vrrp.Config) { c.VIPs, c.NoAccept = two, true },
			ops: "+![192.0.2.100/24 192.0.2.101/24]", ann: "[192.0.2.101]", addrs: two},
		{name: "auth_password", both: true,
			before: func(c *vrrp.Config) { c.AuthType, c.AuthPass = vrrp.AuthSimple, "secret12" },
			reload: func(c *vrrp.Config) { c.AuthPass = "secret34" }},
		{name: "name", reload: func(c *vrrp.Config) { c.Name = "a2" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newSim(t)
				sn := s.sniff("192.0.2.99")
				acfg, bcfg := baseConfig("a", 150), baseConfig("b", 100)
				if c.before != nil {
					c.before(&acfg)
					c.before(&bcfg)
				}
				a := s.start(acfg, s.join("192.0.2.1"))
				b := s.start(bcfg, s.join("192.0.2.2"))
				s.sleepUntil(at)
				if c.both {
					c.reload(&bcfg)
					if err := b.r.Reconfigure(bcfg); err != nil {
						t.Fatal(err)
					}
					synctest.Wait()
				}
				c.reload(&acfg)
				if err := a.r.Reconfigure(acfg); err != nil {
					t.Fatal(err)
				}
				s.sleepUntil(30 * time.Second)
				wantBecame(t, s, a, vrrp.Master, down150)
				wantBecame(t, s, a, vrrp.Backup, 0)
				wantBecame(t, s, b, vrrp.Master)
				if n := a.r.Stats().PriorityZeroTx; n != 0 {
					t.Errorf("a sent %d priority 0 adverts", n)
				}
				if got := a.opsAfter(s, at); got != c.ops {
					t.Errorf("a's address operations after the reload: %q, want %q", got, c.ops)
				}
				if got := a.announcedAfter(s, at); got != c.ann {
					t.Errorf("a announced after the reload: %q, want %q", got, c.ann)
				}
				for _, p := range acfg.VIPs {
					if !a.addrs.Has(p) {
						t.Errorf("a lacks %v", p)
					}
				}
				// What is still being announced names only VIPs a holds.
				for _, an := range a.ann.All() {
					for _, x := range an.Addrs {
						if an.Active() && !slices.Contains(prefixAddrs(acfg.VIPs), x) {
							t.Errorf("a still announces %v, which it no longer holds", x)
						}
					}
				}
				if n := a.addrs.Len(); n != len(acfg.VIPs) {
					t.Errorf("a holds %d VIPs, want %d", n, len(acfg.VIPs))
				}
				prio, ival, addrs := c.prio, c.ival, c.addrs
				if prio == 0 {
					prio = 150
				}
				if ival == 0 {
					ival = time.Second
				}
				if addrs == nil {
					addrs = acfg.VIPs
				}
				// One advert at the reload, then one per (new) interval.
				var want []string
				for d := at; d < 20*time.Second; d += ival {
					want = append(want, heard{at: d, src: netip.MustParseAddr("192.0.2.1"),
						adv: vrrp.Advertisement{Priority: prio, Interval: ival, Addrs: prefixAddrs(addrs)}}.String())
				}
				var got []string
				for _, h := range sn.from("192.0.2.1", at, 20*time.Second) {
					got = append(got, h.String())
				}
				if !slices.Equal(got, want) {
					t.Errorf("a's adverts from 10 s:\n got %v\nwant %v", got, want)
				}
				if st := b.r.Stats(); st.Drop(vrrp.DropAuth)+st.Drop(vrrp.DropInterval) != 0 {
					t.Errorf("b dropped a's adverts: %v", st.Drops)
				}
				if c.name == "name" && a.r.Name() != "a2" {
					t.Errorf("name %q after the reload", a.r.Name())
				}
				a.stop()
				b.stop()
				sn.stop()
			})
		})
	}
}

// Unicast peers reloaded: the master advertises to the new peer list at
// once (the sniffer at .3 is the new peer), keeps the old peer (b, still
// backup), and the Conn is told the new peers (PeerSetter).
func TestSimReloadUnicastPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		sn := s.sniff("192.0.2.3")
		acfg, bcfg := baseConfig("a", 150), baseConfig("b", 100)
		acfg.Peers = []netip.Addr{netip.MustParseAddr("192.0.2.2")}
		bcfg.Peers = []netip.Addr{netip.MustParseAddr("192.0.2.1")}
		aConn := s.join("192.0.2.1")
		a := s.start(acfg, aConn)
		b := s.start(bcfg, s.join("192.0.2.2"))
		s.sleepUntil(10 * time.Second)
		if got := sn.from("192.0.2.1", 0, 10*time.Second); len(got) != 0 {
			t.Fatalf("the sniffer, not a peer yet, heard %v", got)
		}
		acfg.Peers = append(acfg.Peers, netip.MustParseAddr("192.0.2.3"))
		if err := a.r.Reconfigure(acfg); err != nil {
			t.Fatal(err)
		}
		s.sleepUntil(20 * time.Second)
		if got := sn.from("192.0.2.1", 0, 20*time.Second); len(got) != 10 || got[0].at != 10*time.Second {
			t.Errorf("the new peer heard %v, want 10 adverts from 10 s", got)
		}
		if got := aConn.Peers(); !slices.Equal(got, acfg.Peers) {
			t.Errorf("a's Conn has peers %v, want %v", got, acfg.Peers)
		}
		wantBecame(t, s, a, vrrp.Master, down150)
		wantBecame(t, s, b, vrrp.Master)
		if n := a.r.Stats().PriorityZeroTx; n != 0 {
			t.Errorf("a sent %d priority 0 adverts", n)
		}
		a.stop()
		b.stop()
		sn.stop()
	})
}

// A backup reloaded above the master's priority preempts it as after a
// priority change: it discards the master's next advert and takes over
// Master_Down_Interval after the last one it accepted, with the priority
// it had then. Its reload touched no address.
func TestSimReloadBackupPreempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		a := s.start(baseConfig("a", 150), s.join("192.0.2.1"))
		b := s.start(baseConfig("b", 100), s.join("192.0.2.2"))
		s.sleepUntil(10 * time.Second)
		cfg := baseConfig("b", 200)
		cfg.VIPs = []netip.Prefix{vip, vip2}
		if err := b.r.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := b.opsAfter(s, 10*time.Second); got != "" {
			t.Errorf("the backup's reload touched addresses: %s", got)
		}
		s.sleepUntil(20 * time.Second)
		lastA := down150 + 6*time.Second // 9.414 s
		wantBecame(t, s, b, vrrp.Master, lastA+down100)
		wantBecame(t, s, a, vrrp.Backup, 0, lastA+down100)
		if !b.addrs.Has(vip2) {
			t.Error("the new master lacks the VIP its reload added")
		}
		a.stop()
		b.stop()
	})
}

// What identifies the router cannot change: Reconfigure refuses it and
// changes nothing.
func TestRouterReconfigureIdentity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, _ := solo(t, baseConfig("r", 100))
		stop := goRun(r)
		for _, c := range []struct {
			name  string
			field string
			f     func(c *vrrp.Config)
		}{
			{"vrid", "VRID", func(c *vrrp.Config) { c.VRID = 52 }},
			{"version", "Version", func(c *vrrp.Config) { c.Version = vrrp.V3 }},
			{"to_unicast", "Peers", func(c *vrrp.Config) { c.Peers = []netip.Addr{peerAddr} }},
			{"family", "VIPs", func(c *vrrp.Config) {
				c.Version, c.VIPs = vrrp.V3, []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")}
			}},
			{"invalid", "Priority", func(c *vrrp.Config) { c.Priority = 0 }},
		} {
			cfg := baseConfig("r", 200)
			c.f(&cfg)
			err := r.Reconfigure(cfg)
			var fe *vrrp.FieldError
			if !errors.Is(err, vrrp.ErrInvalid) || !errors.As(err, &fe) || fe.Field != c.field {
				t.Errorf("%s: %v, want a FieldError for %s", c.name, err, c.field)
			}
		}
		synctest.Wait()
		if st := r.Status(); st.Priority != 100 {
			t.Errorf("priority %d after refused reloads, want 100", st.Priority)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// A VIP someone else removed is put back by the router itself, and only
// while it is master: the master adds and announces that VIP alone, a
// backup and a router in FAULT leave it, an address that is not a VIP is
// ignored.
func TestSimAddrRemovedRestoresOnlyWhileMaster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		acfg, bcfg := baseConfig("a", 150), baseConfig("b", 100)
		acfg.VIPs, bcfg.VIPs = []netip.Prefix{vip, vip2}, []netip.Prefix{vip, vip2}
		a := s.start(acfg, s.join("192.0.2.1"))
		b := s.start(bcfg, s.join("192.0.2.2"))
		s.sleepUntil(10 * time.Second)
		ctx := context.Background()
		// An operator deletes vip2 on the master, and the watchers of both
		// hosts see it; someone also deletes an address that is no VIP.
		if err := a.addrs.RemoveVIPs(ctx, []netip.Prefix{vip2}); err != nil {
			t.Fatal(err)
		}
		a.r.AddrRemoved(vip2)
		b.r.AddrRemoved(vip2)
		a.r.AddrRemoved(netip.MustParsePrefix("192.0.2.1/24"))
		synctest.Wait()
		if got := a.opsAfter(s, 10*time.Second); got != "-[192.0.2.101/24] +[192.0.2.101/24]" {
			t.Errorf("a's address operations: %q, want the removal and one add of that VIP", got)
		}
		if got := a.announcedAfter(s, 10*time.Second); got != "[192.0.2.101]" {
			t.Errorf("a announced %q, want only the restored VIP", got)
		}
		if n := a.r.Stats().VIPsRestored; n != 1 {
			t.Errorf("a restored %d VIPs, want 1", n)
		}
		if got := b.opsAfter(s, 10*time.Second) + b.announcedAfter(s, 10*time.Second); got != "" || b.r.Stats().VIPsRestored != 0 {
			t.Errorf("the backup acted on the removal: %q", got)
		}
		// In FAULT, a removed its VIPs: the removals its watcher reports
		// change nothing.
		a.r.SetFault("eth0", true)
		synctest.Wait()
		s.sleepUntil(11 * time.Second)
		a.r.AddrRemoved(vip)
		a.r.AddrRemoved(vip2)
		synctest.Wait()
		if got := a.opsAfter(s, 11*time.Second); got != "" {
			t.Errorf("a in FAULT put VIPs back: %q", got)
		}
		if a.addrs.Len() != 0 || a.r.Stats().VIPsRestored != 1 {
			t.Errorf("a in FAULT holds %d VIPs, restored %d", a.addrs.Len(), a.r.Stats().VIPsRestored)
		}
		a.stop()
		b.stop()
	})
}

// A VIP that cannot be put back (its interface is gone: the fault is on
// its way) is not announced: announcing it would send for an address
// that is not there, on an interface that may not be.
func TestSimAddrRemovedNotAnnouncedIfNotAdded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		a := s.start(baseConfig("a", 255), s.join("192.0.2.1"))
		s.sleepUntil(time.Second)
		a.addrs.SetErr(errors.New("netlink: Link not found"))
		a.r.AddrRemoved(vip)
		synctest.Wait()
		if got := a.announcedAfter(s, time.Second); got != "" {
			t.Errorf("announced %q after a failed add", got)
		}
		if st := a.r.Stats(); st.VIPsRestored != 0 || st.AddrErrors != 1 {
			t.Errorf("restored %d, address errors %d; want 0 and 1", st.VIPsRestored, st.AddrErrors)
		}
		a.addrs.SetErr(nil)
		a.stop()
	})
}
