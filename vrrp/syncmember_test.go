package vrrp_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// member returns a node for cfg on conn whose router is not running yet
// (run starts it), so that it can be told its group's state first.
func (s *sim) member(cfg vrrp.Config, conn *vrrptest.Conn) *node {
	s.t.Helper()
	n := &node{t: s.t, name: cfg.Name, conn: conn, addrs: vrrptest.NewAddrs(), ann: &vrrptest.Announcer{}, done: make(chan struct{})}
	r, err := vrrp.NewRouter(conn, n.addrs, n.ann, cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	n.r = r
	return n
}

// run starts the router of a node made by member, recording its events.
func (n *node) run() {
	sub := n.r.Subscribe(64)
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() {
		if err := n.r.Run(ctx); err != nil {
			n.t.Errorf("%s: Run: %v", n.name, err)
		}
	}()
	go func() {
		defer close(n.done)
		for e := range sub.C() {
			n.record(e)
		}
	}()
}

// statuses records what a router's SubscribeSync delivers.
type statuses struct {
	mu   sync.Mutex
	all  []string
	done chan struct{}
}

func recordSync(r *vrrp.Router) *statuses {
	st := &statuses{done: make(chan struct{})}
	sub := r.SubscribeSync(64)
	go func() {
		defer close(st.done)
		for s := range sub.C() {
			st.mu.Lock()
			st.all = append(st.all, fmtStatus(s))
			st.mu.Unlock()
		}
	}()
	return st
}

func (st *statuses) String() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return strings.Join(st.all, " ")
}

// fmtStatus shows a SyncStatus as STATE, * for WantMaster, ! for
// Faulted, and #Seq.
func fmtStatus(s vrrp.SyncStatus) string {
	w := s.State.String()
	if s.WantMaster {
		w += "*"
	}
	if s.Faulted {
		w += "!"
	}
	return fmt.Sprintf("%s#%d", w, s.Seq)
}

// A router told its sync group's state (SyncTo) at exact times: held in
// BACKUP until the group is MASTER, then the group's master, backup and
// fault, its own fault outliving the group's, and what it reports.
func TestSyncRouterMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		sn := s.sniff("192.0.2.9")
		a := s.member(baseConfig("a", 100), s.join("192.0.2.1"))
		st := recordSync(a.r)
		syncTo := func(g vrrp.State, seq uint64) {
			t.Helper()
			if err := a.r.SyncTo(g, seq); err != nil {
				t.Fatal(err)
			}
		}
		syncTo(vrrp.Backup, 1)
		a.run()
		s.sleepUntil(4 * time.Second)
		// Master_Down_Timer expired at 3.609375 s: held, wanting.
		wantState(t, s, a, vrrp.Backup)
		if got := a.r.SyncStatus(); got != (vrrp.SyncStatus{State: vrrp.Backup, WantMaster: true, Seq: 1}) {
			t.Errorf("held: %+v", got)
		}
		if a.addrs.Has(vip) || len(sn.from("192.0.2.1", 0, 4*time.Second)) != 0 {
			t.Error("a held router added its VIP or advertised")
		}
		syncTo(vrrp.Master, 2)
		s.sleepUntil(4500 * time.Millisecond) // between its adverts
		if !a.addrs.Has(vip) || a.announcedAfter(s, 4*time.Second) != "[192.0.2.100]" {
			t.Errorf("the group's master: VIP %v, announced %q", a.addrs.Has(vip), a.announcedAfter(s, 4*time.Second))
		}
		syncTo(vrrp.Backup, 3)
		s.sleepUntil(6 * time.Second)
		if a.addrs.Has(vip) {
			t.Error("kept the VIP in BACKUP")
		}
		syncTo(vrrp.Fault, 4)
		s.sleepUntil(7 * time.Second)
		a.r.SetFault("eth0", true)
		s.sleepUntil(8 * time.Second)
		syncTo(vrrp.Backup, 5) // its own fault holds it in FAULT
		s.sleepUntil(9 * time.Second)
		wantState(t, s, a, vrrp.Fault)
		a.r.SetFault("eth0", false)
		s.sleepUntil(13 * time.Second)
		a.stop()
		<-st.done
		sn.stop()

		const want = " 0s:INIT->BACKUP(startup) 4s:BACKUP->MASTER(sync-group) 4.5s:MASTER->BACKUP(sync-group)" +
			" 6s:BACKUP->FAULT(sync-group) 9s:FAULT->BACKUP(fault-cleared) 13s:BACKUP->STOPPED(shutdown)"
		if got := a.history(s); got != "a"+want {
			t.Errorf("history:\n got %s\nwant a%s", got, want)
		}
		// Group BACKUP: no priority 0; only the adverts of its mastership.
		var prios []string
		for _, h := range sn.from("192.0.2.1", 0, 13*time.Second) {
			prios = append(prios, fmt.Sprint(h.at, ":", h.adv.Priority))
		}
		if got := strings.Join(prios, " "); got != "4s:100" {
			t.Errorf("adverts %s, want 4s:100", got)
		}
		if got := a.r.Stats().PriorityZeroTx; got != 0 {
			t.Errorf("sent %d priority 0 adverts, want none", got)
		}
		const wantStatuses = "INIT#1 BACKUP#1 BACKUP*#1 MASTER#2 BACKUP#3 FAULT#4 FAULT!#4 FAULT!#5 BACKUP#5 BACKUP*#5 STOPPED#5"
		if got := st.String(); got != wantStatuses {
			t.Errorf("statuses:\n got %s\nwant %s", got, wantStatuses)
		}
	})
}

