//go:build linux

package vigil_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vrrp"
)

// The Supervisor on the real platform: Supervisors (and keepalived) in
// namespaces on one bridge, tracking HTTP checks of backends in another
// namespace, a witness host reaching the VIP. State on the kernel and the
// wire is polled with a deadline; orders are asserted, not durations.

// TestSupervisorNetnsTrackedHTTP: A (150) and B (100) each track an HTTP
// check of their own backend. A's backend is closed: A's check fails, B
// takes the VIP (the kernel's addresses and a witness's HTTP and ping
// follow), and takes it back when the backend returns. With weight 0 A
// enters FAULT (and B takes over after A's priority 0); with weight -60
// A advertises 90 and B preempts it.
func TestSupervisorNetnsTrackedHTTP(t *testing.T) {
	nstest.NeedTools(t, "ping")
	for _, c := range trackModes {
		t.Run(c.name, func(t *testing.T) {
			seg := nstest.NewSegment(t, 3)
			ha, hb, w := seg.Hosts[0], seg.Hosts[1], seg.Hosts[2]
			bn := newBackendNet(t)
			beA, beB := bn.serve(t, 8081), bn.serve(t, 8082)
			serveOnVIPs(t, []*nstest.Host{ha, hb}, vip4)
			cfg := func(prio uint8, be *nsServer) vigil.Config {
				return vigil.Config{Trackers: []vigil.Tracker{httpTracker("chk_http", be.addr, c.weight)},
					Instances: []vigil.Instance{netnsInst("VI_1", 51, prio, vip4, "chk_http")}}
			}
			// B starts behind a master: no election at start.
			a := startNetnsSup(t, ha, cfg(150, beA))
			a.ev.wait(t, "A master", 0, instanceTo("VI_1", vrrp.Master))
			b := startNetnsSup(t, hb, cfg(100, beB))
			b.settled(t, vrrp.Backup, "VI_1")
			a.settled(t, vrrp.Master, "VI_1")
			expectVIPs(t, ha, []*nstest.Host{hb}, vip4)
			expectServedBy(t, w, vip4.Addr(), ha)

			ma, mb := a.ev.mark(), b.ev.mark()
			beA.close()
			ia, down := a.ev.wait(t, "A's tracker down", ma, trackerIs("chk_http", false))
			ib, took := b.ev.wait(t, "B master", mb, instanceTo("VI_1", vrrp.Master))
			a.ev.wait(t, "A leaves MASTER", ia, instanceTo("VI_1", c.lost))
			expectVIPs(t, hb, []*nstest.Host{ha}, vip4)
			expectServedBy(t, w, vip4.Addr(), hb)
			if !took.Time.After(down.Time) {
				t.Errorf("B master at %v, not after A's check failed at %v", took.Time, down.Time)
			}
			if c.weight != 0 {
				_, p := a.ev.wait(t, "A advertises 90", ia, func(e vigil.Event) bool {
					return e.Kind == vigil.EventPriority && e.Instance == "VI_1"
				})
				if p.Priority != 90 {
					t.Errorf("A's priority without its backend: %d, want 90", p.Priority)
				}
			}
			st := a.s.State().Instances[0]
			if st.State != c.lost.String() || c.lost == vrrp.Backup && (st.Master != hb.Addr4.Addr() || st.Effective != 90) {
				t.Errorf("A's state %+v; want %v (in BACKUP: master %v, effective priority 90)", st, c.lost, hb.Addr4.Addr())
			}

			beA.start()
			ia, _ = a.ev.wait(t, "A's tracker up", ia, trackerIs("chk_http", true))
			a.ev.wait(t, "A master again", ia, instanceTo("VI_1", vrrp.Master))
			b.ev.wait(t, "B backup again", ib, instanceTo("VI_1", vrrp.Backup))
			expectVIPs(t, ha, []*nstest.Host{hb}, vip4)
			expectServedBy(t, w, vip4.Addr(), ha)

			// Nothing in between. (The transitions to STOPPED when Run
			// ends: TestSupervisorNetnsStopReported.)
			wantA := c.masterTransitions()
			if got := a.ev.transitions("VI_1", false, ma); !slices.Equal(got, wantA) {
				t.Errorf("A's transitions %q, want %q", got, wantA)
			}
			wantB := []string{"BACKUP->MASTER", "MASTER->BACKUP"}
			if got := b.ev.transitions("VI_1", false, mb); !slices.Equal(got, wantB) {
				t.Errorf("B's transitions %q, want %q", got, wantB)
			}
		})
	}
}

