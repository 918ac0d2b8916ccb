package vigil

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/ipvs"
)

// reloadChecks are the checkers of reloadConfig, kept across reloads as a
// configuration loader would keep equal checkers (same key or pointer).
type reloadChecks struct{ c1, c2 *fake }

// reloadConfig is A (tcp 192.0.2.10:80: 10.0.0.1 checked by c1, 10.0.0.2
// by c2, 10.0.0.3 unchecked) and B (tcp 192.0.2.11:80: 10.0.0.1), each
// time as new values; change edits it.
func reloadConfig(c reloadChecks, change func(cfg *Config)) *Config {
	rs3 := realServer("10.0.0.3:80", 1)
	rs3.NotifyDown = script("/bin/rs3-down")
	cfg := &Config{VirtualServers: []VirtualServer{
		virtualServer("192.0.2.10:80", realServer("10.0.0.1:80", 1, c.c1), realServer("10.0.0.2:80", 1, c.c2), rs3),
		virtualServer("192.0.2.11:80", realServer("10.0.0.1:80", 1)),
	}}
	if change != nil {
		change(cfg)
	}
	return cfg
}

func wantChanges(t *testing.T, got, want VirtualServerChanges) {
	t.Helper()
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
		t.Fatalf("changes\n%s\nwant\n%s", g, w)
	}
}

func rsKey(svc, d string) RealServerKey { return RealServerKey{tcpKey(svc), dkey(d)} }

