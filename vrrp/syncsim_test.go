package vrrp_test

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// supervisor runs a SyncGroup over its member routers as vigil's
// Supervisor is to: the members' SyncStatus in, SyncTo and the group's
// transitions out, on one goroutine.
type supervisor struct {
	s     *sim
	name  string
	g     *vrrp.SyncGroup
	nodes []*node
	stopc chan struct{}
	done  chan struct{}

	mu    sync.Mutex
	trans []string // the group's transitions, "at:FROM->TO(reason)"
}

// supervise starts a sync group over nodes made by member: it tells each
// router the group's state before running it, then follows their
// statuses until stop.
func (s *sim) supervise(name string, nodes ...*node) *supervisor {
	s.t.Helper()
	cfg := vrrp.SyncGroupConfig{Name: name}
	for _, n := range nodes {
		cfg.Members = append(cfg.Members, vrrp.SyncMember{Name: n.name, Priority: n.r.Status().Priority})
	}
	g, err := vrrp.NewSyncGroup(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	sp := &supervisor{s: s, name: name, g: g, nodes: nodes, stopc: make(chan struct{}), done: make(chan struct{})}
	type update struct {
		i  int
		st vrrp.SyncStatus
	}
	updates := make(chan update)
	var fwd sync.WaitGroup
	for i, n := range nodes {
		g.Step(vrrp.SyncInput{Kind: vrrp.SyncUpdate, Member: i, Status: n.r.SyncStatus()}, nil)
		sub := n.r.SubscribeSync(1) // the latest is all the group needs
		fwd.Go(func() {
			for st := range sub.C() {
				updates <- update{i, st}
			}
		})
	}
	sp.apply(g.Step(vrrp.SyncInput{Kind: vrrp.SyncStart}, nil))
	for _, n := range nodes {
		n.run()
	}
	go func() { fwd.Wait(); close(updates) }()
	go func() {
		defer close(sp.done)
		stopping := sp.stopc
		var acts []vrrp.SyncAction
		for {
			select {
			case u, ok := <-updates:
				if !ok {
					return
				}
				acts = g.Step(vrrp.SyncInput{Kind: vrrp.SyncUpdate, Member: u.i, Status: u.st}, acts[:0])
			case <-stopping:
				stopping = nil
				acts = g.Step(vrrp.SyncInput{Kind: vrrp.SyncStop}, acts[:0])
				for _, n := range nodes {
					n.cancel()
				}
			}
			sp.apply(acts)
		}
	}()
	return sp
}

func (sp *supervisor) apply(acts []vrrp.SyncAction) {
	for _, a := range acts {
		switch a.Kind {
		case vrrp.SyncTell:
			if err := sp.nodes[a.Member].r.SyncTo(a.To, a.Seq); err != nil {
				sp.s.t.Errorf("%s: %v", sp.name, err)
			}
		case vrrp.SyncTransition:
			sp.mu.Lock()
			sp.trans = append(sp.trans, fmt.Sprintf("%v:%v->%v(%v)", time.Since(sp.s.t0), a.From, a.To, a.Reason))
			sp.mu.Unlock()
		}
	}
}

// stop stops the group, then its routers, and waits for them.
func (sp *supervisor) stop() {
	close(sp.stopc)
	<-sp.done
	for _, n := range sp.nodes {
		<-n.done
	}
}

func (sp *supervisor) history() string {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return strings.Join(sp.trans, " ")
}

var vip6 = netip.MustParsePrefix("2001:db8::100/64")

func config6(name string, prio uint8) vrrp.Config {
	return vrrp.Config{Name: name, VRID: 52, Version: vrrp.V3, Priority: prio, Interval: time.Second,
		VIPs: []netip.Prefix{vip6}}
}

// Two hosts, each with a sync group of an IPv4 (VRRPv2) and an IPv6
// (VRRPv3) instance, fail over together when the master's IPv4
// interface faults, and fail back together when it returns, at exact
// virtual times:
//
//	A4 150, A6 140 on host A; B4 100, B6 90 on host B.
//	v2 and v3 at 1 s: Master_Down_Interval = 3 s + Skew_Time,
//	Skew_Time = (256 - priority)/256 s.
func TestSyncSimFailoverTogether(t *testing.T) {
	const (
		skew90  = 648437500 * time.Nanosecond // 166/256 s
		down140 = 3453125 * time.Microsecond  // 3 s + 116/256 s
		fault   = 10 * time.Second            // A4's interface goes down
		back    = 20 * time.Second            // and up again
		end     = 30 * time.Second
		// B4 wants MASTER at fault+skew100 but waits for B6; A4 wants
		// it at back+down150 and waits for A6.
		bMaster = fault + skew90
		aAgain  = back + down140
		a4, a6  = "192.0.2.1", "fe80::1"
		b4, b6  = "192.0.2.2", "fe80::2"
	)
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		sn4, sn6 := s.sniff("192.0.2.9"), s.sniff("fe80::9")
		A4 := s.member(baseConfig("A4", 150), s.join(a4))
		A6 := s.member(config6("A6", 140), s.join(a6))
		B4 := s.member(baseConfig("B4", 100), s.join(b4))
		B6 := s.member(config6("B6", 90), s.join(b6))
		A := s.supervise("A", A4, A6)
		B := s.supervise("B", B4, B6)

		// A's members want MASTER at 3.4140625 s (A4, held) and
		// 3.453125 s (A6): the group becomes MASTER with its last.
		s.sleepUntil(fault)
		for _, n := range []*node{A4, A6} {
			wantBecame(t, s, n, vrrp.Master, down140)
		}
		for _, n := range []*node{B4, B6} {
			wantBecame(t, s, n, vrrp.Master)
		}

		// A4's interface faults: A4 resigns, and its group takes A6 to
		// FAULT with a priority 0 advert too. B4 would take over at
		// 10.609375 s but waits for B6, at 10.6484375 s.
		A4.r.SetFault("eth0", true)
		s.sleepUntil(back)
		wantBecame(t, s, A4, vrrp.Fault, fault)
		wantBecame(t, s, A6, vrrp.Fault, fault)
		for _, n := range []*node{B4, B6} {
			wantBecame(t, s, n, vrrp.Master, bMaster)
		}
		if got := fmt.Sprint(sn4.from(a4, fault, back)); got != "[10s:192.0.2.1:prio 0/1s/[192.0.2.100]]" {
			t.Errorf("A4 after its fault: %s", got)
		}
		if got := fmt.Sprint(sn6.from(a6, fault, back)); got != "[10s:fe80::1:prio 0/1s/[2001:db8::100]]" {
			t.Errorf("A6 after A4's fault: %s", got)
		}
		if first := sn4.from(b4, fault, back); len(first) == 0 || first[0].at != bMaster {
			t.Errorf("B4's first advert as master: %v, want at %v", first, bMaster)
		}
		if !B4.addrs.Has(vip) || !B6.addrs.Has(vip6) || A4.addrs.Has(vip) || A6.addrs.Has(vip6) {
			t.Error("the VIPs did not move to B together")
		}

		// A4's interface returns: A's group leaves FAULT with it, and
		// preempts B when A6 also wants MASTER; B leaves together, with
		// no priority 0.
		A4.r.SetFault("eth0", false)
		s.sleepUntil(end)
		for _, n := range []*node{A4, A6} {
			wantBecame(t, s, n, vrrp.Master, down140, aAgain)
			wantBecame(t, s, n, vrrp.Backup, 0, back)
		}
		for _, n := range []*node{B4, B6} {
			wantBecame(t, s, n, vrrp.Backup, 0, aAgain)
		}
		for _, h := range append(sn4.from(b4, back, end), sn6.from(b6, back, end)...) {
			if h.adv.Priority == 0 || h.at > aAgain {
				t.Errorf("B after A's return: %v", h)
			}
		}
		if !A4.addrs.Has(vip) || !A6.addrs.Has(vip6) || B4.addrs.Has(vip) || B6.addrs.Has(vip6) {
			t.Error("the VIPs did not move back to A together")
		}
		A.stop()
		B.stop()
		sn4.stop()
		sn6.stop()

		wantA := fmt.Sprintf("0s:INIT->BACKUP(startup) %v:BACKUP->MASTER(all-master) %v:MASTER->FAULT(member-fault)"+
			" %v:FAULT->BACKUP(fault-cleared) %v:BACKUP->MASTER(all-master) %v:MASTER->STOPPED(shutdown)",
			down140, fault, back, aAgain, end)
		if got := A.history(); got != wantA {
			t.Errorf("group A:\n got %s\nwant %s", got, wantA)
		}
		wantB := fmt.Sprintf("0s:INIT->BACKUP(startup) %v:BACKUP->MASTER(all-master) %v:MASTER->BACKUP(member-backup)"+
			" %v:BACKUP->STOPPED(shutdown)", bMaster, aAgain, end)
		if got := B.history(); got != wantB {
			t.Errorf("group B:\n got %s\nwant %s", got, wantB)
		}
		// The members' own transitions say the group moved them.
		for _, c := range []struct {
			n    *node
			want string
		}{
			{A4, fmt.Sprintf("A4 0s:INIT->BACKUP(startup) %v:BACKUP->MASTER(sync-group) %v:MASTER->FAULT(fault)"+
				" %v:FAULT->BACKUP(sync-group) %v:BACKUP->MASTER(sync-group) %v:MASTER->STOPPED(shutdown)", down140, fault, back, aAgain, end)},
			{A6, fmt.Sprintf("A6 0s:INIT->BACKUP(startup) %v:BACKUP->MASTER(sync-group) %v:MASTER->FAULT(sync-group)"+
				" %v:FAULT->BACKUP(sync-group) %v:BACKUP->MASTER(sync-group) %v:MASTER->STOPPED(shutdown)", down140, fault, back, aAgain, end)},
		} {
			if got := c.n.history(s); got != c.want {
				t.Errorf("\n got %s\nwant %s", got, c.want)
			}
		}
	})
}
