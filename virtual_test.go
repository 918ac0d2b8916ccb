package vigil

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
)

// TestVirtualServerCheckFails: a failing check takes its real server out
// of the table after exactly Fall rounds (3 × 1 s), or leaves it with
// weight 0 with InhibitOnFailure; the event carries the check's error and
// the notification is keepalived's line with the NotifyDown script. A
// real server without checks is always up; passing again, after Rise
// rounds, puts them back.
func TestVirtualServerCheckFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			fails atomic.Bool
			mu    sync.Mutex
			times []time.Duration
			start time.Time
		)
		c1 := check.CheckerFunc(func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			times = append(times, time.Since(start))
			if fails.Load() {
				return errors.New("connection refused")
			}
			return nil
		})
		c3 := &fake{}
		rs1 := realServer("10.0.0.1:80", 1, c1)
		rs1.NotifyUp, rs1.NotifyDown = script("/bin/rs1-up"), script("/bin/rs1-down")
		rs3 := realServer("10.0.0.3:80", 3, c3)
		rs3.InhibitOnFailure = true
		cfg := &Config{VirtualServers: []VirtualServer{virtualServer("192.0.2.10:80", rs1, realServer("10.0.0.2:80", 2), rs3)}}
		start = time.Now()
		r := newRig(t, cfg)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1 10.0.0.2:80/2 10.0.0.3:80/3")

		r.at(10 * time.Second)
		fails.Store(true)
		c3.fail.Store(true)
		r.at(13*time.Second - 1)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1 10.0.0.2:80/2 10.0.0.3:80/3")
		r.em.want(t, nil, nil)
		r.at(13 * time.Second)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:80/2 10.0.0.3:80/0")
		mu.Lock()
		for i, at := range times {
			if at != time.Duration(i)*time.Second || len(times) != 14 {
				t.Fatalf("checks at %v, want every second from 0 to 13 s", times)
			}
		}
		mu.Unlock()
		events, notes := r.em.take()
		slices.Sort(events)
		slices.Sort(notes)
		wantStrings(t, "events", events,
			"real server down tcp 192.0.2.10:80 10.0.0.1:80 err=connection refused",
			"real server down tcp 192.0.2.10:80 10.0.0.3:80 err=connection refused")
		wantStrings(t, "notes", notes,
			"rs 10.0.0.1:80 [192.0.2.10]:tcp:80 | RS [10.0.0.1]:tcp:80 [192.0.2.10]:tcp:80 DOWN | /bin/rs1-down",
			"rs 10.0.0.3:80 [192.0.2.10]:tcp:80 | RS [10.0.0.3]:tcp:80 [192.0.2.10]:tcp:80 DOWN |")
		st := r.v.state()
		if len(st) != 1 || !st[0].Quorum || len(st[0].RealServers) != 3 {
			t.Fatalf("state %+v", st)
		}
		if rs := st[0].RealServers[0]; rs.Up || rs.Weight != 1 || rs.Err != "connection refused" {
			t.Fatalf("state of rs1 %+v", rs)
		}
		if rs := st[0].RealServers[2]; rs.Up || rs.Weight != 0 {
			t.Fatalf("state of rs3 %+v, want weight 0 (inhibited)", rs)
		}

		fails.Store(false)
		c3.fail.Store(false)
		r.at(15*time.Second - 1)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:80/2 10.0.0.3:80/0")
		r.at(15 * time.Second)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1 10.0.0.2:80/2 10.0.0.3:80/3")
		events, _ = r.em.take()
		slices.Sort(events)
		wantStrings(t, "events", events,
			"real server up tcp 192.0.2.10:80 10.0.0.1:80",
			"real server up tcp 192.0.2.10:80 10.0.0.3:80")

		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		r.wantTable("")
		r.em.want(t, nil, nil) // no omega
		if h := r.g.Stats().Handles; h != 0 {
			t.Fatalf("%d handles left in the group", h)
		}
	})
}

