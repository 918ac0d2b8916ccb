package vigil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"reflect"
	"slices"

	"github.com/vigil-ha/vigil/internal/hostwire"
	"github.com/vigil-ha/vigil/process"
	"github.com/vigil-ha/vigil/vrrp"
)

// Changes is what a Reload changed.
type Changes struct {
	// Instances added, removed (they left: priority 0 if master, DELETED
	// or FAULT notified), reconfigured in place (their state kept), and
	// renamed (old name → new name; keepalived's identity matched).
	InstancesAdded, InstancesRemoved, InstancesChanged []string
	InstancesRenamed                                   map[string]string
	// Trackers added, removed, replaced (their probe changed: they start
	// again) and changed (the same probe with a new policy or weight:
	// their state is kept). Unchanged trackers keep their state.
	TrackersAdded, TrackersRemoved, TrackersReplaced, TrackersChanged []string
	// SyncGroups whose membership changed were started again.
	SyncGroupsAdded, SyncGroupsRemoved, SyncGroupsRestarted []string
	// VirtualServers is what changed in the IPVS table's pools.
	VirtualServers VirtualServerChanges
}

type reloadReq struct {
	cfg   Config
	reply chan reloadReply
}

type reloadReply struct {
	ch  Changes
	err error
}

// Reload replaces the running configuration with cfg without a flap,
// as keepalived's reload (SIGHUP) does, and returns what changed.
//
// Instances are matched by keepalived's identity, not by name: VRID,
// family, interface, unicast or multicast, unicast source, VMAC. A
// matched instance keeps its state: its VIPs, peers, priority, timers and
// the rest are changed in place (vrrp.Router.Reconfigure: a master adds
// only the new VIPs, removes the removed ones, and announces only what it
// added); it may be renamed. An instance whose identity changed is removed
// and added. A removed instance leaves (a master sends priority 0 and
// removes its VIPs) and notifies DELETED, or FAULT as keepalived does
// without notify_deleted. Trackers are matched by name and keep their
// state while their definition is unchanged. Virtual and real servers are
// matched by service and address: their health and quorum are kept, and
// only the difference is written to IPVS.
//
// An invalid cfg changes nothing and returns the errors Validate
// returns. A reload that fails after validation (the platform could not
// open a new instance, the IPVS backend refused the virtual servers)
// keeps what it applied before the failure and says what failed. Reload returns ErrStopped when Run is not running, and the
// context's error if ctx ends first (the reload may still happen).
func (s *Supervisor) Reload(ctx context.Context, cfg Config) (Changes, error) {
	if !s.ran.Load() {
		return Changes{}, ErrStopped
	}
	req := &reloadReq{cfg: cfg, reply: make(chan reloadReply, 1)}
	select {
	case s.reqs <- req:
	case <-s.quit:
		return Changes{}, ErrStopped
	case <-ctx.Done():
		return Changes{}, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.ch, r.err
	case <-ctx.Done():
		return Changes{}, ctx.Err()
	}
}

// identity is what keepalived matches instances by across a reload
// (vrrp_data.c: vrrp_exist).
type identity struct {
	vrid    uint8
	v6      bool
	iface   string
	unicast bool
	src     netip.Addr
	vmac    bool
	// ttl and group: the Conn's unicast TTL and multicast group.
	ttl   int
	group netip.Addr
	// vmacName is the VMAC's name, if any.
	vmacName string
	xmitBase bool // VMACXmitBase
	promote  bool // PromoteSecondaries: set as the platform opens the instance
}

func identityOf(ic *InstanceConfig) identity {
	id := identity{vrid: ic.VRRP.VRID, v6: ic.IPv6(), iface: ic.Interface, unicast: len(ic.VRRP.Peers) > 0, vmac: ic.UseVMAC}
	// The source counts for multicast too (mcast_src_ip): the Conn is
	// opened with it.
	id.src, id.ttl, id.group = ic.UnicastSrc, ic.UnicastTTL, ic.VRRP.Group
	id.promote = ic.PromoteSecondaries
	if ic.UseVMAC {
		id.vmacName, id.xmitBase = ic.VMACName(), ic.VMACXmitBase
	}
	return id
}

