package bgp

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/vigil-ha/vigil"
)

// TestGates: a gate is open while every condition it names holds; a name
// the state lacks closes it.
func TestGates(t *testing.T) {
	st := vigil.State{
		Instances:      []vigil.InstanceState{{Name: "VI_1", State: "MASTER"}, {Name: "VI_2", State: "BACKUP"}},
		Trackers:       []vigil.TrackerState{{Name: "up", Up: true}, {Name: "down"}},
		VirtualServers: []vigil.VirtualServerState{{Name: "tcp 203.0.113.10:80", Quorum: true}, {Name: "tcp 203.0.113.10:443"}},
	}
	p := netip.MustParsePrefix("203.0.113.10/32")
	vips := []VIP{
		{Prefix: p},
		{Prefix: p, Instance: "VI_1"},
		{Prefix: p, Instance: "VI_2"},
		{Prefix: p, Instance: "VI_3"},
		{Prefix: p, Trackers: []string{"up"}},
		{Prefix: p, Trackers: []string{"up", "down"}},
		{Prefix: p, Trackers: []string{"missing"}},
		{Prefix: p, VirtualServers: []string{"tcp 203.0.113.10:80"}},
		{Prefix: p, VirtualServers: []string{"tcp 203.0.113.10:443"}},
		{Prefix: p, Instance: "VI_1", Trackers: []string{"up"}, VirtualServers: []string{"tcp 203.0.113.10:80"}},
		{Prefix: p, Instance: "VI_2", Trackers: []string{"up"}, VirtualServers: []string{"tcp 203.0.113.10:80"}},
	}
	want := []bool{true, true, false, false, true, false, false, true, false, true, false}
	if got := gates(vips, st); !slices.Equal(got, want) {
		t.Errorf("gates = %v, want %v", got, want)
	}
}