// TestVirtualServerAllChecks: a real server with two checks is down when
// one of them fails.
func TestVirtualServerAllChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := &fake{}, &fake{}
		cfg := &Config{VirtualServers: []VirtualServer{virtualServer("192.0.2.10:80",
			realServer("10.0.0.1:80", 1, a, b), realServer("10.0.0.2:80", 1))}}
		r := newRig(t, cfg)
		b.fail.Store(true)
		r.at(3 * time.Second)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:80/1")
		if a.runs.Load() != 4 || b.runs.Load() != 4 {
			t.Fatalf("runs %d and %d, want 4 each", a.runs.Load(), b.runs.Load())
		}
		b.fail.Store(false)
		a.fail.Store(true)
		r.at(5 * time.Second) // b passed twice: up; a failed twice: not yet down
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1 10.0.0.2:80/1")
		r.at(6 * time.Second)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:80/1")
		a.fail.Store(false)
		r.at(8 * time.Second)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1 10.0.0.2:80/1")
	})
}

// TestVirtualServerWeights: a dynamic (Exec-like) weight replaces the
// configured weight, a File's is added to it, both clamped; Alpha real
// servers start down.
func TestVirtualServerWeights(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &weighted{}
		w.weight.Store(7)
		path := filepath.Join(t.TempDir(), "weight")
		if err := os.WriteFile(path, []byte("3\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		file := &check.File{Path: path, Weight: 2}
		alpha := realServer("10.0.0.3:80", 1, &fake{})
		alpha.Alpha = true
		cfg := &Config{VirtualServers: []VirtualServer{virtualServer("192.0.2.10:80",
			realServer("10.0.0.1:80", 1, w), realServer("10.0.0.2:80", 5, file), alpha)}}
		r := newRig(t, cfg)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/7 10.0.0.2:80/11")
		r.em.want(t, nil, nil)

		w.weight.Store(70000)
		r.at(time.Second) // and the alpha server's second pass
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/65535 10.0.0.2:80/11 10.0.0.3:80/1")
		if err := os.WriteFile(path, []byte("-4\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		w.weight.Store(0)
		r.at(2 * time.Second)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/0 10.0.0.2:80/0 10.0.0.3:80/1")
		if st := r.v.state(); st[0].RealServers[1].Weight != 0 || !st[0].RealServers[1].Up {
			t.Fatalf("state %+v", st[0].RealServers[1])
		}
	})
}

// TestVirtualServerQuorum: losing the quorum puts the sorry server in
// place of the real servers; the notifications are keepalived's lines in
// order, the real server's before the service's, with their scripts.
func TestVirtualServerQuorum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &fake{}
		rs1 := realServer("10.0.0.1:80", 1, a)
		rs1.NotifyUp, rs1.NotifyDown = script("/bin/rs-up"), script("/bin/rs-down")
		vs := virtualServer("192.0.2.10:80", rs1, realServer("10.0.0.2:80", 1))
		vs.Quorum = 2
		vs.SorryServer = &ipvs.Destination{DestinationKey: dkey("10.0.0.9:80"), Forward: ipvs.Masquerade, Weight: 1}
		vs.QuorumUp, vs.QuorumDown = script("/bin/vs-up"), script("/bin/vs-down")
		r := newRig(t, &Config{VirtualServers: []VirtualServer{vs}})
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1 10.0.0.2:80/1")

		a.fail.Store(true)
		r.at(3 * time.Second)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.9:80/1")
		r.em.want(t, []string{
			"real server down tcp 192.0.2.10:80 10.0.0.1:80 err=connection refused",
			"quorum down tcp 192.0.2.10:80",
		}, []string{
			"rs 10.0.0.1:80 [192.0.2.10]:tcp:80 | RS [10.0.0.1]:tcp:80 [192.0.2.10]:tcp:80 DOWN | /bin/rs-down",
			"vs [192.0.2.10]:tcp:80 | VS [192.0.2.10]:tcp:80 DOWN | /bin/vs-down",
		})
		if st := r.v.state(); st[0].Quorum || !st[0].SorryServer {
			t.Fatalf("state %+v", st[0])
		}

		a.fail.Store(false)
		r.at(5 * time.Second)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1 10.0.0.2:80/1")
		r.em.want(t, []string{
			"real server up tcp 192.0.2.10:80 10.0.0.1:80",
			"quorum up tcp 192.0.2.10:80",
		}, []string{
			"rs 10.0.0.1:80 [192.0.2.10]:tcp:80 | RS [10.0.0.1]:tcp:80 [192.0.2.10]:tcp:80 UP | /bin/rs-up",
			"vs [192.0.2.10]:tcp:80 | VS [192.0.2.10]:tcp:80 UP | /bin/vs-up",
		})
	})
}

