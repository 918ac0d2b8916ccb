package vrrp_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// Timers.AdvertGrid: a master's first advert goes at once and the second
// an interval later, as without a grid; the third is moved back onto the
// grid (at most a tenth of the interval is used), all later ones an
// interval apart. Without a grid they keep the phase of the first.
func TestAdvertGrid(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name     string
		interval time.Duration
		grid     time.Duration
		want     []time.Duration // advert times after the router's start at t0+3ms
	}{
		{"none", 100 * ms, 0, []time.Duration{3 * ms, 103 * ms, 203 * ms, 303 * ms, 403 * ms}},
		{"negative", 100 * ms, -ms, []time.Duration{3 * ms, 103 * ms, 203 * ms, 303 * ms, 403 * ms}},
		{"10ms", 100 * ms, 10 * ms, []time.Duration{3 * ms, 103 * ms, 200 * ms, 300 * ms, 400 * ms}},
		{"2ms", 100 * ms, 2 * ms, []time.Duration{3 * ms, 103 * ms, 202 * ms, 302 * ms, 402 * ms}},
		{"capped at a tenth", 50 * ms, 20 * ms, []time.Duration{3 * ms, 53 * ms, 100 * ms, 150 * ms, 200 * ms}},
		{"1s", time.Second, 10 * ms, []time.Duration{3 * ms, 1003 * ms, 2000 * ms, 3000 * ms, 4000 * ms}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				t0 := time.Now() // the bubble's epoch, 2000-01-01 00:00 UTC: on every grid
				cfg := baseConfig("r", 255)
				cfg.Version, cfg.Interval = vrrp.V3, c.interval
				r, hub := solo(t, cfg)
				peer, _ := hub.Join(peerAddr)
				if err := r.SetTimers(vrrp.Timers{AdvertGrid: c.grid}); err != nil {
					t.Fatal(err)
				}
				time.Sleep(3 * ms)
				stop := goRun(r)
				b := make([]byte, 100)
				var got []time.Duration
				for range c.want {
					if _, _, err := peer.ReadAdvert(context.Background(), b); err != nil {
						t.Fatal(err)
					}
					got = append(got, time.Since(t0))
				}
				if err := stop(); err != nil {
					t.Fatal(err)
				}
				for i := range c.want {
					if got[i] != c.want[i] {
						t.Fatalf("adverts at %v, want %v", got, c.want)
					}
				}
			})
		})
	}
}