// TestVirtualServerReload follows keepalived's clear_diff_services and
// migrate_checkers: what is unchanged is not written and keeps its state;
// one weight changed is one IPVS operation; a check whose checker stays
// keeps its handle and health, a new one starts healthy; real servers and
// services come and go.
func TestVirtualServerReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := reloadChecks{&fake{}, &fake{}}
		r := newRig(t, reloadConfig(cs, nil))
		const (
			full  = "tcp 192.0.2.10:80: 10.0.0.1:80/1 10.0.0.2:80/1 10.0.0.3:80/1; tcp 192.0.2.11:80: 10.0.0.1:80/1"
			a, b  = "192.0.2.10:80", "192.0.2.11:80"
			rs1   = "10.0.0.1:80"
			rs2   = "10.0.0.2:80"
			rs3   = "10.0.0.3:80"
			rs4   = "10.0.0.4:80"
			c     = "192.0.2.12:80"
			after = 3 * time.Second
		)
		r.wantTable(full)
		cs.c1.fail.Store(true)
		r.at(after)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:80/1 10.0.0.3:80/1; tcp 192.0.2.11:80: 10.0.0.1:80/1")
		r.em.take()
		handles := r.g.Stats().Handles

		// Unchanged: nothing written or read, the health kept.
		ch := r.reload(reloadConfig(cs, nil))
		wantChanges(t, ch, VirtualServerChanges{})
		if n, w := r.tab.Reads(), r.tab.Writes(); n != 0 || w != 0 {
			t.Fatalf("unchanged reload: %d reads, %d writes", n, w)
		}
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:80/1 10.0.0.3:80/1; tcp 192.0.2.11:80: 10.0.0.1:80/1")
		if n := r.g.Stats().Handles; n != handles {
			t.Fatalf("%d handles, want %d", n, handles)
		}
		r.em.want(t, nil, nil)

		// One weight: one update.
		ch = r.reload(reloadConfig(cs, func(cfg *Config) { cfg.VirtualServers[0].RealServers[1].Weight = 5 }))
		wantChanges(t, ch, VirtualServerChanges{ChangedRealServers: []RealServerKey{rsKey(a, rs2)}})
		r.wantWrites(map[ipvs.Op]int{ipvs.OpUpdateDestination: 1})
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:80/5 10.0.0.3:80/1; tcp 192.0.2.11:80: 10.0.0.1:80/1")

		// The failing check of rs1 gets a new policy but stays: rs1 stays
		// down, rs1's check runs on at its rhythm; rs2's check is
		// replaced by a new one that starts healthy (rs2 was down: it
		// comes back).
		cs.c2.fail.Store(true)
		r.at(2 * after)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.3:80/1; tcp 192.0.2.11:80: 10.0.0.1:80/1")
		r.em.take()
		c2b := &fake{}
		runs := cs.c2.runs.Load()
		ch = r.reload(reloadConfig(reloadChecks{cs.c1, c2b}, func(cfg *Config) {
			cfg.VirtualServers[0].RealServers[1].Weight = 5
			cfg.VirtualServers[0].RealServers[0].Checks[0].Policy.Fall = 2
		}))
		wantChanges(t, ch, VirtualServerChanges{ChangedRealServers: []RealServerKey{rsKey(a, rs1), rsKey(a, rs2)}})
		r.wantWrites(map[ipvs.Op]int{ipvs.OpCreateDestination: 1})
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:80/5 10.0.0.3:80/1; tcp 192.0.2.11:80: 10.0.0.1:80/1")
		r.em.want(t, []string{"real server up tcp 192.0.2.10:80 10.0.0.2:80"},
			[]string{"rs 10.0.0.2:80 [192.0.2.10]:tcp:80 | RS [10.0.0.2]:tcp:80 [192.0.2.10]:tcp:80 UP |"})
		if n := r.g.Stats().Handles; n != handles {
			t.Fatalf("%d handles, want %d", n, handles)
		}
		r.at(2*after + 5*time.Second)
		if n := cs.c2.runs.Load(); n != runs {
			t.Fatalf("the replaced check ran %d more times", n-runs)
		}
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:80/5 10.0.0.3:80/1; tcp 192.0.2.11:80: 10.0.0.1:80/1")
		if p := r.v.vss[0].rss[0].checks[0].h.Policy(); p.Fall != 2 {
			t.Fatalf("policy %+v, want Fall 2", p)
		}

		// rs3 (up) leaves, rs4 comes: one delete, one create, rs3
		// reported down with its script.
		ch = r.reload(reloadConfig(reloadChecks{cs.c1, c2b}, func(cfg *Config) {
			vs := &cfg.VirtualServers[0]
			vs.RealServers[1].Weight = 5
			vs.RealServers[0].Checks[0].Policy.Fall = 2
			vs.RealServers[2] = realServer(rs4, 1)
		}))
		wantChanges(t, ch, VirtualServerChanges{AddedRealServers: []RealServerKey{rsKey(a, rs4)}, RemovedRealServers: []RealServerKey{rsKey(a, rs3)}})
		r.wantWrites(map[ipvs.Op]int{ipvs.OpCreateDestination: 1, ipvs.OpDeleteDestination: 1})
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:80/5 10.0.0.4:80/1; tcp 192.0.2.11:80: 10.0.0.1:80/1")
		r.em.want(t, []string{"real server down tcp 192.0.2.10:80 10.0.0.3:80"},
			[]string{"rs 10.0.0.3:80 [192.0.2.10]:tcp:80 | RS [10.0.0.3]:tcp:80 [192.0.2.10]:tcp:80 DOWN | /bin/rs3-down"})

		// B leaves, C comes with a real server whose check is Alpha: it
		// starts down.
		alpha := realServer(rs1, 1, &fake{})
		alpha.Checks[0].Policy.Alpha = true
		ch = r.reload(reloadConfig(reloadChecks{cs.c1, c2b}, func(cfg *Config) {
			vs := &cfg.VirtualServers[0]
			vs.RealServers[1].Weight = 5
			vs.RealServers[0].Checks[0].Policy.Fall = 2
			vs.RealServers[2] = realServer(rs4, 1)
			cfg.VirtualServers[1] = virtualServer(c, alpha, realServer(rs2, 1))
		}))
		wantChanges(t, ch, VirtualServerChanges{AddedServices: []ipvs.ServiceKey{tcpKey(c)}, RemovedServices: []ipvs.ServiceKey{tcpKey(b)}})
		r.wantWrites(map[ipvs.Op]int{ipvs.OpCreateService: 1, ipvs.OpCreateDestination: 1, ipvs.OpDeleteService: 1})
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:80/5 10.0.0.4:80/1; tcp 192.0.2.12:80: 10.0.0.2:80/1")
		r.em.want(t, []string{"real server down tcp 192.0.2.11:80 10.0.0.1:80", "quorum down tcp 192.0.2.11:80"}, []string{
			"rs 10.0.0.1:80 [192.0.2.11]:tcp:80 | RS [10.0.0.1]:tcp:80 [192.0.2.11]:tcp:80 DOWN |",
			"vs [192.0.2.11]:tcp:80 | VS [192.0.2.11]:tcp:80 DOWN |",
		})

		// Settings of a service: one update.
		ch = r.reload(reloadConfig(reloadChecks{cs.c1, c2b}, func(cfg *Config) {
			vs := &cfg.VirtualServers[0]
			vs.RealServers[1].Weight = 5
			vs.RealServers[0].Checks[0].Policy.Fall = 2
			vs.RealServers[2] = realServer(rs4, 1)
			vs.Service.Scheduler = ipvs.RoundRobin
			cfg.VirtualServers[1] = virtualServer(c, alpha, realServer(rs2, 1))
		}))
		wantChanges(t, ch, VirtualServerChanges{ChangedServices: []ipvs.ServiceKey{tcpKey(a)}})
		r.wantWrites(map[ipvs.Op]int{ipvs.OpUpdateService: 1})
	})
}

