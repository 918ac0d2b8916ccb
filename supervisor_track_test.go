package vigil

import (
	"fmt"
	"slices"
	"testing"

	"github.com/vigil-ha/vigil/process"
	"github.com/vigil-ha/vigil/vrrp"
)

// TestTrackEffect is keepalived's arithmetic of one tracked source
// (vrrp_track.c), row by row.
func TestTrackEffect(t *testing.T) {
	for _, c := range []struct {
		file      bool
		weight    int
		reverse   bool
		up        bool
		value     int
		delta     int
		wantFault bool
	}{
		// Checks, processes, interfaces.
		{weight: 0, up: true},
		{weight: 0, up: false, wantFault: true},
		{weight: 0, reverse: true, up: true, wantFault: true},
		{weight: 0, reverse: true, up: false},
		{weight: 20, up: true, delta: 20},
		{weight: 20, up: false},
		{weight: -20, up: true},
		{weight: -20, up: false, delta: -20},
		{weight: 20, reverse: true, up: true, delta: -20},
		{weight: 20, reverse: true, up: false},
		{weight: -20, reverse: true, up: false, delta: 20},
		{weight: -20, reverse: true, up: true},
		// Files: value × weight, clamped at 253; -254 or less faults.
		{file: true, weight: 1, up: true, value: 7, delta: 7},
		{file: true, weight: 10, up: true, value: -3, delta: -30},
		{file: true, weight: 10, reverse: true, up: true, value: 3, delta: -30},
		{file: true, weight: 100, up: true, value: 3, delta: 253},
		{file: true, weight: 1, up: true, value: -254, wantFault: true},
		{file: true, weight: 2, up: true, value: -127, wantFault: true},
		{file: true, weight: 2, up: true, value: -126, delta: -252},
		{file: true, weight: 0, up: true, value: 0},
		{file: true, weight: 0, up: true, value: 5, wantFault: true},
		{file: true, weight: 0, reverse: true, up: true, value: 0, wantFault: true},
		{file: true, weight: 0, reverse: true, up: true, value: 5},
		{file: true, weight: 1, up: false, wantFault: true}, // unreadable
	} {
		d, f := trackEffect(c.file, c.weight, c.reverse, c.up, c.value)
		if d != c.delta || f != c.wantFault {
			t.Errorf("%+v: delta %d fault %v", c, d, f)
		}
	}
}

// TestBindings: what each instance tracks after keepalived's sync group
// rules, with the weights that apply.
func TestBindings(t *testing.T) {
	cfg := Config{
		Trackers: []Tracker{
			{Name: "s0", Check: &TrackerCheck{}},
			{Name: "s20", Check: &TrackerCheck{}, Weight: 20},
			{Name: "f1", File: &TrackerFile{Path: "/x"}, Weight: 1},
			{Name: "f5", File: &TrackerFile{Path: "/y"}, Weight: 5},
			{Name: "p10", Process: &process.Spec{Process: "x"}, Weight: -10, Reverse: true},
		},
		Instances: []Instance{
			{InstanceConfig: InstanceConfig{Interface: "eth0", VRRP: vrrp.Config{Name: "alone", Priority: 100}},
				Track:           []Track{{Tracker: "s0"}, {Tracker: "s20"}, {Tracker: "s20", Weight: -5, WeightSet: true}, {Tracker: "f5"}},
				TrackInterfaces: []TrackInterface{{Interface: "eth1", Weight: 10}}},
			{InstanceConfig: InstanceConfig{Interface: "eth0", VRRP: vrrp.Config{Name: "m1", Priority: 100}},
				Track:           []Track{{Tracker: "s0"}, {Tracker: "s20"}, {Tracker: "f1"}, {Tracker: "f5"}, {Tracker: "p10"}},
				TrackInterfaces: []TrackInterface{{Interface: "eth1", Weight: 10}}},
			{InstanceConfig: InstanceConfig{Interface: "eth0", VRRP: vrrp.Config{Name: "m2", Priority: 100}},
				Track: []Track{{Tracker: "s20", Weight: 0, WeightSet: true}}, DontTrackPrimary: true},
		},
		SyncGroups: []SyncGroup{{Name: "G", Members: []string{"m1", "m2"},
			Track: []Track{{Tracker: "s20"}}}},
	}
	show := func(bs []binding) []string {
		var out []string
		for _, b := range bs {
			s := fmt.Sprintf("%s w%d", b.source, b.weight)
			if b.reverse {
				s += " rev"
			}
			out = append(out, s)
		}
		return out
	}
	for i, want := range []struct {
		binds   []string
		dropped []string
	}{
		// The last Track of a tracker wins; the own interface is a
		// fault source.
		{binds: []string{"tracker:s0 w0", "tracker:s20 w-5", "tracker:f5 w5", "interface:eth1 w10", "interface:eth0 w0"}},
		// A member: weighted script dropped, file weight 1 → 0, file
		// weight 5 dropped, process kept, interface weight → 0; the
		// group's s20 applies with its weight.
		{binds: []string{"tracker:s0 w0", "tracker:f1 w0", "tracker:p10 w-10 rev", "interface:eth1 w0", "tracker:s20 w20", "interface:eth0 w0"},
			dropped: []string{"s20", "f5"}},
		// A member's weight 0 wins over the group's weight.
		{binds: []string{"tracker:s20 w0"}},
	} {
		b, d := bindings(&cfg, i)
		if got := show(b); !slices.Equal(got, want.binds) {
			t.Errorf("%s: %q\nwant %q", cfg.Instances[i].VRRP.Name, got, want.binds)
		}
		if !slices.Equal(d, want.dropped) {
			t.Errorf("%s: dropped %q, want %q", cfg.Instances[i].VRRP.Name, d, want.dropped)
		}
	}
}
