package vigil_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestTrackFileInit: init_file writes its value when Run starts, to a
// missing file, or to an existing one with Overwrite only; the tracker
// then reads what was written (priority 100 + value × weight 2).
func TestTrackFileInit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing string // "" for no file
		init     vigil.FileInit
		want     string
		prio     uint8
	}{
		{"missing", "", vigil.FileInit{Value: 5}, "5\n", 110},
		{"missing, negative", "", vigil.FileInit{Value: -3, Overwrite: true}, "-3\n", 94},
		{"existing kept", "3\n", vigil.FileInit{Value: 5}, "3\n", 106},
		{"existing overwritten", "3\n", vigil.FileInit{Value: 5, Overwrite: true}, "5\n", 110},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			if tc.existing != "" {
				if err := os.WriteFile(path, []byte(tc.existing), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			synctest.Test(t, func(t *testing.T) {
				in := supInst("VI_1", 51, 100, vipX)
				in.Track = []vigil.Track{{Tracker: "f"}}
				cfg := vigil.Config{Instances: []vigil.Instance{in},
					Trackers: []vigil.Tracker{{Name: "f", Weight: 2, File: &vigil.TrackerFile{Path: path, Init: &tc.init}}}}
				m := startSup(t, vrrptest.NewHub(1), 1, cfg, "eth0")
				ctx, cancel := context.WithCancel(t.Context())
				m.run(ctx)
				time.Sleep(5 * time.Second)
				b, err := os.ReadFile(path)
				if err != nil || string(b) != tc.want {
					t.Errorf("file holds %q (%v), want %q", b, err, tc.want)
				}
				if st := m.s.State(); len(st.Instances) != 1 || st.Instances[0].Effective != tc.prio {
					t.Errorf("instances %+v, want effective priority %d", st.Instances, tc.prio)
				}
				stopAll(t, cancel, m)
			})
		})
	}
}
