package vrrp_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// startFailing is sim.start with an address manager whose calls fail
// with err: the first n of them, or all until healed if n < 0.
func (s *sim) startFailing(cfg vrrp.Config, conn *vrrptest.Conn, n int, err error) *node {
	s.t.Helper()
	nd := &node{t: s.t, name: cfg.Name, conn: conn, addrs: vrrptest.NewAddrs(), ann: &vrrptest.Announcer{}, done: make(chan struct{})}
	if n < 0 {
		nd.addrs.SetErr(err)
	} else {
		nd.addrs.FailNext(n, err)
	}
	r, rerr := vrrp.NewRouter(conn, nd.addrs, nd.ann, cfg)
	if rerr != nil {
		s.t.Fatal(rerr)
	}
	nd.r = r
	runNode(s.t, nd)
	return nd
}

// failedAfter returns n's failed address calls at or after d, as
// "+@t" for an add and "-@t" for a removal (t since the sim's start).
func (n *node) failedAfter(s *sim, d time.Duration) string {
	var out []string
	for _, op := range n.addrs.Failed() {
		if at := op.Time.Sub(s.t0); at >= d {
			sign := "-"
			if op.Add {
				sign = "+"
			}
			out = append(out, fmt.Sprint(sign, "@", at))
		}
	}
	return strings.Join(out, " ")
}

// announcedAt returns when n announced, since the sim's start.
func (n *node) announcedAt(s *sim) []time.Duration {
	var out []time.Duration
	for _, an := range n.ann.All() {
		out = append(out, an.Time.Sub(s.t0))
	}
	return out
}

// wantAnnounced checks when n announced (all) and which of those
// announcements are still running (active).
func wantAnnounced(t *testing.T, n *node, s *sim, all, active string) {
	t.Helper()
	var live []time.Duration
	for _, an := range n.ann.All() {
		if an.Active() {
			live = append(live, an.Time.Sub(s.t0))
		}
	}
	if got := fmt.Sprint(n.announcedAt(s)); got != all {
		t.Errorf("%s: announced at %s, want %s", n.name, got, all)
	}
	if got := fmt.Sprint(live); got != active {
		t.Errorf("%s: announcements still running from %s, want %s", n.name, got, active)
	}
}

func wantStats(t *testing.T, n *node, errs, retries, faults uint64) {
	t.Helper()
	st := n.r.Stats()
	if st.AddrErrors != errs || st.AddrRetries != retries || st.AddrFaults != faults {
		t.Errorf("%s: address errors %d, retries %d, faults %d; want %d, %d, %d",
			n.name, st.AddrErrors, st.AddrRetries, st.AddrFaults, errs, retries, faults)
	}
}

// A VIP add the kernel refuses for a while (EBUSY) is retried with a
// doubling backoff until it succeeds; the router stays master, and the
// VIPs are announced only once they are there.
func TestAddrAddRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		a := s.startFailing(baseConfig("a", 255), s.join("192.0.2.1"), 2, syscall.EBUSY)
		s.sleepUntil(50 * time.Millisecond)
		wantAnnounced(t, a, s, "[0s]", "[]")
		s.sleepUntil(10 * time.Second)
		wantState(t, s, a, vrrp.Master)
		wantBecame(t, s, a, vrrp.Master, 0)
		if got := a.failedAfter(s, 0); got != "+@0s +@100ms" {
			t.Errorf("failed calls %q", got)
		}
		if ops := a.addrs.Ops(); len(ops) != 1 || ops[0].Time.Sub(s.t0) != 300*time.Millisecond || !a.addrs.Has(vip) {
			t.Errorf("added %v, want once at 300ms", ops)
		}
		// Becoming master announces before the add; the add's failure
		// stops that announcement, the add that succeeds announces anew.
		wantAnnounced(t, a, s, "[0s 300ms]", "[300ms]")
		wantStats(t, a, 2, 2, 0)
		a.stop()
	})
}

