package vigil

import (
	"net/netip"
	"time"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/vrrp"
)

//go:generate go tool stringer -type=EventKind -linecomment

// EventKind is what an Event reports. The zero value is invalid.
type EventKind uint8

// Event kinds.
const (
	// EventInstance: an instance changed state (Instance, From, To,
	// Reason, Priority).
	EventInstance EventKind = iota + 1 // instance
	// EventGroup: a sync group changed state (Group, From, To).
	EventGroup // group
	// EventPriority: an instance's effective priority changed
	// (Instance, Priority).
	EventPriority // priority
	// EventTracker: a tracker passed or failed (Tracker, Up, Err);
	// for a weighted file or check, its weight changed (Weight).
	EventTracker // tracker
	// EventServerUp, EventServerDown: a real server went up or down
	// (Service, Dest, Err).
	EventServerUp   // real server up
	EventServerDown // real server down
	// EventQuorumUp, EventQuorumDown: a virtual server gained or lost
	// quorum (Service).
	EventQuorumUp   // quorum up
	EventQuorumDown // quorum down
)

// An Event is one change the Supervisor reports to its subscriptions.
// Kind says which fields are set.
type Event struct {
	Kind EventKind
	Time time.Time

	Instance string     // EventInstance, EventPriority
	Group    string     // EventGroup
	From, To vrrp.State // EventInstance, EventGroup
	Reason   vrrp.Reason
	Priority uint8 // EventInstance, EventPriority: the effective priority
	Master   netip.Addr

	Tracker string // EventTracker
	Up      bool   // EventTracker
	Weight  int    // EventTracker: a weighted tracker's current weight
	Err     string // EventTracker, EventServerDown: the last check error

	Service ipvs.ServiceKey     // EventServer*, EventQuorum*
	Dest    ipvs.DestinationKey // EventServer*
}