// TestSupervisorNetnsSyncGroup: A and B run sync group G of an IPv4 and
// an IPv6 instance; only A's IPv4 instance tracks a check (weight 0).
// It fails: A's group enters FAULT and both VIPs move to B together;
// the check recovers and both come back.
func TestSupervisorNetnsSyncGroup(t *testing.T) {
	nstest.NeedTools(t, "ping")
	seg := nstest.NewSegment(t, 3)
	ha, hb, w := seg.Hosts[0], seg.Hosts[1], seg.Hosts[2]
	bn := newBackendNet(t)
	be := bn.serve(t, 8081)
	serveOnVIPs(t, []*nstest.Host{ha, hb}, vip4, vipY6)
	group := func(prio uint8, track ...string) vigil.Config {
		return vigil.Config{
			Instances:  []vigil.Instance{netnsInst("VI_4", 51, prio, vip4, track...), netnsInst("VI_6", 52, prio, vipY6)},
			SyncGroups: []vigil.SyncGroup{{Name: "G", Members: []string{"VI_4", "VI_6"}}},
		}
	}
	ca := group(150, "chk_http")
	ca.Trackers = []vigil.Tracker{httpTracker("chk_http", be.addr, 0)}
	a := startNetnsSup(t, ha, ca)
	a.ev.wait(t, "A's group master", 0, groupTo("G", vrrp.Master))
	b := startNetnsSup(t, hb, group(100))
	b.settled(t, vrrp.Backup, "VI_4", "VI_6")
	a.settled(t, vrrp.Master, "VI_4", "VI_6")
	expectVIPs(t, ha, []*nstest.Host{hb}, vip4, vipY6)
	expectServedBy(t, w, vip4.Addr(), ha)
	expectServedBy(t, w, vipY6.Addr(), ha)
	// Each side's two instances share a raw socket per family, which
	// Stats reports: B's reads A's adverts and hands them to its
	// backups, A's reads none (B is silent). The Supervisor's routers
	// use their sockets' fast paths (InstanceIO.Reopen): A's socket
	// sends its masters' adverts again (repeats), B's takes them in for
	// its backups.
	eventually(t, "the sockets' counters", netnsWait, func() bool {
		sa, sb := a.s.Stats().Sockets, b.s.Stats().Sockets
		if len(sa) != 2 || len(sb) != 2 {
			return false
		}
		for _, fam := range []string{"ipv4", "ipv6"} {
			x, okA := sa[vigil.SocketName{Interface: "eth0", Family: fam}]
			y, okB := sb[vigil.SocketName{Interface: "eth0", Family: fam}]
			if !okA || !okB || x.Received != 0 || y.Received < 5 || y.Delivered != y.Received ||
				x.RepeatsSent < 5 || y.RepeatsReceived < 5 {
				return false
			}
		}
		return true
	})

	ma, mb := a.ev.mark(), b.ev.mark()
	be.close()
	ia, _ := a.ev.wait(t, "A's tracker down", ma, trackerIs("chk_http", false))
	a.ev.wait(t, "A's group in FAULT", ia, groupTo("G", vrrp.Fault))
	a.ev.wait(t, "A's VI_6 in FAULT with its group", ia, instanceTo("VI_6", vrrp.Fault))
	ib, _ := b.ev.wait(t, "B's group master", mb, groupTo("G", vrrp.Master))
	expectVIPs(t, hb, []*nstest.Host{ha}, vip4, vipY6)
	expectServedBy(t, w, vip4.Addr(), hb)
	expectServedBy(t, w, vipY6.Addr(), hb)

	be.start()
	ia, _ = a.ev.wait(t, "A's tracker up", ia, trackerIs("chk_http", true))
	a.ev.wait(t, "A's group master again", ia, groupTo("G", vrrp.Master))
	b.ev.wait(t, "B's group backup again", ib, groupTo("G", vrrp.Backup))
	expectVIPs(t, ha, []*nstest.Host{hb}, vip4, vipY6)
	expectServedBy(t, w, vip4.Addr(), ha)
	expectServedBy(t, w, vipY6.Addr(), ha)

	// Both members of each side went through the same states as their
	// group, with no state of their own in between. (STOPPED at the end
	// of Run: see TestSupervisorNetnsStopReported.)
	wantA := []string{"MASTER->FAULT", "FAULT->BACKUP", "BACKUP->MASTER"}
	wantB := []string{"BACKUP->MASTER", "MASTER->BACKUP"}
	for _, c := range []struct {
		who  string
		ev   *eventLog
		from int
		want []string
	}{{"A", a.ev, ma, wantA}, {"B", b.ev, mb, wantB}} {
		for _, name := range []string{"G", "VI_4", "VI_6"} {
			if got := c.ev.transitions(name, name == "G", c.from); !slices.Equal(got, c.want) {
				t.Errorf("%s's %s: %q, want %q", c.who, name, got, c.want)
			}
		}
	}
}

