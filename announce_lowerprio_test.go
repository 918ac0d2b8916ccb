package vigil

import (
	"net/netip"
	"testing"

	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// The fence passes a lower-priority announcement on as one, so that
// garp_lower_prio_* reach the platform's announcer.
func TestFencedAnnouncerLowerPrio(t *testing.T) {
	rec := &vrrptest.Announcer{}
	f := newFence()
	a := fencedAnnouncer{rec, f}
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.100")}
	if err := a.AnnounceLowerPrio(t.Context(), addrs); err != nil {
		t.Fatal(err)
	}
	if err := a.Announce(t.Context(), addrs); err != nil {
		t.Fatal(err)
	}
	got := rec.All()
	if len(got) != 2 || !got[0].LowerPrio || got[1].LowerPrio {
		t.Fatalf("%+v, want a lower-priority announcement then a plain one", got)
	}
	f.close()
	if err := a.AnnounceLowerPrio(t.Context(), addrs); err == nil {
		t.Error("announced through a closed fence")
	}
}
