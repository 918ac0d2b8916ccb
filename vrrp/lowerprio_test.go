package vrrp_test

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// lowerAdvert is a priority prio VRRPv2 advert for baseConfig's VRID and
// VIP from src to 224.0.0.18.
func lowerAdvert(t *testing.T, prio uint8, src netip.Addr) []byte {
	t.Helper()
	a := vrrp.Advertisement{Version: vrrp.V2, VRID: 51, Priority: prio, Interval: time.Second, Addrs: []netip.Addr{vip.Addr()}}
	b, err := a.AppendMarshal(nil, src, vrrp.GroupV4)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A master that hears a lower priority master announces through
// LowerPrioAnnouncer (keepalived garp_lower_prio_*), at the advert's
// time; its own mastership's announcement is a plain one. The advert is
// reported once to SubscribeLowerPrio (notify_master_rx_lower_pri).
func TestRouterLowerPrioAnnounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		a := s.start(baseConfig("A", 200), s.join("192.0.2.2"))
		sub := a.r.SubscribeLowerPrio(4)
		time.Sleep(5 * time.Second) // master at 3.21875 s
		src := netip.MustParseAddr("192.0.2.1")
		a.conn.Inject(lowerAdvert(t, 100, src), vrrp.PacketInfo{Src: src, Dst: vrrp.GroupV4, TTL: 255, Time: time.Now()})
		synctest.Wait()
		a.stop()
		var reports []vrrp.LowerPrioAdvert
		for e := range sub.C() { // closed when Run returns
			reports = append(reports, e)
		}
		want := vrrp.LowerPrioAdvert{Instance: "A", Time: s.t0.Add(5 * time.Second), Src: src, Priority: 100, Ours: 200}
		if len(reports) != 1 || reports[0] != want {
			t.Errorf("reports %+v, want [%+v]", reports, want)
		}
		got := a.ann.All()
		wantAnn := []struct {
			at    time.Duration
			lower bool
		}{{3218750 * time.Microsecond, false}, {5 * time.Second, true}}
		if len(got) != len(wantAnn) {
			t.Fatalf("%d announcements, want %d", len(got), len(wantAnn))
		}
		for i, w := range wantAnn {
			if at := got[i].Time.Sub(s.t0); at != w.at || got[i].LowerPrio != w.lower {
				t.Errorf("announcement %d at %v lower %t, want at %v lower %t", i, at, got[i].LowerPrio, w.at, w.lower)
			}
		}
	})
}
