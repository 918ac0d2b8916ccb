package vigil

import (
	"slices"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/hostwire"
	"github.com/vigil-ha/vigil/vrrp"
)

// trackEffect is keepalived's rule for what one tracked source does to
// one instance (vrrp_track.c: process_script_update_priority,
// initialise_interface_tracking_priorities,
// initialise_vrrp_file_tracking_priorities,
// initialise_process_tracking_priorities): the weight it adds to the
// priority, or a fault.
//
// For a check, a process or an interface (up is its state): weight 0
// faults while it is down (with reverse: while it is up); a positive
// weight × (reverse ? −1 : 1) is added while it is up, a negative one
// while it is down. For a file (value is the number read; up false when
// it could not be read): weight 0 faults while the value is non-zero
// (with reverse: while it is zero); otherwise value × weight × (reverse ?
// −1 : 1) is added, at most 253, and a result of −254 or less faults.
// An unreadable file faults (keepalived reads it as 0).
func trackEffect(file bool, weight int, reverse, up bool, value int) (delta int, fault bool) {
	m := 1
	if reverse {
		m = -1
	}
	if file {
		if !up {
			return 0, true
		}
		var st int
		if weight == 0 {
			if (value != 0) == (m == 1) {
				st = -254
			}
		} else {
			st = value * weight * m
		}
		if st <= -254 {
			return 0, true
		}
		return min(st, 253), false
	}
	if weight == 0 {
		return 0, up != (m == 1)
	}
	if up {
		if weight > 0 {
			return weight * m, false
		}
		return 0, false
	}
	if weight < 0 {
		return weight * m, false
	}
	return 0, false
}

// binding is one tracked source of one instance, with the weight that
// applies there after keepalived's sync group rules.
type binding struct {
	source  string // the router's source: "tracker:NAME" or "interface:NAME"
	tracker string // the tracker's name; empty for an interface
	iface   string // the interface's name; empty for a tracker
	file    bool
	weight  int
	reverse bool
}

func trackerSource(name string) string { return "tracker:" + name }

// trackerKind is the vrrp.TrackerKind of t, for the sync group rules.
func trackerKind(t *Tracker) vrrp.TrackerKind {
	switch {
	case t.File != nil:
		return vrrp.TrackFile
	case t.Process != nil:
		return vrrp.TrackProcess
	}
	return vrrp.TrackScript
}

