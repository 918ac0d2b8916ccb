package vigil_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

var vipY = netip.MustParsePrefix("192.0.2.101/24")

// TestSupervisorReloadNoFlap: a master is reloaded with every class of
// change an instance keeps its identity through (a new name, VIP,
// priority, interval, tracker, notify setting, announcement timing):
// no transition, only the new VIP added and announced, the tracker
// applied; the backup's reload (the same VIPs) keeps it backup.
func TestSupervisorReloadNoFlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		ca := vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 200, vipX)}}
		cb := vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)}}
		a := startSup(t, hub, 1, ca)
		b := startSup(t, hub, 2, cb)
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		b.run(ctx)
		time.Sleep(5 * time.Second)
		a.events(vigil.EventInstance)
		b.events(vigil.EventInstance)
		anns := len(a.p.Announcer("eth0").All())

		var chk flag
		na := vigil.Config{Trackers: []vigil.Tracker{checkTracker("chk", &chk, -30)},
			Instances: []vigil.Instance{supInst("web", 51, 210, vipX, vipY)}}
		na.Instances[0].Track = []vigil.Track{{Tracker: "chk"}}
		na.Instances[0].VRRP.Interval = 2 * time.Second
		na.Instances[0].GARP.Repeat = 2
		na.Instances[0].Notify.SendDeleted = true
		ch, err := a.s.Reload(ctx, na)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ch.InstancesChanged, []string{"web"}) || ch.InstancesRenamed["VI_1"] != "web" ||
			len(ch.InstancesAdded)+len(ch.InstancesRemoved) != 0 || !slices.Equal(ch.TrackersAdded, []string{"chk"}) {
			t.Errorf("changes %+v", ch)
		}
		nb := cb
		nb.Instances = []vigil.Instance{supInst("VI_1", 51, 100, vipX, vipY)}
		nb.Instances[0].VRRP.Interval = 2 * time.Second
		if _, err := b.s.Reload(ctx, nb); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		chk.down.Store(true) // 210-30 = 180: still above B
		time.Sleep(5 * time.Second)
		if got := a.events(vigil.EventInstance); len(got) != 0 {
			t.Errorf("A's transitions after the reload: %q", got)
		}
		if got := b.events(vigil.EventInstance); len(got) != 0 {
			t.Errorf("B's transitions after the reload: %q", got)
		}
		all := a.p.Announcer("eth0").All()
		if len(all) != anns+1 || !slices.Equal(all[anns].Addrs, []netip.Addr{vipY.Addr()}) {
			t.Errorf("announcements after the reload %+v, want one of %v alone", all[anns:], vipY.Addr())
		}
		if !a.p.Addrs("eth0").Has(vipY) || b.p.Addrs("eth0").Has(vipY) {
			t.Error("Y not on A alone")
		}
		st := a.s.State()
		if st.Instances[0].Name != "web" || st.Instances[0].Effective != 180 || st.Instances[0].State != "MASTER" {
			t.Errorf("A's state %+v", st.Instances[0])
		}
		stopAll(t, cancel, a, b)
	})
}

// TestSupervisorReloadIdentity: changing an instance's VRID removes it
// (the master resigns with priority 0 and the backup takes over one
// Skew_Time later) and adds the new one; a removed instance is reported,
// and a bad configuration changes nothing.
func TestSupervisorReloadIdentity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		a := startSup(t, hub, 1, vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 200, vipX)}})
		b := startSup(t, hub, 2, vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)}})
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		b.run(ctx)
		time.Sleep(5 * time.Second)
		if _, err := a.s.Reload(ctx, vigil.Config{Instances: []vigil.Instance{supInst("", 0, 0)}}); err == nil {
			t.Fatal("a bad configuration was accepted")
		}
		ch, err := a.s.Reload(ctx, vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 61, 200, vipY)}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ch.InstancesRemoved, []string{"VI_1"}) || !slices.Equal(ch.InstancesAdded, []string{"VI_1"}) {
			t.Errorf("changes %+v", ch)
		}
		time.Sleep(5 * time.Second)
		// The old VI_1 stops at 5 s; the new one starts at 5 s and, alone
		// on VRID 61, is master 3.21875 s later. B takes VRID 51 at
		// 5 s + Skew_Time (156/256 s).
		wantA := []string{"5s VI_1 MASTER->STOPPED 200", "5s VI_1 INIT->BACKUP 200", "8.21875s VI_1 BACKUP->MASTER 200"}
		wantB := []string{"5.609375s VI_1 BACKUP->MASTER 100"}
		if got := a.events(vigil.EventInstance)[2:]; !sameEvents(got, wantA) {
			t.Errorf("A: %q, want %q", got, wantA)
		}
		if got := b.events(vigil.EventInstance)[1:]; !slices.Equal(got, wantB) {
			t.Errorf("B: %q, want %q", got, wantB)
		}
		st := a.s.State()
		if len(st.Instances) != 1 || st.Instances[0].VRID != 61 || st.Instances[0].State != "MASTER" {
			t.Errorf("A's state %+v", st.Instances)
		}
		if !a.p.Addrs("eth0").Has(vipY) || a.p.Addrs("eth0").Has(vipX) || !b.p.Addrs("eth0").Has(vipX) {
			t.Error("addresses not where they belong")
		}
		stopAll(t, cancel, a, b)
		if _, err := a.s.Reload(t.Context(), vigil.Config{}); err != vigil.ErrStopped {
			t.Errorf("Reload after Run: %v, want ErrStopped", err)
		}
	})
}

