package vigil

import (
	"fmt"
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

// MarshalText encodes k as its name ("real server up"), for JSON.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes a name MarshalText wrote.
func (k *EventKind) UnmarshalText(b []byte) error {
	for x := EventInstance; x <= EventQuorumDown; x++ {
		if x.String() == string(b) {
			*k = x
			return nil
		}
	}
	return fmt.Errorf("vigil: unknown event kind %q", b)
}

// An Event is one change the Supervisor reports to its subscriptions.
// Kind says which fields are set. It encodes to JSON with names for its
// kinds and states.
type Event struct {
	Kind EventKind `json:"kind"`
	// Time is when it happened: a router's transition, the end of the
	// check that decided a tracker's change, the IPVS write that applied
	// a real server's or quorum's.
	Time time.Time `json:"time"`

	Instance string      `json:"instance,omitempty"` // EventInstance, EventPriority
	Group    string      `json:"group,omitempty"`    // EventGroup
	From     vrrp.State  `json:"from,omitzero"`      // EventInstance, EventGroup (INIT is left out of JSON)
	To       vrrp.State  `json:"to,omitzero"`
	Reason   vrrp.Reason `json:"reason,omitzero"`
	Priority uint8       `json:"priority,omitempty"` // EventInstance, EventPriority: the effective priority
	Master   netip.Addr  `json:"master,omitzero"`

	Tracker string `json:"tracker,omitempty"` // EventTracker
	Up      bool   `json:"up,omitempty"`      // EventTracker
	Weight  int    `json:"weight,omitempty"`  // EventTracker: a weighted tracker's current weight
	Err     string `json:"error,omitempty"`   // EventTracker, EventServerDown: the last check error

	Service ipvs.ServiceKey     `json:"-"` // EventServer*, EventQuorum*
	Dest    ipvs.DestinationKey `json:"-"` // EventServer*
	// ServiceName and DestName are Service and Dest as text, for JSON.
	ServiceName string `json:"service,omitempty"`
	DestName    string `json:"real_server,omitempty"`
}