// platformFields are the fields of an instance its platform I/O was
// opened with, besides its identity.
func platformFields(ic *InstanceConfig) InstanceConfig {
	return InstanceConfig{GARP: ic.GARP, Label: ic.Label, Routes: ic.Routes, Rules: ic.Rules,
		AddrOptions: ic.AddrOptions}
}

// reload applies cfg. s.mu held, on the loop.
func (s *Supervisor) reload(cfg Config) (Changes, error) {
	var ch Changes
	if err := cfg.Validate(); err != nil {
		return ch, err
	}
	cfg = cfg.withDefaults()
	s.checkScripts(&cfg)
	cfg.Logger = s.cfg.Logger
	if !reflect.DeepEqual(cfg.Global.NFTables, s.cfg.Global.NFTables) {
		// As keepalived: the table is the platform's, opened once.
		s.log.Warn("vigil: reload: the nftables table cannot change at a reload; restart to change it")
		cfg.Global.NFTables = s.cfg.Global.NFTables // the one in force
	}

	// Trackers, by name.
	if err := s.reloadTrackers(&cfg, &ch); err != nil {
		return ch, err
	}

	// Instances, by identity.
	old := map[identity]*member{}
	for _, m := range s.insts {
		if !m.removed {
			old[identityOf(&m.cfg.InstanceConfig)] = m
		}
	}
	var next []*member
	var added []int
	kept := map[*member]bool{}
	for i := range cfg.Instances {
		ic := &cfg.Instances[i]
		m := old[identityOf(&ic.InstanceConfig)]
		if m != nil && !reflect.DeepEqual(platformFields(&m.cfg.InstanceConfig), platformFields(&ic.InstanceConfig)) {
			if err := m.reconfigureIO(ic.InstanceConfig); err != nil {
				s.log.Warn("vigil: reload: instance replaced: its platform cannot change its addresses' label, routes, rules or announcements in place",
					"instance", ic.VRRP.Name, "err", err)
				m = nil
			}
		}
		if m == nil {
			added = append(added, i)
			next = append(next, nil)
			continue
		}
		kept[m] = true
		s.reloadExcluded(m, &ic.InstanceConfig)
		oldName := m.cfg.VRRP.Name
		if !reflect.DeepEqual(m.cfg, *ic) {
			rc := ic.VRRP
			if rc.Logger == nil {
				rc.Logger = s.log
			}
			if err := m.router.Reconfigure(rc); err != nil {
				return ch, fmt.Errorf("vigil: reload: instance %s: %w", ic.VRRP.Name, err)
			}
			ch.InstancesChanged = append(ch.InstancesChanged, ic.VRRP.Name)
		}
		if oldName != ic.VRRP.Name {
			if ch.InstancesRenamed == nil {
				ch.InstancesRenamed = map[string]string{}
			}
			ch.InstancesRenamed[oldName] = ic.VRRP.Name
		}
		m.cfg = *ic
		next = append(next, m)
	}
	// Leave the sync groups first, then remove what is gone.
	s.reloadGroupsLeave(&cfg, &ch)
	var gone []*member // removeMember may change s.insts: list first
	for _, m := range s.insts {
		if !kept[m] && !m.removed {
			gone = append(gone, m)
		}
	}
	for _, m := range gone {
		ch.InstancesRemoved = append(ch.InstancesRemoved, m.cfg.VRRP.Name)
		s.removeMember(m)
	}
	var opened []*member
	for _, i := range added {
		m, err := s.openInstance(&cfg, i)
		if err != nil {
			// What was opened stays: the old configuration's instances
			// that remain, and the new ones opened so far.
			for _, o := range opened {
				s.closeIO(o)
			}
			return ch, fmt.Errorf("vigil: reload: %w", err)
		}
		opened = append(opened, m)
		ch.InstancesAdded = append(ch.InstancesAdded, cfg.Instances[i].VRRP.Name)
	}
	// Place the new members in configuration order.
	k := 0
	for i := range next {
		if next[i] == nil {
			next[i] = opened[k]
			k++
		}
	}
	// Removed members stay listed until their routers end.
	for _, m := range s.insts {
		if m.removed && !m.done {
			next = append(next, m)
		}
	}
	s.insts = next
	for i, m := range s.insts {
		if m.removed || i >= len(cfg.Instances) {
			continue
		}
		var dropped []string
		m.binds, dropped = bindings(&cfg, i)
		if m.iface != m.cfg.Interface && !m.cfg.DontTrackPrimary {
			m.binds = append(m.binds, binding{source: hostwire.FaultSource(m.iface), iface: m.iface})
		}
		for _, d := range dropped {
			s.log.Warn("vigil: weighted tracker ignored in a sync group member", "instance", m.cfg.VRRP.Name, "tracker", d)
		}
		s.untrackStale(m)
		s.applyTracks(m)
	}
	if err := s.reloadGroupsJoin(&cfg, &ch); err != nil {
		return ch, err
	}

	// Virtual servers.
	if s.vs != nil || len(cfg.VirtualServers) > 0 {
		if err := s.reloadVirtualServers(&cfg, &ch); err != nil {
			return ch, err
		}
	}
	s.reloadStatic(cfg.Static)
	if err := s.n.openFIFOs(&cfg.Global, s.nctx); err != nil {
		s.log.Error("vigil: reload: notify fifo", "err", err)
	}
	startSyncd := s.syncd == nil
	if err := s.openSyncDaemons(&cfg); err != nil {
		s.log.Error("vigil: reload", "err", err)
	}
	s.lvs.reload(s.p, cfg.Global)
	s.cfg = cfg
	if startSyncd {
		s.startSyncDaemons()
	}
	s.syncTransition()
	s.startReady()
	if cfg.Global.FIFOStatesOnReload {
		s.writeFIFOStates()
	}
	return ch, nil
}

