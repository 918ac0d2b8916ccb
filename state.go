package vigil

import (
	"net/netip"
	"time"

	"github.com/vigil-ha/vigil/ipvs"
)

// State is a snapshot of a Supervisor, ready for encoding/json.
type State struct {
	Instances      []InstanceState      `json:"instances"`
	SyncGroups     []GroupState         `json:"sync_groups,omitempty"`
	Trackers       []TrackerState       `json:"trackers,omitempty"`
	VirtualServers []VirtualServerState `json:"virtual_servers,omitempty"`
}

// InstanceState is one instance's state.
type InstanceState struct {
	Name      string `json:"name"`
	Interface string `json:"interface"`
	VRID      uint8  `json:"vrid"`
	State     string `json:"state"`
	// Priority is the configured priority, Effective the one advertised
	// (configured plus tracker weights, clamped to 1..254).
	Priority  uint8      `json:"priority"`
	Effective uint8      `json:"effective_priority"`
	Master    netip.Addr `json:"master,omitzero"`
	Since     time.Time  `json:"since,omitzero"`
	Group     string     `json:"sync_group,omitempty"`
	// Faults are the fault sources raised now ("interface:eth1",
	// "tracker:chk_http").
	Faults []string `json:"faults,omitempty"`
	// Tracks are the instance's trackers with what each contributes now.
	Tracks []TrackState `json:"tracks,omitempty"`
}

// TrackState is one tracker as an instance uses it.
type TrackState struct {
	// Source is "tracker:NAME" or "interface:NAME".
	Source string `json:"source"`
	Up     bool   `json:"up"`
	// Weight is the configured weight here; 0 makes a failure a FAULT.
	Weight int `json:"weight"`
	// Delta is what it adds to the priority now.
	Delta int  `json:"delta"`
	Fault bool `json:"fault"`
}

// GroupState is one sync group's state.
type GroupState struct {
	Name    string   `json:"name"`
	State   string   `json:"state"`
	Members []string `json:"members"`
}

// TrackerState is one named tracker's state.
type TrackerState struct {
	Name string `json:"name"`
	Up   bool   `json:"up"`
	// Weight is the value of a weighted file or check (its last weight).
	Weight    int       `json:"weight,omitempty"`
	WeightSet bool      `json:"weight_set,omitempty"`
	Err       string    `json:"error,omitempty"`
	Time      time.Time `json:"time,omitzero"`
}

// VirtualServerState is one IPVS service's state.
type VirtualServerState struct {
	Service   ipvs.ServiceKey `json:"-"`
	Name      string          `json:"service"`
	Group     string          `json:"group,omitempty"`
	Quorum    bool            `json:"quorum"`
	Suspended bool            `json:"suspended,omitempty"`
	// SorryServer is set while the sorry server serves.
	SorryServer bool              `json:"sorry_server,omitempty"`
	RealServers []RealServerState `json:"real_servers"`
}

// RealServerState is one real server's state.
type RealServerState struct {
	Dest ipvs.DestinationKey `json:"-"`
	Name string              `json:"address"`
	Up   bool                `json:"up"`
	// Weight is the weight in use (a dynamic weight, or the configured
	// one); a down server inhibited on failure is in the table with 0.
	Weight int `json:"weight"`
	// Err is the last failed check's error, empty when the last checks
	// passed.
	Err string `json:"error,omitempty"`
}
