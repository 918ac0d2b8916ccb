package vrrp

import (
	"fmt"
	"testing"
)

// keepalived's weights for trackers on sync-group members
// (vrrp_complete_instance: "ignoring ... due to SYNC group"), one row per
// rule.
func TestSyncMemberTrackerWeight(t *testing.T) {
	const drop = "dropped"
	cases := []struct {
		name   string
		cfg    SyncGroupConfig
		member int
		kind   TrackerKind
		weight int
		want   string // the weight kept, or dropped
	}{
		{"unweighted_interface_kept", groupOf(100, 100), 0, TrackInterface, 0, "0"},
		{"unweighted_script_kept", groupOf(100, 100), 0, TrackScript, 0, "0"},
		{"weighted_interface_becomes_fault", groupOf(100, 100), 0, TrackInterface, -20, "0"},
		{"weighted_script_dropped", groupOf(100, 100), 0, TrackScript, -20, drop},
		{"file_default_weight_becomes_fault", groupOf(100, 100), 0, TrackFile, 1, "0"},
		{"file_other_weight_dropped", groupOf(100, 100), 0, TrackFile, -10, drop},
		{"weighted_bfd_dropped", groupOf(100, 100), 0, TrackBFD, 30, drop},
		{"weighted_process_keeps_its_weight", groupOf(100, 100), 0, TrackProcess, -30, "-30"},
		{"tracking_weight_keeps_interface", withTW(groupOf(100, 100)), 1, TrackInterface, -20, "-20"},
		{"tracking_weight_keeps_script", withTW(groupOf(100, 100)), 1, TrackScript, 15, "15"},
		{"tracking_weight_keeps_file", withTW(groupOf(100, 100)), 1, TrackFile, 1, "1"},
		{"tracking_weight_keeps_bfd", withTW(groupOf(100, 100)), 1, TrackBFD, -5, "-5"},
		{"owner_weighted_interface_becomes_fault", groupOf(255, 100), 0, TrackInterface, -20, "0"},
		{"owner_tracking_weight_interface_dropped", withTW(groupOf(255, 100)), 0, TrackInterface, -20, drop},
		{"owner_tracking_weight_script_dropped", withTW(groupOf(255, 100)), 0, TrackScript, -20, drop},
		{"owner_tracking_weight_file_default_becomes_fault", withTW(groupOf(255, 100)), 0, TrackFile, 1, "0"},
		{"owner_tracking_weight_non_owner_keeps", withTW(groupOf(255, 100)), 1, TrackScript, -20, "-20"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, ok := c.cfg.MemberTrackerWeight(c.member, c.kind, c.weight)
			got := fmt.Sprint(w)
			if !ok {
				got = drop
			}
			if got != c.want {
				t.Errorf("%v weight %d on member %d: %s, want %s", c.kind, c.weight, c.member, got, c.want)
			}
		})
	}
}

func withTW(c SyncGroupConfig) SyncGroupConfig { c.TrackingWeight = true; return c }

// keepalived's sync_group_tracking_init: a group's tracker applies its
// weight to every member, sync_group_tracking_weight or not, unless a
// member is an address owner.
func TestSyncGroupTrackerWeight(t *testing.T) {
	cases := []struct {
		name   string
		cfg    SyncGroupConfig
		weight int
		want   int
	}{
		{"weight_applies_to_members", groupOf(100, 150), -20, -20},
		{"with_tracking_weight_too", withTW(groupOf(100, 150)), 25, 25},
		{"unweighted_stays_fault", groupOf(100, 150), 0, 0},
		{"an_owner_member_makes_it_a_fault_tracker", groupOf(100, 255), -20, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.cfg.GroupTrackerWeight(c.weight); got != c.want {
				t.Errorf("GroupTrackerWeight(%d) = %d, want %d", c.weight, got, c.want)
			}
		})
	}
}