// reconfigureIO asks the platform to apply the label, routes, rules and
// announcement timing of ic to m's I/O.
func (m *member) reconfigureIO(ic InstanceConfig) error {
	if m.io.Reconfigure == nil {
		return errors.New("not supported by the platform")
	}
	return m.io.Reconfigure(ic)
}

// untrackStale forgets the sources m no longer tracks. s.mu held.
func (s *Supervisor) untrackStale(m *member) {
	live := map[string]bool{}
	for _, b := range m.binds {
		live[b.source] = true
	}
	for src := range m.faults {
		if !live[src] {
			m.router.Untrack(src)
			delete(m.faults, src)
		}
	}
	for src := range m.deltas {
		if !live[src] {
			m.router.Untrack(src)
			delete(m.deltas, src)
		}
	}
}

// removeMember makes m leave: its router stops (a master resigns), and
// its I/O is released when it has. s.mu held.
func (s *Supervisor) removeMember(m *member) {
	m.removed = true
	if m.started && !m.done {
		m.cancel()
		return
	}
	s.dropMember(m)
}

// dropMember forgets a removed member whose router ended. s.mu held.
func (s *Supervisor) dropMember(m *member) {
	m.done = true
	s.closeIO(m)
	s.insts = slices.DeleteFunc(s.insts, func(x *member) bool { return x == m })
}

// closeIO releases what the platform opened for m alone.
func (s *Supervisor) closeIO(m *member) {
	if m.io.Release != nil {
		if err := m.io.Release(); err != nil {
			s.log.Warn("vigil: releasing a removed instance", "instance", m.cfg.VRRP.Name, "err", err)
		}
		return
	}
	if c, ok := m.io.Conn.(io.Closer); ok {
		c.Close()
	}
}