// TestVirtualServerGroup: a virtual server of a group is one IPVS service
// per entry; each real server is checked once for all of them, and
// notified once, under the group's name.
func TestVirtualServerGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &fake{}
		rs1 := realServer("10.0.0.1:80", 1, a)
		rs1.NotifyDown = script("/bin/rs-down")
		vs := virtualServer("0.0.0.0:0", rs1, realServer("10.0.0.2:80", 1))
		vs.Group = "G1"
		cfg := &Config{
			VirtualServers:      []VirtualServer{vs},
			VirtualServerGroups: []VirtualServerGroup{{Name: "G1", Services: []ipvs.ServiceKey{tcpKey("192.0.2.10:80"), tcpKey("192.0.2.11:80")}}},
		}
		r := newRig(t, cfg)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1 10.0.0.2:80/1; tcp 192.0.2.11:80: 10.0.0.1:80/1 10.0.0.2:80/1")
		a.fail.Store(true)
		r.at(3 * time.Second)
		if n := a.runs.Load(); n != 4 {
			t.Fatalf("%d check runs in 3 s, want 4 (once per real server)", n)
		}
		if n := r.g.Stats().Handles; n != 1 {
			t.Fatalf("%d handles, want 1", n)
		}
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:80/1; tcp 192.0.2.11:80: 10.0.0.2:80/1")
		r.em.want(t, []string{
			"real server down tcp 192.0.2.10:80 10.0.0.1:80 err=connection refused",
			"real server down tcp 192.0.2.11:80 10.0.0.1:80 err=connection refused",
		}, []string{
			"rs 10.0.0.1:80 [G1]:0 | RS [10.0.0.1]:tcp:80 [G1]:0 DOWN | /bin/rs-down",
		})
		st := r.v.state()
		if len(st) != 2 || st[0].Group != "G1" || st[1].Service != tcpKey("192.0.2.11:80") || st[1].RealServers[0].Up {
			t.Fatalf("state %+v", st)
		}
	})
}

// TestVirtualServerHASuspend: a service with ha_suspend is in the table
// only while setHeld has its address, and its checks run only then; its
// real servers' health is frozen meanwhile, as keepalived's disabled
// checkers leave it.
func TestVirtualServerHASuspend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &fake{}
		vs := virtualServer("192.0.2.10:80", realServer("10.0.0.1:80", 1, a), realServer("10.0.0.2:80", 1))
		vs.HASuspend = true
		other := virtualServer("192.0.2.20:80", realServer("10.0.0.1:80", 1))
		r := newRig(t, &Config{VirtualServers: []VirtualServer{vs, other}})
		r.wantTable("tcp 192.0.2.20:80: 10.0.0.1:80/1")
		r.at(5 * time.Second)
		if n := a.runs.Load(); n != 0 {
			t.Fatalf("%d runs while suspended", n)
		}
		if st := r.v.state(); !st[0].Suspended || st[1].Suspended {
			t.Fatalf("state %+v", st)
		}

		r.v.setHeld([]netip.Addr{netip.MustParseAddr("192.0.2.99"), netip.MustParseAddr("192.0.2.10")})
		synctest.Wait()
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1 10.0.0.2:80/1; tcp 192.0.2.20:80: 10.0.0.1:80/1")
		a.fail.Store(true)
		r.at(8 * time.Second)
		if n := a.runs.Load(); n != 4 {
			t.Fatalf("%d runs in 3 s after resuming, want 4", n)
		}
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:80/1; tcp 192.0.2.20:80: 10.0.0.1:80/1")
		r.em.take()

		// Suspended: out of the table, the check stopped, the server
		// still down, no event.
		r.v.setHeld(nil)
		synctest.Wait()
		r.wantTable("tcp 192.0.2.20:80: 10.0.0.1:80/1")
		a.fail.Store(false)
		r.at(20 * time.Second)
		if n := a.runs.Load(); n != 4 {
			t.Fatalf("%d runs, want 4: none while suspended", n)
		}
		r.em.want(t, nil, nil)

		// Back: the failing check starts failing and needs Rise passes.
		r.v.setHeld([]netip.Addr{netip.MustParseAddr("192.0.2.10")})
		synctest.Wait()
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:80/1; tcp 192.0.2.20:80: 10.0.0.1:80/1")
		r.at(21 * time.Second)
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1 10.0.0.2:80/1; tcp 192.0.2.20:80: 10.0.0.1:80/1")
		r.em.want(t, []string{"real server up tcp 192.0.2.10:80 10.0.0.1:80"},
			[]string{"rs 10.0.0.1:80 [192.0.2.10]:tcp:80 | RS [10.0.0.1]:tcp:80 [192.0.2.10]:tcp:80 UP |"})
	})
}