// TestVirtualServerReloadGroup: a group's entries are services of their
// own across a reload: an entry added is one service created with the
// real servers' current health, an entry removed is deleted without
// notifications (the virtual server stays), and the check is not
// duplicated.
func TestVirtualServerReloadGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c1 := &fake{}
		cfg := func(entries ...string) *Config {
			vs := virtualServer("0.0.0.0:0", realServer("10.0.0.1:80", 1, c1), realServer("10.0.0.2:80", 1))
			vs.Group = "G"
			g := VirtualServerGroup{Name: "G"}
			for _, e := range entries {
				g.Services = append(g.Services, tcpKey(e))
			}
			return &Config{VirtualServers: []VirtualServer{vs}, VirtualServerGroups: []VirtualServerGroup{g}}
		}
		r := newRig(t, cfg("192.0.2.10:80", "192.0.2.11:80"))
		c1.fail.Store(true)
		r.at(3 * time.Second)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:80/1; tcp 192.0.2.11:80: 10.0.0.2:80/1")
		r.em.take()

		ch := r.reload(cfg("192.0.2.11:80", "192.0.2.12:80"))
		wantChanges(t, ch, VirtualServerChanges{AddedServices: []ipvs.ServiceKey{tcpKey("192.0.2.12:80")}, RemovedServices: []ipvs.ServiceKey{tcpKey("192.0.2.10:80")}})
		r.wantWrites(map[ipvs.Op]int{ipvs.OpCreateService: 1, ipvs.OpCreateDestination: 1, ipvs.OpDeleteService: 1})
		r.wantTable("tcp 192.0.2.11:80: 10.0.0.2:80/1; tcp 192.0.2.12:80: 10.0.0.2:80/1")
		events, notes := r.em.take()
		slices.Sort(events)
		wantStrings(t, "events", events, "quorum down tcp 192.0.2.10:80", "real server down tcp 192.0.2.10:80 10.0.0.2:80")
		wantStrings(t, "notes", notes)
		if n := r.g.Stats().Handles; n != 1 {
			t.Fatalf("%d handles, want 1", n)
		}

		// The group's notifications now come from its new first service.
		c1.fail.Store(false)
		r.at(5 * time.Second)
		r.wantTable("tcp 192.0.2.11:80: 10.0.0.1:80/1 10.0.0.2:80/1; tcp 192.0.2.12:80: 10.0.0.1:80/1 10.0.0.2:80/1")
		_, notes = r.em.take()
		wantStrings(t, "notes", notes, "rs 10.0.0.1:80 [G]:0 | RS [10.0.0.1]:tcp:80 [G]:0 UP |")
	})
}

// TestVirtualServerReloadSuspend: a reload keeps a suspended service
// suspended (keepalived carries ha_suspend_addr_count over), and one that
// gains ha_suspend while its address is not held leaves the table with
// its checks.
func TestVirtualServerReloadSuspend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c1 := &fake{}
		cfg := func(suspend bool) *Config {
			vs := virtualServer("192.0.2.10:80", realServer("10.0.0.1:80", 1, c1))
			vs.HASuspend = suspend
			return &Config{VirtualServers: []VirtualServer{vs}}
		}
		r := newRig(t, cfg(false))
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1")
		ch := r.reload(cfg(true))
		wantChanges(t, ch, VirtualServerChanges{ChangedServices: []ipvs.ServiceKey{tcpKey("192.0.2.10:80")}})
		r.wantTable("")
		if n := r.g.Stats().Handles; n != 0 {
			t.Fatalf("%d handles while suspended", n)
		}
		r.reload(cfg(true))
		r.wantTable("")
		r.v.setHeld([]netip.Addr{netip.MustParseAddr("192.0.2.10")})
		synctest.Wait()
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1")
		r.reload(cfg(true))
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1")
		if n := r.g.Stats().Handles; n != 1 {
			t.Fatalf("%d handles, want 1", n)
		}
	})
}

// TestVirtualServerReloadWeight: a reload that replaces a weighted check
// gives the server its configured weight back until the new check reports
// one (a new check runs at once: this one fails its first round, which
// sets no weight, and one failed round of three does not make it down); a
// dynamic weight stays across a reload that keeps its check, with no
// write.
func TestVirtualServerReloadWeight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &weighted{}
		w.weight.Store(7)
		cfg := func(c *weighted) *Config {
			return &Config{VirtualServers: []VirtualServer{virtualServer("192.0.2.10:80", realServer("10.0.0.1:80", 1, c))}}
		}
		r := newRig(t, cfg(w))
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/7")

		w2 := &weighted{}
		w2.weight.Store(9)
		w2.fail.Store(true)
		wantChanges(t, r.reload(cfg(w2)), VirtualServerChanges{ChangedRealServers: []RealServerKey{rsKey("192.0.2.10:80", "10.0.0.1:80")}})
		r.wantWrites(map[ipvs.Op]int{ipvs.OpUpdateDestination: 1})
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1")
		w2.fail.Store(false)
		r.at(time.Second)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/9")

		wantChanges(t, r.reload(cfg(w2)), VirtualServerChanges{})
		r.wantWrites(nil)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/9")
	})
}