// reloadTrackers matches trackers by name. s.mu held.
func (s *Supervisor) reloadTrackers(cfg *Config, ch *Changes) error {
	want := map[string]*Tracker{}
	for i := range cfg.Trackers {
		want[cfg.Trackers[i].Name] = &cfg.Trackers[i]
	}
	var specs []process.Spec
	procsChanged := false
	for name, ts := range s.trackers {
		t, ok := want[name]
		if ok && sameProbe(&ts.cfg, t) {
			// The same probe: its state stays; a new policy applies
			// from its next round (health kept), new weights at once.
			if ts.handle != nil {
				_, p := trackerPolicy(t)
				if err := ts.handle.SetPolicy(p); err != nil {
					s.log.Warn("vigil: reload: tracker policy", "tracker", name, "err", err)
				}
			}
			if ts.cfg.Weight != t.Weight || ts.cfg.Reverse != t.Reverse || !reflect.DeepEqual(ts.cfg.Check, t.Check) {
				ch.TrackersChanged = append(ch.TrackersChanged, name)
			}
			ts.cfg = *t
			continue
		}
		if !ok || !reflect.DeepEqual(ts.cfg, *t) {
			if ts.handle != nil {
				delete(s.handles, ts.handle)
				ts.handle.Remove()
			}
			if ts.cfg.Process != nil {
				procsChanged = true
			}
			delete(s.trackers, name)
			if ok {
				ch.TrackersReplaced = append(ch.TrackersReplaced, name)
			} else {
				ch.TrackersRemoved = append(ch.TrackersRemoved, name)
			}
		}
	}
	for _, t := range cfg.Trackers {
		if t.Process != nil {
			sp := *t.Process
			sp.Name = t.Name
			specs = append(specs, sp)
		}
		if _, ok := s.trackers[t.Name]; ok {
			continue
		}
		ts := &trackerState{cfg: t}
		if !slices.Contains(ch.TrackersReplaced, t.Name) {
			ch.TrackersAdded = append(ch.TrackersAdded, t.Name)
		}
		if t.Process != nil {
			procsChanged = true
			s.trackers[t.Name] = ts
			continue
		}
		if err := s.addTrackerCheck(ts); err != nil {
			return err
		}
		s.trackers[t.Name] = ts
	}
	if !procsChanged {
		return nil
	}
	// One process tracker serves every spec: start a new one for the
	// new set; the states of unchanged specs carry over until it scans.
	if s.psub != nil {
		s.psub.Close()
		s.pcancel()
	}
	s.procs, s.psub, s.psubC = nil, nil, nil
	if len(specs) == 0 {
		return nil
	}
	pt, err := process.New(process.Config{Specs: specs, Logger: s.log})
	if err != nil {
		return fmt.Errorf("vigil: reload: process trackers: %w", err)
	}
	s.procs, s.psub = pt, pt.Subscribe(1024)
	s.psubC = s.psub.C()
	s.runProcs()
	return nil
}

// reloadGroupsLeave ends the sync groups that are gone or whose members
// changed: their members leave (SyncTo Init). s.mu held.
func (s *Supervisor) reloadGroupsLeave(cfg *Config, ch *Changes) {
	want := map[string]*SyncGroup{}
	for i := range cfg.SyncGroups {
		want[cfg.SyncGroups[i].Name] = &cfg.SyncGroups[i]
	}
	keep := s.groups[:0]
	for _, g := range s.groups {
		w := want[g.cfg.Name]
		if w != nil && sameMembers(g, w) {
			g.cfg = *w
			keep = append(keep, g)
			continue
		}
		if w == nil {
			ch.SyncGroupsRemoved = append(ch.SyncGroupsRemoved, g.cfg.Name)
		} else {
			ch.SyncGroupsRestarted = append(ch.SyncGroupsRestarted, g.cfg.Name)
		}
		for _, m := range g.members {
			m.group = nil
			if m.started && !m.removed {
				m.syncTo(vrrp.Init, 0)
			}
		}
	}
	s.groups = keep
}

// sameMembers reports whether g's members are, in order, the instances
// w names (after renames).
func sameMembers(g *syncRun, w *SyncGroup) bool {
	if len(g.members) != len(w.Members) {
		return false
	}
	for i, m := range g.members {
		if m.removed || m.cfg.VRRP.Name != w.Members[i] {
			return false
		}
	}
	return true
}