// TestSupervisorNetnsNotify: A's instance has a notify script (the
// generic one, and one for MASTER) and the Supervisor a notify FIFO. A
// goes BACKUP, MASTER, FAULT (its tracked backend closed), BACKUP and
// MASTER (the backend back, preempting B): the FIFO carries exactly
// keepalived's lines, in order, and the script's calls append exactly
// their arguments, in order. When Run returns the FIFO is closed (its
// reader sees the end) and removed.
func TestSupervisorNetnsNotify(t *testing.T) {
	seg := nstest.NewSegment(t, 2)
	ha, hb := seg.Hosts[0], seg.Hosts[1]
	bn := newBackendNet(t)
	be := bn.serve(t, 8081)
	dir, script, calls := notifyDir(t)
	fifo := filepath.Join(dir, "notify.fifo")

	ca := vigil.Config{
		Global: vigil.Global{NotifyFIFO: &notify.FIFOConfig{Path: fifo},
			ScriptSecurity: notify.Security{Enabled: true}},
		Trackers:  []vigil.Tracker{httpTracker("chk_http", be.addr, 0)},
		Instances: []vigil.Instance{netnsInst("VI_1", 51, 150, vip4, "chk_http")},
	}
	ca.Instances[0].Notify = vigil.InstanceNotify{
		Master: &notify.Script{Args: []string{script, "master-only"}},
		Any:    &notify.Script{Args: []string{script}},
	}
	a := startNetnsSup(t, ha, ca)
	// New made the FIFO; read it until Run closes it.
	r := readFIFO(t, fifo)
	a.ev.wait(t, "A master", 0, instanceTo("VI_1", vrrp.Master))
	b := startNetnsSup(t, hb, vigil.Config{Instances: []vigil.Instance{netnsInst("VI_1", 51, 100, vip4)}})
	b.settled(t, vrrp.Backup, "VI_1")
	expectVIPs(t, ha, []*nstest.Host{hb}, vip4)

	mb := b.ev.mark()
	be.close()
	ia, _ := a.ev.wait(t, "A in FAULT", 0, instanceTo("VI_1", vrrp.Fault))
	ib, _ := b.ev.wait(t, "B master", mb, instanceTo("VI_1", vrrp.Master))
	expectVIPs(t, hb, []*nstest.Host{ha}, vip4)
	be.start()
	a.ev.wait(t, "A master again", ia, instanceTo("VI_1", vrrp.Master))
	b.ev.wait(t, "B backup again", ib, instanceTo("VI_1", vrrp.Backup))
	expectVIPs(t, ha, []*nstest.Host{hb}, vip4)

	wantFIFO := []string{
		`INSTANCE "VI_1" BACKUP 150`,
		`INSTANCE "VI_1" MASTER 150`,
		`INSTANCE "VI_1" FAULT 150`,
		`INSTANCE "VI_1" BACKUP 150`,
		`INSTANCE "VI_1" MASTER 150`,
	}
	if got := awaitLines(t, "FIFO", len(wantFIFO), r.lines); !slices.Equal(got, wantFIFO) {
		t.Errorf("FIFO lines:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantFIFO, "\n"))
	}
	// The specific script first, then the generic one, per transition.
	wantCalls := []string{
		"INSTANCE VI_1 BACKUP 150",
		"master-only",
		"INSTANCE VI_1 MASTER 150",
		"INSTANCE VI_1 FAULT 150",
		"INSTANCE VI_1 BACKUP 150",
		"master-only",
		"INSTANCE VI_1 MASTER 150",
	}
	got := awaitLines(t, "script calls", len(wantCalls), func() []string { return fileLines(calls) })
	if !slices.Equal(got, wantCalls) {
		t.Errorf("script calls:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantCalls, "\n"))
	}

	// What Run reports as it ends (STOP) is TestSupervisorNetnsStopReported's.
	a.stop()
	r.end(t)
	if _, err := os.Lstat(fifo); !os.IsNotExist(err) {
		t.Errorf("the FIFO the Supervisor made is left behind: %v", err)
	}
}

// TestSupervisorNetnsStopReported: a Supervisor's instance enters
// BACKUP and Run ends, forty times over. Each time the transition to
// STOPPED must be reported before Run returns: on Subscribe, as the
// FIFO line and to the notify_stop script.
func TestSupervisorNetnsStopReported(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	dir, script, calls := notifyDir(t)
	const runs = 40
	var lost []string
	for i := range runs {
		fifo := filepath.Join(dir, fmt.Sprintf("notify%d.fifo", i))
		in := netnsInst("VI_1", 51, 100, vip4)
		in.Notify.Stop = &notify.Script{Args: []string{script, "stop", strconv.Itoa(i)}}
		s := startNetnsSup(t, h, vigil.Config{Instances: []vigil.Instance{in},
			Global: vigil.Global{NotifyFIFO: &notify.FIFOConfig{Path: fifo}, ScriptSecurity: notify.Security{Enabled: true}}})
		r := readFIFO(t, fifo)
		s.ev.wait(t, "backup", 0, instanceTo("VI_1", vrrp.Backup))
		s.stop()
		var miss []string
		if got := s.ev.transitions("VI_1", false, 0); !slices.Equal(got, []string{"INIT->BACKUP", "BACKUP->STOPPED"}) {
			miss = append(miss, fmt.Sprintf("events %q", got))
		}
		want := []string{`INSTANCE "VI_1" BACKUP 100`, `INSTANCE "VI_1" STOP 100`}
		if got := r.end(t); !slices.Equal(got, want) {
			miss = append(miss, fmt.Sprintf("FIFO %q", got))
		}
		if got := fileLines(calls); !slices.Contains(got, "stop "+strconv.Itoa(i)) {
			miss = append(miss, "no notify_stop call")
		}
		if miss != nil {
			lost = append(lost, fmt.Sprintf("run %d: %s", i, strings.Join(miss, "; ")))
		}
	}
	if lost != nil {
		t.Errorf("STOPPED not reported in %d of %d runs:\n%s", len(lost), runs, strings.Join(lost, "\n"))
	}
}

// TestSupervisorNetnsKeepalivedPeer: a Supervisor (150) tracking an HTTP
// check and keepalived (100, same VRID, VRRPv3 at 100 ms) on the segment.
// The check fails: keepalived takes the VIP over (after A's priority 0
// in FAULT, or by preempting A's 90); it recovers: the Supervisor
// preempts keepalived back.
func TestSupervisorNetnsKeepalivedPeer(t *testing.T) {
	nstest.NeedTools(t, "keepalived", "ping")
	for _, c := range trackModes {
		t.Run(c.name, func(t *testing.T) {
			seg := nstest.NewSegment(t, 3)
			ha, hk, w := seg.Hosts[0], seg.Hosts[1], seg.Hosts[2]
			bn := newBackendNet(t)
			be := bn.serve(t, 8081)
			serveOnVIPs(t, []*nstest.Host{ha, hk}, vip4)
			a := startNetnsSup(t, ha, vigil.Config{Trackers: []vigil.Tracker{httpTracker("chk_http", be.addr, c.weight)},
				Instances: []vigil.Instance{netnsInst("VI_1", 51, 150, vip4, "chk_http")}})
			a.ev.wait(t, "A master", 0, instanceTo("VI_1", vrrp.Master))
			ka := startKeepalivedPeer(t, hk, fmt.Sprintf(`global_defs {
    router_id %s
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    version 3
    virtual_router_id 51
    priority 100
    advert_int 0.1
    virtual_ipaddress {
        %s
    }
}
`, hk.Name, vip4))
			ka.awaitLog(t, "Entering BACKUP STATE", 1)
			a.settled(t, vrrp.Master, "VI_1")
			expectVIPs(t, ha, []*nstest.Host{hk}, vip4)
			expectServedBy(t, w, vip4.Addr(), ha)

			// Counted from here: what keepalived logged at start is its own.
			masters := strings.Count(ka.Out.String(), "Entering MASTER STATE")
			backups := strings.Count(ka.Out.String(), "Entering BACKUP STATE")
			ma := a.ev.mark()
			be.close()
			ia, _ := a.ev.wait(t, "A's tracker down", ma, trackerIs("chk_http", false))
			a.ev.wait(t, "A leaves MASTER", ia, instanceTo("VI_1", c.lost))
			ka.awaitLog(t, "Entering MASTER STATE", masters+1)
			expectVIPs(t, hk, []*nstest.Host{ha}, vip4)
			expectServedBy(t, w, vip4.Addr(), hk)
			if c.lost == vrrp.Backup {
				if st := a.s.State().Instances[0]; st.Master != hk.Addr4.Addr() || st.Effective != 90 {
					t.Errorf("A sees master %v at effective priority %d; want keepalived's %v, 90", st.Master, st.Effective, hk.Addr4.Addr())
				}
			}

			be.start()
			ia, _ = a.ev.wait(t, "A's tracker up", ia, trackerIs("chk_http", true))
			a.ev.wait(t, "A master again", ia, instanceTo("VI_1", vrrp.Master))
			ka.awaitLog(t, "Entering BACKUP STATE", backups+1)
			expectVIPs(t, ha, []*nstest.Host{hk}, vip4)
			expectServedBy(t, w, vip4.Addr(), ha)
			if n := strings.Count(ka.Out.String(), "Entering MASTER STATE") - masters; n != 1 {
				t.Errorf("keepalived became master %d times, want once:\n%s", n, ka.Out.String())
			}
			wantA := c.masterTransitions()
			if got := a.ev.transitions("VI_1", false, ma); !slices.Equal(got, wantA) {
				t.Errorf("A's transitions %q, want %q", got, wantA)
			}
			ka.Stop(syscall.SIGTERM)
			if bad := keepalivedComplaints(ka.Out.String()); len(bad) > 0 {
				t.Errorf("keepalived complained:\n%s", strings.Join(bad, "\n"))
			}
		})
	}
}
