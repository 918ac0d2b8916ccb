package vrrp

// TrackerKind is a kind of keepalived tracker, for the weight rules of
// sync groups (SyncGroupConfig.MemberTrackerWeight).
type TrackerKind uint8

// Tracker kinds. The zero value is invalid.
const (
	_              TrackerKind = iota
	TrackInterface             // track_interface
	TrackScript                // track_script
	TrackFile                  // track_file
	TrackProcess               // track_process
	TrackBFD                   // track_bfd
)

// Weights and faults of sync-group members, as keepalived has them: a
// tracker of weight 0 is a fault tracker (its failure puts the instance,
// and so its group, in FAULT: Router.SetFault); any other weight moves
// the priority (Router.Track). The caller turns the configuration into
// Track and SetFault calls with these two rules; the group itself only
// sees the members' faults (SyncStatus.Faulted).

// MemberTrackerWeight is what keepalived makes of a tracker of the given
// kind and weight configured on member i itself (vrrp_complete_instance):
// the weight it keeps, 0 making it a fault tracker, and false if it is
// dropped (keepalived logs "ignoring ... due to SYNC group").
//
// With TrackingWeight (sync_group_tracking_weight) a non-owner member
// keeps every weight. Otherwise, and for an address owner:
//
//   - track_interface: a weight becomes 0 (the interface going down is a
//     FAULT, a weight never applies); an owner in a group with
//     TrackingWeight drops it instead.
//   - track_script, track_bfd: a weighted one is dropped.
//   - track_file: weight 1 (its default, or given) becomes 0; any other
//     weight is dropped.
//   - track_process keeps its weight: keepalived's rule leaves it out
//     (an owner's priority ignores weights anyway).
//
// Unweighted trackers (weight 0) are always kept.
func (c *SyncGroupConfig) MemberTrackerWeight(i int, kind TrackerKind, weight int) (int, bool) {
	owner := c.Members[i].Priority == PriorityOwner
	if weight == 0 || (c.TrackingWeight && !owner) || kind == TrackProcess {
		return weight, true
	}
	switch kind {
	case TrackInterface:
		if c.TrackingWeight { // an owner
			return 0, false
		}
		return 0, true
	case TrackFile:
		if weight == 1 {
			return 0, true
		}
	}
	return 0, false
}

// GroupTrackerWeight is the weight a tracker configured on the group
// (its track_interface, track_script, track_file, track_process or
// track_bfd) applies to every member, each on its own priority, as if
// configured on each (sync_group_tracking_init): its own weight,
// TrackingWeight or not, or 0 (a fault tracker) if any member is an
// address owner. The same tracker configured on a member and on its
// group has the group's weight, unless the member's is 0.
func (c *SyncGroupConfig) GroupTrackerWeight(weight int) int {
	for _, m := range c.Members {
		if m.Priority == PriorityOwner {
			return 0
		}
	}
	return weight
}
