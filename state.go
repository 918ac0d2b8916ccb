package vigil

import (
	"net/netip"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vrrp"
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
	Weight    int    `json:"weight,omitempty"`
	WeightSet bool   `json:"weight_set,omitempty"`
	Err       string `json:"error,omitempty"`
	// Time is when its last check ended (a process tracker: when its
	// count last changed the state).
	Time time.Time `json:"time,omitzero"`
	// Checks and Failures count a check or file tracker's attempts and
	// failed ones (check.Handle.Stats); zero for a process tracker.
	Checks   uint64 `json:"checks,omitempty"`
	Failures uint64 `json:"failures,omitempty"`
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

// State returns a snapshot of the Supervisor: every instance with its
// state, priorities and trackers, the sync groups, the named trackers and
// the virtual servers. Safe at any time, before, during and after Run.
func (s *Supervisor) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st State
	for _, m := range s.insts {
		if m.removed {
			continue
		}
		rs := m.router.Status()
		is := InstanceState{Name: m.cfg.VRRP.Name, Interface: m.iface, VRID: m.cfg.VRRP.VRID,
			State: rs.State.String(), Priority: m.cfg.VRRP.Priority, Effective: m.prio, Since: rs.Since}
		if rs.State == vrrp.Master || rs.State == vrrp.Backup {
			is.Master = rs.Master
		}
		if m.group != nil {
			is.Group = m.group.cfg.Name
		}
		for _, b := range m.binds {
			up := true
			if b.iface != "" {
				v, ok := s.ifaces[b.iface]
				up = v || (!ok && !s.synced)
			} else {
				up = s.trackers[b.tracker].up
			}
			is.Tracks = append(is.Tracks, TrackState{Source: b.source, Up: up, Weight: b.weight,
				Delta: m.deltas[b.source], Fault: m.faults[b.source]})
			if m.faults[b.source] {
				is.Faults = append(is.Faults, b.source)
			}
		}
		st.Instances = append(st.Instances, is)
	}
	for _, g := range s.groups {
		gs := GroupState{Name: g.cfg.Name, State: g.g.State().String()}
		for _, m := range g.members {
			gs.Members = append(gs.Members, m.cfg.VRRP.Name)
		}
		st.SyncGroups = append(st.SyncGroups, gs)
	}
	for _, t := range s.cfg.Trackers {
		ts := s.trackers[t.Name]
		if ts == nil {
			continue
		}
		tst := TrackerState{Name: t.Name, Up: ts.up, Weight: ts.value,
			WeightSet: t.File != nil || ts.value != 0, Err: ts.err, Time: ts.at}
		if ts.handle != nil {
			hs := ts.handle.Stats()
			tst.Checks, tst.Failures = hs.Checks, hs.Failures
		}
		st.Trackers = append(st.Trackers, tst)
	}
	if s.vs != nil {
		st.VirtualServers = s.vs.state()
	}
	return st
}

// Stats are a Supervisor's counters, cheap to read at any time (each
// part's Stats snapshot): for metrics.
type Stats struct {
	// Instances are the routers' counters, by instance name.
	Instances map[string]vrrp.Stats
	// Checks are the check group's totals (trackers' and real servers'
	// checks, and its scheduler's).
	Checks check.GroupStats
	// IPVS are the Balancer's counters; zero without virtual servers.
	IPVS ipvs.BalancerStats
	// Notify are the notify scripts' counters.
	Notify notify.Stats
	// EventsDropped counts the events subscriptions lost, all together.
	EventsDropped uint64
	// Watchdog are the watchdog's counters: stalls, panics, restarts,
	// abandoned routers, systemd notifications (see Config.Watchdog).
	Watchdog WatchdogStats
	// Trackers are the check counters of the check and file trackers, by
	// tracker name: attempts, failures by class, durations.
	Trackers map[string]check.Stats
	// RealServers are the check counters of the real servers, by virtual
	// server and real server as State names them ("tcp 192.0.2.100:80",
	// "198.51.100.1:8080"): a real server's checks added together. A
	// check shared by several real servers (the same checker and policy)
	// runs once and counts in each.
	RealServers map[RealServerName]check.Stats
	// Sockets are the counters of the raw VRRP sockets the instances
	// share, one per interface and family (vrrp.Socket), from a
	// SocketPlatform (Linux's); empty on other platforms.
	Sockets map[SocketName]vrrp.SocketStats
}

// A SocketPlatform is a Platform that reports the counters of the raw
// VRRP sockets its instances share (Linux's does); Supervisor.Stats
// puts them in Stats.Sockets. It is called at any time, from any
// goroutine.
type SocketPlatform interface {
	Platform
	SocketStats() map[SocketName]vrrp.SocketStats
}

// RealServerName names a real server in Stats.RealServers, as
// VirtualServerState.Name and RealServerState.Name do.
type RealServerName struct {
	VirtualServer, RealServer string
}

// Stats returns the counters of the Supervisor's parts.
func (s *Supervisor) Stats() Stats {
	st := Stats{Instances: map[string]vrrp.Stats{}, Checks: s.group.Stats(), Notify: s.n.runner.Stats(),
		EventsDropped: s.n.events.Dropped(), Watchdog: s.wdc.stats(s.wd), Trackers: map[string]check.Stats{}}
	s.mu.Lock()
	for _, m := range s.insts {
		if !m.removed {
			st.Instances[m.cfg.VRRP.Name] = m.router.Stats()
		}
	}
	for name, ts := range s.trackers {
		if ts.handle != nil {
			st.Trackers[name] = ts.handle.Stats()
		}
	}
	vs := s.vs
	s.mu.Unlock()
	if vs != nil {
		st.IPVS = vs.stats()
		st.RealServers = vs.checkStats()
	}
	st.Sockets = map[SocketName]vrrp.SocketStats{}
	if sp, ok := s.p.(SocketPlatform); ok {
		st.Sockets = sp.SocketStats()
	}
	return st
}