var _ = vrrp.Master

// TestSupervisorStatic: static addresses are held while Run runs, whatever
// the VRRP state, a reload adds and removes only the difference, and they
// are removed when Run returns.
func TestSupervisorStatic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s1 := netip.MustParsePrefix("198.51.100.1/24")
		s2 := netip.MustParsePrefix("198.51.100.2/24")
		s3 := netip.MustParsePrefix("203.0.113.3/24")
		cfg := vigil.Config{Static: vigil.Static{Addresses: []vigil.StaticAddress{
			{Interface: "eth0", Prefix: s1}, {Interface: "eth0", Prefix: s2}}}}
		a := startSup(t, vrrptest.NewHub(1), 1, cfg, "eth0", "eth1")
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		synctest.Wait()
		if !a.p.Addrs("eth0").Has(s1) || !a.p.Addrs("eth0").Has(s2) {
			t.Fatal("static addresses not added")
		}
		ops := len(a.p.Addrs("eth0").Ops())
		next := vigil.Config{Static: vigil.Static{Addresses: []vigil.StaticAddress{
			{Interface: "eth0", Prefix: s1}, {Interface: "eth1", Prefix: s3}}}}
		if _, err := a.s.Reload(ctx, next); err != nil {
			t.Fatal(err)
		}
		if !a.p.Addrs("eth0").Has(s1) || a.p.Addrs("eth0").Has(s2) || !a.p.Addrs("eth1").Has(s3) {
			t.Error("static addresses not reloaded")
		}
		if got := a.p.Addrs("eth0").Ops()[ops:]; len(got) != 1 || got[0].Add || !slices.Equal(got[0].VIPs, []netip.Prefix{s2}) {
			t.Errorf("eth0 operations on reload %+v, want one removal of %v", got, s2)
		}
		stopAll(t, cancel, a)
		if a.p.Addrs("eth0").Has(s1) || a.p.Addrs("eth1").Has(s3) {
			t.Error("static addresses left after Run")
		}
	})
}

// TestSupervisorReloadTrackerKept: a failing tracker reloaded with the
// same checker and a new weight and policy keeps its state (it is not
// started again as passing): the new weight applies at once.
func TestSupervisorReloadTrackerKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var chk flag
		chk.down.Store(true)
		cfg := vigil.Config{Trackers: []vigil.Tracker{checkTracker("chk", &chk, -10)},
			Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)}}
		cfg.Instances[0].Track = []vigil.Track{{Tracker: "chk"}}
		a := startSup(t, vrrptest.NewHub(1), 1, cfg)
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		time.Sleep(5 * time.Second)
		if p := a.s.State().Instances[0].Effective; p != 90 {
			t.Fatalf("priority %d before the reload, want 90", p)
		}
		next := cfg
		next.Trackers = []vigil.Tracker{checkTracker("chk", &chk, -30)}
		next.Trackers[0].Check.Policy.Interval = 10 * time.Second
		ch, err := a.s.Reload(ctx, next)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ch.TrackersChanged, []string{"chk"}) || len(ch.TrackersReplaced) != 0 {
			t.Errorf("changes %+v", ch)
		}
		if p := a.s.State().Instances[0].Effective; p != 70 {
			t.Errorf("priority %d after the reload, want 70 (the tracker still failing)", p)
		}
		stopAll(t, cancel, a)
	})
}

// TestSupervisorClose: a Supervisor that never runs releases its
// platform with Close; Run after Close returns ErrRan.
func TestSupervisorClose(t *testing.T) {
	p := newMemPlatform(t, vrrptest.NewHub(1), 1)
	s, err := vigil.New(p, vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A closed Conn reads an error at once (an open one would wait).
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if _, _, err := p.Conn("VI_1").ReadAdvert(ctx, make([]byte, 64)); err == nil || ctx.Err() != nil {
		t.Errorf("the instance's Conn is still open: %v", err)
	}
	if err := s.Run(t.Context()); err != vigil.ErrRan {
		t.Errorf("Run after Close: %v, want ErrRan", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