// A master whose VIPs cannot be added at all (EPERM) retries
// AddrRetries times, then enters FAULT for AddrFaultHold, sending
// priority 0; it starts again after the hold, twice as long the second
// time, and holds its VIPs once the kernel takes them again. Removals
// that fail are retried and then given up.
func TestAddrFaultAndRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		sn := s.sniff("192.0.2.9")
		a := s.startFailing(baseConfig("a", 255), s.join("192.0.2.1"), -1, syscall.EPERM)
		ms := time.Millisecond
		s.sleepUntil(3100*ms - 1)
		wantState(t, s, a, vrrp.Master)
		s.sleepUntil(3100 * ms)
		wantState(t, s, a, vrrp.Fault)
		if p := sn.from("192.0.2.1", 3100*ms, 3101*ms); len(p) != 1 || p[0].adv.Priority != 0 {
			t.Errorf("adverts at the fault: %v, want one of priority 0", p)
		}
		// Adds at 0 and its 5 retries; then the removal of the fault and
		// its 5 retries (3.2, 3.4, 3.8, 4.6, 6.2 s), given up.
		want := "+@0s +@100ms +@300ms +@700ms +@1.5s +@3.1s -@3.1s -@3.2s -@3.4s -@3.8s -@4.6s -@6.2s"
		s.sleepUntil(8 * time.Second)
		if got := a.failedAfter(s, 0); got != want {
			t.Errorf("failed calls\n%s\nwant\n%s", got, want)
		}
		wantStats(t, a, 12, 10, 1)
		// The hold ends at 8.1 s: master again, the same again, and a
		// hold of 10 s from 11.2 s. The kernel heals at 15 s.
		s.sleepUntil(15 * time.Second)
		wantState(t, s, a, vrrp.Fault)
		a.addrs.SetErr(nil)
		s.sleepUntil(21200*ms - 1)
		wantState(t, s, a, vrrp.Fault)
		s.sleepUntil(30 * time.Second)
		wantState(t, s, a, vrrp.Master)
		wantBecame(t, s, a, vrrp.Master, 0, 8100*ms, 21200*ms)
		wantBecame(t, s, a, vrrp.Fault, 3100*ms, 11200*ms)
		if !a.addrs.Has(vip) {
			t.Error("VIP not held after the kernel healed")
		}
		wantAnnounced(t, a, s, "[0s 8.1s 21.2s]", "[21.2s]")
		wantStats(t, a, 24, 20, 2)
		a.stop()
		sn.stop()
	})
}

// When the master cannot hold its VIPs, a backup takes over: the fault's
// priority 0 makes it master after its Skew_Time. The first router,
// healed, preempts after its hold.
func TestAddrFaultBackupTakesOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		a := s.startFailing(baseConfig("a", 200), s.join("192.0.2.1"), -1, syscall.ENOBUFS)
		b := s.start(baseConfig("b", 100), s.join("192.0.2.2"))
		fault := down200 + 3100*time.Millisecond
		s.sleepUntil(fault + time.Second)
		wantState(t, s, a, vrrp.Fault)
		wantState(t, s, b, vrrp.Master)
		wantBecame(t, s, b, vrrp.Master, fault+skew100)
		if !b.addrs.Has(vip) || a.addrs.Has(vip) {
			t.Errorf("b holds %v, a %v", b.addrs.Held(), a.addrs.Held())
		}
		a.addrs.SetErr(nil)
		back := fault + vrrp.AddrFaultHold
		s.sleepUntil(back + down200 + time.Second)
		wantBecame(t, s, a, vrrp.Master, down200, back+down200)
		wantState(t, s, b, vrrp.Backup)
		if !a.addrs.Has(vip) || b.addrs.Has(vip) {
			t.Errorf("a holds %v, b %v", a.addrs.Held(), b.addrs.Held())
		}
		a.stop()
		b.stop()
	})
}

// A removal that fails when the router leaves MASTER is retried until
// it succeeds, so a backup does not keep answering for the VIPs.
func TestAddrRemoveRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		a := s.start(baseConfig("a", 255), s.join("192.0.2.1"))
		s.sleepUntil(time.Second)
		a.addrs.FailNext(3, syscall.EBUSY)
		a.r.SetFault("chk", true)
		synctest.Wait()
		wantState(t, s, a, vrrp.Fault)
		if !a.addrs.Has(vip) {
			t.Fatal("the failed removal removed the VIP")
		}
		s.sleepUntil(2 * time.Second)
		if a.addrs.Has(vip) {
			t.Error("VIP still held after the retries")
		}
		if got := a.failedAfter(s, 0); got != "-@1s -@1.1s -@1.3s" {
			t.Errorf("failed calls %q", got)
		}
		if got := a.opsAfter(s, time.Second); got != "-[192.0.2.100/24]" {
			t.Errorf("ops %q", got)
		}
		wantStats(t, a, 3, 3, 0)
		a.stop()
	})
}

// A retry of the VIPs stops when the router stops being master: a
// backup does not add them back.
func TestAddrRetryStopsWithMastership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		a := s.startFailing(baseConfig("a", 255), s.join("192.0.2.1"), 2, syscall.EBUSY)
		synctest.Wait()
		a.r.SetFault("chk", true) // at 0, the first retry due at 100 ms
		s.sleepUntil(5 * time.Second)
		// The fault's removal failed too (the second failure): its
		// retry at 100 ms is the only call that went through.
		if got := a.opsAfter(s, 0); got != "-[192.0.2.100/24]" {
			t.Errorf("ops %q; want the removal only", got)
		}
		if a.addrs.Has(vip) {
			t.Error("a router in FAULT added its VIP on retry")
		}
		a.stop()
	})
}