// TestVirtualServerOmega: with omega, stopping reports the real servers
// up as down and the quorum lost, with their scripts; with
// KeepIPVSOnExit the services stay in the table.
func TestVirtualServerOmega(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs1 := realServer("10.0.0.1:80", 1, &fake{})
		rs1.NotifyDown = script("/bin/rs-down")
		vs := virtualServer("192.0.2.10:80", rs1)
		vs.Omega, vs.QuorumDown = true, script("/bin/vs-down")
		cfg := &Config{Global: Global{KeepIPVSOnExit: true}, VirtualServers: []VirtualServer{vs, virtualServer("192.0.2.11:80", realServer("10.0.0.1:80", 1))}}
		r := newRig(t, cfg)
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1; tcp 192.0.2.11:80: 10.0.0.1:80/1")
		r.em.want(t, []string{
			"real server down tcp 192.0.2.10:80 10.0.0.1:80",
			"quorum down tcp 192.0.2.10:80",
		}, []string{
			"rs 10.0.0.1:80 [192.0.2.10]:tcp:80 | RS [10.0.0.1]:tcp:80 [192.0.2.10]:tcp:80 DOWN | /bin/rs-down",
			"vs [192.0.2.10]:tcp:80 | VS [192.0.2.10]:tcp:80 DOWN | /bin/vs-down",
		})
		if err := r.v.run(context.Background()); !errors.Is(err, ErrRan) {
			t.Fatalf("second run: %v", err)
		}
		if _, err := r.v.reload(cfg); !errors.Is(err, ErrStopped) {
			t.Fatalf("reload after run: %v", err)
		}
	})
}

// TestVirtualServersNone: without virtual servers the engine needs no
// backend, makes no Balancer and runs no goroutine but run's; a reload
// bringing one needs a backend.
func TestVirtualServersNone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := check.NewGroup(check.GroupConfig{})
		v, err := newVirtualServers(g, nil, &Config{}, &recorder{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- v.run(ctx) }()
		synctest.Wait()
		if v.bl != nil || v.csub != nil || v.state() != nil {
			t.Fatal("work done for no virtual server")
		}
		v.setHeld([]netip.Addr{netip.MustParseAddr("192.0.2.10")})
		if _, err := v.reload(&Config{VirtualServers: []VirtualServer{virtualServer("192.0.2.10:80")}}); !errors.Is(err, errNoBackend) {
			t.Fatalf("reload without backend: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestVirtualServersLate: a reload that brings the first virtual server
// starts the Balancer of a running engine.
func TestVirtualServersLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, &Config{})
		r.wantTable("")
		r.reload(&Config{VirtualServers: []VirtualServer{virtualServer("192.0.2.10:80", realServer("10.0.0.1:80", 1, &fake{}))}})
		r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:80/1")
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		r.wantTable("")
	})
}

func wantStrings(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s\n%q\nwant\n%q", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s\n%q\nwant\n%q", what, got, want)
		}
	}
}