// bindings returns what instance i of cfg tracks, after the sync group
// rules (vrrp.SyncGroupConfig.MemberTrackerWeight, GroupTrackerWeight),
// and the trackers dropped by those rules, for a warning. cfg is valid.
func bindings(cfg *Config, i int) (out []binding, dropped []string) {
	in := &cfg.Instances[i]
	trackers := map[string]*Tracker{}
	for j := range cfg.Trackers {
		trackers[cfg.Trackers[j].Name] = &cfg.Trackers[j]
	}
	var sg *SyncGroup
	var scfg vrrp.SyncGroupConfig
	member := -1
	for g := range cfg.SyncGroups {
		if k := slices.Index(cfg.SyncGroups[g].Members, in.VRRP.Name); k >= 0 {
			sg, member = &cfg.SyncGroups[g], k
			scfg = syncGroupConfig(cfg, sg)
		}
	}
	weightOf := func(tr Track) (int, bool) {
		t := trackers[tr.Tracker]
		if tr.WeightSet {
			return tr.Weight, tr.Reverse
		}
		return t.Weight, t.Reverse
	}
	// Group trackers first: they win over a member's own, unless the
	// member's weight is 0.
	own := map[string]binding{}
	var order []string
	add := func(b binding) {
		if _, ok := own[b.source]; !ok {
			order = append(order, b.source)
		}
		own[b.source] = b
	}
	for _, tr := range in.Track {
		t := trackers[tr.Tracker]
		w, rev := weightOf(tr)
		if sg != nil {
			var keep bool
			if w, keep = scfg.MemberTrackerWeight(member, trackerKind(t), w); !keep {
				dropped = append(dropped, tr.Tracker)
				continue
			}
		}
		add(binding{source: trackerSource(t.Name), tracker: t.Name, file: t.File != nil, weight: w, reverse: rev})
	}
	for _, ti := range in.TrackInterfaces {
		w := ti.Weight
		if sg != nil {
			var keep bool
			if w, keep = scfg.MemberTrackerWeight(member, vrrp.TrackInterface, w); !keep {
				dropped = append(dropped, "interface "+ti.Interface)
				continue
			}
		}
		add(binding{source: hostwire.FaultSource(ti.Interface), iface: ti.Interface, weight: w, reverse: ti.Reverse})
	}
	if sg != nil {
		for _, tr := range sg.Track {
			t := trackers[tr.Tracker]
			w, rev := weightOf(tr)
			w = scfg.GroupTrackerWeight(w)
			if b, ok := own[trackerSource(t.Name)]; ok && b.weight == 0 {
				continue
			}
			add(binding{source: trackerSource(t.Name), tracker: t.Name, file: t.File != nil, weight: w, reverse: rev})
		}
		for _, ti := range sg.TrackInterfaces {
			w := scfg.GroupTrackerWeight(ti.Weight)
			if b, ok := own[hostwire.FaultSource(ti.Interface)]; ok && b.weight == 0 {
				continue
			}
			add(binding{source: hostwire.FaultSource(ti.Interface), iface: ti.Interface, weight: w, reverse: ti.Reverse})
		}
	}
	if _, ok := own[hostwire.FaultSource(in.Interface)]; !ok && !in.DontTrackPrimary {
		add(binding{source: hostwire.FaultSource(in.Interface), iface: in.Interface})
	}
	for _, s := range order {
		out = append(out, own[s])
	}
	return out, dropped
}

// syncGroupConfig is the vrrp.SyncGroupConfig of sg in cfg.
func syncGroupConfig(cfg *Config, sg *SyncGroup) vrrp.SyncGroupConfig {
	c := vrrp.SyncGroupConfig{Name: sg.Name, TrackingWeight: sg.TrackingWeight}
	for _, m := range sg.Members {
		for _, in := range cfg.Instances {
			if in.VRRP.Name == m {
				c.Members = append(c.Members, vrrp.SyncMember{Name: m, Priority: in.VRRP.Priority})
			}
		}
	}
	return c
}

// trackerState is what the Supervisor knows of one named tracker.
type trackerState struct {
	cfg    Tracker
	handle *check.Handle // Check and File trackers
	up     bool
	value  int  // File: the number read; Check: a weighted checker's weight
	known  bool // its state is known (a process tracker: after the first scan)
	err    string
	at     time.Time
}

// trackerPolicy is the policy a Check or File tracker runs under: the
// first round at once (keepalived runs its scripts at start), not spread
// over the interval.
func trackerPolicy(t *Tracker) (check.Checker, check.Policy) {
	if t.File != nil {
		iv := t.File.Interval
		if iv == 0 {
			iv = time.Second
		}
		return &check.File{Path: t.File.Path, Weight: 1}, check.Policy{Interval: iv, Timeout: iv, Warmup: -1}
	}
	p := t.Check.Policy
	if p.Warmup == 0 {
		p.Warmup = -1
	}
	return t.Check.Checker, p
}

// fromStatus updates ts from a check status; it reports whether anything
// an instance sees changed. A check is known from the start: healthy
// until a round says otherwise, or failed with Policy.Alpha (init_fail),
// as check.Group has it. (keepalived holds an instance in INIT until its
// scripts ran once; vigil runs a tracker's first round at once instead.)
func (ts *trackerState) fromStatus(st check.Status) bool {
	known := true
	v := 0
	if st.WeightSet {
		v = st.Weight
	}
	var err string
	if st.Err != nil {
		err = st.Err.Error()
	}
	changed := known != ts.known || st.Healthy != ts.up || v != ts.value
	ts.known, ts.up, ts.value, ts.err, ts.at = known, st.Healthy, v, err, st.Time
	return changed
}
