//go:build linux

package vigil_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/notify"
)

// TestSupervisorFIFOStatesOnReload: with fifo_write_vrrp_states_on_reload
// a reload that changes nothing writes every group's and instance's
// state to the FIFO, groups first, in keepalived's lines; without it,
// nothing.
func TestSupervisorFIFOStatesOnReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fifo := filepath.Join(t.TempDir(), "fifo")
		var chk flag
		chk.down.Store(true)
		mk := func(name string, vrid, prio uint8) vigil.Instance {
			return supInst(name, vrid, prio, netip.MustParsePrefix(fmt.Sprintf("192.0.2.%d/24", vrid)))
		}
		faulty := mk("VI_3", 13, 100)
		faulty.Track = []vigil.Track{{Tracker: "chk"}}
		cfg := vigil.Config{Global: vigil.Global{VRRPNotifyFIFO: &notify.FIFOConfig{Path: fifo}},
			Trackers:   []vigil.Tracker{checkTracker("chk", &chk, 0)},
			Instances:  []vigil.Instance{mk("VI_1", 11, 200), mk("VI_2", 12, 100), faulty},
			SyncGroups: []vigil.SyncGroup{{Name: "G", Members: []string{"VI_1"}}}}
		s, r, sub, ctx, cancel, done := runWithFIFO(t, cfg, fifo)
		defer cancel()
		want := map[string]string{"VI_1": "MASTER", "VI_2": "MASTER", "VI_3": "FAULT"}
		got := map[string]string{}
		for fmt.Sprint(got) != fmt.Sprint(want) {
			select {
			case e := <-sub.C():
				if e.Kind == vigil.EventInstance {
					got[e.Instance] = e.To.String()
				}
			case <-time.After(time.Minute):
				t.Fatalf("states %v, want %v", got, want)
			}
		}
		fifoLines(r) // what the start wrote
		reload := func(on bool) {
			t.Helper()
			next := cfg
			next.Global.FIFOStatesOnReload = on
			if _, err := s.Reload(ctx, next); err != nil {
				t.Fatal(err)
			}
		}
		// Read the FIFO once after both (an empty FIFO's read would
		// wait): the first reload must have added nothing.
		reload(false)
		synctest.Wait()
		reload(true)
		wantLines := []string{`GROUP "G" MASTER 0`, `INSTANCE "VI_1" MASTER 200`, `INSTANCE "VI_2" MASTER 100`, `INSTANCE "VI_3" FAULT 100`}
		if lines := fifoLines(r); !slices.Equal(lines, wantLines) {
			t.Errorf("after a reload without and one with fifo_write_vrrp_states_on_reload: %q, want %q", lines, wantLines)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(fifo); !os.IsNotExist(err) {
			t.Errorf("fifo left: %v", err)
		}
	})
}