// An address owner in a sync group starts as master only when its group
// is MASTER (a group of owners); otherwise it starts in BACKUP, removing
// its VIPs, and waits for the group like any member.
func TestSyncRouterOwner(t *testing.T) {
	for _, c := range []struct {
		group  vrrp.State
		master []time.Duration
	}{
		{vrrp.Master, []time.Duration{0}},
		{vrrp.Backup, []time.Duration{4 * time.Second}},
	} {
		t.Run(c.group.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newSim(t)
				a := s.member(baseConfig("a", 255), s.join("192.0.2.1"))
				if err := a.r.SyncTo(c.group, 1); err != nil {
					t.Fatal(err)
				}
				a.run()
				s.sleepUntil(4 * time.Second)
				if c.group == vrrp.Backup {
					if got := a.r.SyncStatus(); got != (vrrp.SyncStatus{State: vrrp.Backup, WantMaster: true, Seq: 1}) {
						t.Errorf("held owner: %+v", got)
					}
					if got := a.opsAfter(s, 0); got != "-[192.0.2.100/24]" {
						t.Errorf("address operations %q: an owner held in BACKUP removes its VIP", got)
					}
					if err := a.r.SyncTo(vrrp.Master, 2); err != nil {
						t.Fatal(err)
					}
				}
				s.sleepUntil(5 * time.Second)
				wantBecame(t, s, a, vrrp.Master, c.master...)
				a.stop()
			})
		})
	}
}

func TestSyncRouterArguments(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		a := s.member(baseConfig("a", 100), s.join("192.0.2.1"))
		for _, g := range []vrrp.State{vrrp.Stopped, vrrp.State(9)} {
			err := a.r.SyncTo(g, 1)
			var fe *vrrp.FieldError
			if !errors.Is(err, vrrp.ErrInvalid) || !errors.As(err, &fe) || fe.Object != "instance a" || fe.Field != "group" {
				t.Errorf("SyncTo(%v): %v, want a *FieldError for instance a, field group", g, err)
			}
		}
		a.r.SetFault("eth0", true)
		if got := a.r.SyncStatus(); got != (vrrp.SyncStatus{State: vrrp.Init, Faulted: true}) {
			t.Errorf("before Run: %+v, want INIT and faulted", got)
		}
		a.run()
		s.sleepUntil(time.Second)
		if got := a.r.SyncStatus(); got != (vrrp.SyncStatus{State: vrrp.Fault, Faulted: true}) {
			t.Errorf("running, in no group: %+v", got)
		}
		a.stop()
		if got := a.r.SyncStatus(); got.State != vrrp.Stopped {
			t.Errorf("after Run: %+v, want STOPPED", got)
		}
		if _, ok := <-a.r.SubscribeSync(1).C(); ok {
			t.Error("SubscribeSync after Run returned: the channel is open")
		}
	})
}
