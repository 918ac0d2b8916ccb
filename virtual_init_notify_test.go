package vigil

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestVirtualServerInitNotifies: with RSInitNotifies, the real servers up
// at start (checked and passing, or without checks) report UP at once,
// with their FIFO line and NotifyUp; one with Alpha does not (it comes
// up after Rise checks, with its usual notification). Without it,
// nothing is reported at start.
func TestVirtualServerInitNotifies(t *testing.T) {
	for _, on := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			rs1 := realServer("10.0.0.1:80", 1, &fake{})
			rs1.NotifyUp = script("/bin/rs1-up")
			rs3 := realServer("10.0.0.3:80", 3, &fake{})
			rs3.Alpha = true
			cfg := &Config{Global: Global{RSInitNotifies: on},
				VirtualServers: []VirtualServer{virtualServer("192.0.2.10:80", rs1, realServer("10.0.0.2:80", 2), rs3)}}
			r := newRig(t, cfg)
			events, notes := r.em.take()
			slices.Sort(events)
			slices.Sort(notes)
			if !on {
				wantStrings(t, "events", events)
				wantStrings(t, "notes", notes)
			} else {
				wantStrings(t, "events", events,
					"real server up tcp 192.0.2.10:80 10.0.0.1:80",
					"real server up tcp 192.0.2.10:80 10.0.0.2:80")
				wantStrings(t, "notes", notes,
					"rs 10.0.0.1:80 [192.0.2.10]:tcp:80 | RS [10.0.0.1]:tcp:80 [192.0.2.10]:tcp:80 UP | /bin/rs1-up",
					"rs 10.0.0.2:80 [192.0.2.10]:tcp:80 | RS [10.0.0.2]:tcp:80 [192.0.2.10]:tcp:80 UP |")
			}
			r.at(10 * time.Second)
			events, _ = r.em.take()
			wantStrings(t, "events after Rise", events, "real server up tcp 192.0.2.10:80 10.0.0.3:80")
			if err := r.stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
