package netlink

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

// TestAnnounceLowerPrio checks the schedule of AnnounceLowerPrio: the
// garp_lower_prio_* knobs, their defaults (the master timing's repeat and
// second delay) and that neither the initial delay nor refreshes apply.
func TestAnnounceLowerPrio(t *testing.T) {
	base := AnnounceTiming{InitialDelay: time.Second, Repeat: 2, SecondDelay: 3 * time.Second,
		RefreshInterval: time.Second, RefreshRepeat: 1}
	for _, tc := range []struct {
		name string
		rep  int
		del  time.Duration
		want []time.Duration // frames' send times
	}{
		{"defaults", 0, 0, []time.Duration{0, 0, 3 * time.Second, 3 * time.Second}},
		{"own", 3, 2 * time.Second, []time.Duration{0, 0, 0, 2 * time.Second, 2 * time.Second, 2 * time.Second}},
		{"no second", 1, -1, []time.Duration{0}},
		{"off", -1, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fs := &fakeSender{start: time.Now()}
				tm := base
				tm.LowerPrioRepeat, tm.LowerPrioDelay = tc.rep, tc.del
				a := newAnnouncer("eth0", testMAC, false, tm, fs, nil)
				if err := a.announceLowerPrio(t.Context(), []netip.Addr{netip.MustParseAddr("192.0.2.100")}); err != nil {
					t.Fatal(err)
				}
				a.wait() // no refresh: the schedule ends by itself
				got := fs.frames()
				if len(got) != len(tc.want) {
					t.Fatalf("sent %d frames, want %d", len(got), len(tc.want))
				}
				for i, f := range got {
					if f.at != tc.want[i] {
						t.Errorf("frame %d at %v, want %v", i, f.at, tc.want[i])
					}
				}
				if err := a.close(); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