// reloadGroupsJoin starts the sync groups that are new or restarted.
// s.mu held.
func (s *Supervisor) reloadGroupsJoin(cfg *Config, ch *Changes) error {
	for _, sg := range cfg.SyncGroups {
		found := false
		for _, g := range s.groups {
			found = found || g.cfg.Name == sg.Name
		}
		if found {
			continue
		}
		if !slices.Contains(ch.SyncGroupsRestarted, sg.Name) {
			ch.SyncGroupsAdded = append(ch.SyncGroupsAdded, sg.Name)
		}
		if err := s.addGroup(cfg, sg); err != nil {
			return err
		}
		g := s.groups[len(s.groups)-1]
		started := false
		for _, m := range g.members {
			started = started || m.started
		}
		if started {
			// Running members: the group starts from their statuses now.
			for i, m := range g.members {
				g.g.Step(vrrp.SyncInput{Kind: vrrp.SyncUpdate, Member: i, Status: m.router.SyncStatus()}, nil)
			}
			g.started = true
			s.syncActions(g, g.g.Step(vrrp.SyncInput{Kind: vrrp.SyncStart}, g.acts[:0]))
			for _, m := range g.members {
				if !m.started {
					s.startRouter(m)
				}
			}
		}
	}
	return nil
}

// reloadVirtualServers hands cfg's virtual servers to the engine,
// starting one if there was none. s.mu held.
func (s *Supervisor) reloadVirtualServers(cfg *Config, ch *Changes) error {
	if s.vs == nil {
		b, err := s.p.IPVS()
		if err != nil {
			return fmt.Errorf("vigil: reload: virtual servers: %w", err)
		}
		vs, err := newVirtualServers(s.group, b, cfg, s.n, s.log)
		if err != nil {
			b.Close()
			return fmt.Errorf("vigil: reload: %w", err)
		}
		s.vs, s.ipvsB = vs, b
		<-s.vdone // closed: there was no engine
		s.vdone = make(chan struct{})
		s.startVirtualServers()
		s.vs.setHeld(s.masterVIPs())
		ch.VirtualServers = VirtualServerChanges{}
		return nil
	}
	vch, err := s.vs.reloadValid(cfg)
	if err != nil {
		return fmt.Errorf("vigil: reload: %w", err)
	}
	ch.VirtualServers = vch
	s.vs.setHeld(s.masterVIPs())
	return nil
}

// sameProbe reports whether a and b probe the same thing the same way,
// so that a reload keeps the tracker's state: the same checker (the same
// value, or checkers with the same non-empty check.Keyer key), the same
// file path, or the same process spec. Policies and weights may differ.
func sameProbe(a, b *Tracker) bool {
	switch {
	case a.Check != nil && b.Check != nil:
		ca, cb := a.Check.Checker, b.Check.Checker
		if k := checkerKey(ca); k != "" {
			return k == checkerKey(cb)
		}
		return reflect.DeepEqual(ca, cb)
	case a.File != nil && b.File != nil:
		return a.File.Path == b.File.Path
	case a.Process != nil && b.Process != nil:
		return reflect.DeepEqual(*a.Process, *b.Process)
	}
	return false
}

// reloadExcluded applies a reload's excluded VIPs to kept member m.
// s.mu held.
func (s *Supervisor) reloadExcluded(m *member, ic *InstanceConfig) {
	if slices.Equal(m.cfg.ExcludedVIPs, ic.ExcludedVIPs) && maps.Equal(m.cfg.AddrOptions, ic.AddrOptions) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), hostwire.ExcludedTimeout)
	defer cancel()
	if err := m.held.SetExcluded(ctx, ic.ExcludedVIPs, ic.AddrOptions); err != nil {
		s.log.Error("vigil: reload: excluded addresses", "instance", ic.VRRP.Name, "err", err)
	}
}
