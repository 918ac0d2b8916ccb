package vigil

import (
	"errors"
	"reflect"
	"slices"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/notify"
)

// vsMatch is what matches a virtual server across a reload: its group's
// name, or else its service key.
type vsMatch struct {
	group string
	key   ipvs.ServiceKey
}

func matchOf(vs *VirtualServer) vsMatch {
	if vs.Group != "" {
		return vsMatch{group: vs.Group}
	}
	return vsMatch{key: vs.Service.ServiceKey}
}

// reload replaces the virtual servers with cfg's (newVirtualServers
// starts with it, from none), following keepalived's clear_diff_services
// and migrate_checkers (check/ipwrapper.c):
//
//   - virtual servers are matched by service key, or by group name;
//     their services by key; real servers by address and port. What is
//     matched keeps its state: real servers their health and weight in
//     use, services their quorum (ipvs.Balancer.SetPools), suspended
//     services their suspension (keepalived's ha_suspend_addr_count);
//   - a check of a matched real server whose checker is the same (equal
//     non-empty check.Keyer keys, or the same pointer) keeps its handle
//     and its status; a changed policy is given to the handle
//     (check.Handle.SetPolicy), which keeps the health, as keepalived
//     migrates a checker's state whatever its delay_loop or retries;
//   - other checks are new: they start healthy, or failing with Alpha
//     (the check's or the real server's), and the checks no longer
//     configured leave the group;
//   - removed real servers and services leave IPVS, reported down (and
//     the quorum lost) if they were up, as keepalived's clear_service_rs
//     and clear_service_vs notify; the Balancer writes only the
//     difference: nothing for an unchanged configuration, one update for
//     one changed weight.
//
// Global.KeepIPVSOnExit is read when the first virtual server comes; a
// reload does not change it. An invalid cfg changes nothing and returns
// validateVirtualServers's errors joined; so does a failed check.Group.Add
// (check.ErrStopped). After run has returned reload returns ErrStopped.
func (v *virtualServers) reload(cfg *Config) (VirtualServerChanges, error) {
	if errs := validateVirtualServers(cfg); len(errs) > 0 {
		return VirtualServerChanges{}, errors.Join(errs...)
	}
	return v.reloadValid(cfg)
}

// reloadValid is reload of a cfg already validated (Config.Validate
// validates the virtual servers too).
func (v *virtualServers) reloadValid(cfg *Config) (VirtualServerChanges, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.done {
		return VirtualServerChanges{}, ErrStopped
	}
	if len(cfg.VirtualServers) == 0 && v.bl == nil {
		return VirtualServerChanges{}, nil // nothing, and nothing to do
	}
	if v.b == nil {
		return VirtualServerChanges{}, errNoBackend
	}
	if v.csub == nil { // before the first Add: no change is missed
		v.csub = v.g.Subscribe(queueLen(2 * countChecks(cfg)))
	}
	groups := make(map[string][]ipvs.ServiceKey, len(cfg.VirtualServerGroups))
	for _, g := range cfg.VirtualServerGroups {
		groups[g.Name] = g.Services
	}
	old := make(map[vsMatch]*vsEntry, len(v.vss))
	for _, vs := range v.vss {
		old[matchOf(&vs.cfg)] = vs
	}

	// Match the new configuration to the old one.
	var (
		next      []*vsEntry
		prev      = make(map[*vsEntry]*vsEntry) // new entry → old one
		migrated  = make(map[*rsCheck]*rsCheck) // new check → old one
		kept      = make(map[*rsCheck]bool)     // old checks migrated
		oldRS     = make(map[*rsEntry]*rsEntry) // new real server → old one
		repolicy  []*rsCheck                    // migrated with a new policy
		newChecks = make(map[*rsCheck]bool)     // not migrated
	)
	reused := make(map[*vsEntry]bool) // unchanged: kept as they are
	for i := range cfg.VirtualServers {
		if ovs := old[matchOf(&cfg.VirtualServers[i])]; ovs != nil && !reused[ovs] &&
			v.unchanged(ovs, &cfg.VirtualServers[i], groups) {
			reused[ovs] = true
			prev[ovs] = ovs
			next = append(next, ovs)
			continue
		}
		vc := cloneVirtualServer(&cfg.VirtualServers[i])
		vs := &vsEntry{cfg: vc, object: vsObject(&vc)}
		if vc.Group != "" {
			vs.keys = slices.Clone(groups[vc.Group])
		} else {
			vs.keys = []ipvs.ServiceKey{vc.Service.ServiceKey}
		}
		vs.suspended = suspendable(&vc) && !heldBy(&vc, v.held)
		ovs := old[matchOf(&vc)]
		var oldByDest map[ipvs.DestinationKey]*rsEntry
		if ovs != nil {
			prev[vs] = ovs
			oldByDest = make(map[ipvs.DestinationKey]*rsEntry, len(ovs.rss))
			for _, r := range ovs.rss {
				oldByDest[r.cfg.DestinationKey] = r
			}
		}
		for _, rc := range vc.RealServers {
			rs := &rsEntry{vs: vs, cfg: rc}
			ors := oldByDest[rc.DestinationKey]
			if ors != nil {
				oldRS[rs] = ors
			}
			for _, cc := range rc.Checks {
				c := &rsCheck{rs: rs, cfg: cc, pol: cc.Policy, key: checkerKey(cc.Checker)}
				c.pol.Alpha = cc.Policy.Alpha || rc.Alpha
				c.st = check.Status{Healthy: !c.pol.Alpha}
				if oc := findCheck(ors, c, kept); oc != nil {
					kept[oc] = true
					migrated[c] = oc
					c.h, c.st = oc.h, oc.st
					if !samePolicy(oc.pol, c.pol) {
						repolicy = append(repolicy, c)
					}
				} else {
					newChecks[c] = true
				}
				rs.checks = append(rs.checks, c)
			}
			vs.rss = append(vs.rss, rs)
		}
		next = append(next, vs)
	}

	// Add the checks that need a handle: new ones, and those of a
	// suspended virtual server that is not any more.
	var added []*check.Handle
	rollback := func() {
		for _, h := range added {
			h.Remove()
		}
	}
	for _, vs := range next {
		if vs.suspended {
			continue
		}
		for _, rs := range vs.rss {
			for _, c := range rs.checks {
				if c.h != nil {
					continue
				}
				p := c.pol
				p.Alpha = !c.st.Healthy // a resumed check starts where it was
				h, err := v.g.Add(c.cfg.Checker, p)
				if err != nil {
					rollback()
					return VirtualServerChanges{}, err
				}
				added = append(added, h)
				c.h = h
				if st := h.Status(); newChecks[c] || !st.Time.IsZero() {
					c.st = st
				}
			}
		}
	}
	for _, vs := range next {
		for _, rs := range vs.rss {
			rs.up, rs.weight = rs.eval()
		}
	}

	// The pools: the Balancer's first, or a diff.
	oldVSS := v.vss
	v.vss = next
	pools := v.pools()
	switch {
	case v.bl == nil:
		bl, err := ipvs.NewBalancer(v.b, pools, ipvs.BalancerConfig{Logger: v.log, KeepOnExit: cfg.Global.KeepIPVSOnExit})
		if err != nil {
			v.vss = oldVSS
			rollback()
			return VirtualServerChanges{}, err
		}
		v.bl, v.bsub = bl, bl.Subscribe(queueLen(2*countPoolServers(pools)))
		v.rsInit = cfg.Global.RSInitNotifies
		select {
		case v.startc <- struct{}{}:
		default:
		}
	default:
		if err := v.bl.SetPools(pools); err != nil {
			v.vss = oldVSS
			rollback()
			return VirtualServerChanges{}, err
		}
	}

	// Commit: the handles, the health of what stays, the events' names.
	for _, ovs := range oldVSS {
		if reused[ovs] {
			continue
		}
		for _, rs := range ovs.rss {
			for _, c := range rs.checks {
				if !kept[c] && c.h != nil {
					c.h.Remove()
					delete(v.byHandle, c.h)
				}
			}
		}
	}
	for _, vs := range next {
		if reused[vs] {
			continue
		}
		for _, rs := range vs.rss {
			for _, c := range rs.checks {
				switch {
				case c.h == nil:
				case vs.suspended:
					c.h.Remove()
					delete(v.byHandle, c.h)
					c.h = nil
				default:
					v.byHandle[c.h] = c
				}
			}
		}
	}
	for _, c := range repolicy {
		if c.h == nil {
			continue
		}
		if err := c.h.SetPolicy(c.pol); err != nil {
			v.log.Warn("vigil: "+c.rs.vs.object+": changing the policy of a check of "+c.rs.cfg.DestinationKey.String(), "err", err)
		}
	}
	for _, vs := range next {
		if reused[vs] {
			continue
		}
		for _, rs := range vs.rss {
			// A kept real server keeps the weight its pool had in use
			// unless the weight given changed: give it the one it has now.
			if ors := oldRS[rs]; ors != nil && ors.weight != rs.weight {
				for _, k := range vs.keys {
					if err := v.bl.SetWeight(k, rs.cfg.DestinationKey, rs.weight); err != nil {
						v.log.Error("vigil: setting a weight", "service", k.String(), "real_server", rs.cfg.DestinationKey.String(), "err", err)
					}
				}
			}
			v.refresh(rs)
		}
	}
	v.rename(next, prev, reused)
	return diffVirtualServers(oldVSS, next, prev, reused, oldRS, migrated, repolicy), nil
}

// unchanged reports whether the new configuration nc of the running
// entry ovs changes nothing: the same services, settings, real servers
// and checks (same checkers, same policies), the same suspension. Such
// an entry is kept as it is by a reload, at the cost of this comparison.
func (v *virtualServers) unchanged(ovs *vsEntry, nc *VirtualServer, groups map[string][]ipvs.ServiceKey) bool {
	oc := &ovs.cfg
	if oc.Group != nc.Group || oc.Service.ServiceKey != nc.Service.ServiceKey || !sameVirtualServer(oc, nc) ||
		len(ovs.rss) != len(nc.RealServers) || ovs.suspended != (suspendable(nc) && !heldBy(nc, v.held)) {
		return false
	}
	if nc.Group != "" && !slices.Equal(ovs.keys, groups[nc.Group]) {
		return false
	}
	for i, ors := range ovs.rss {
		nr := &nc.RealServers[i]
		if ors.cfg.RealServer != nr.RealServer || len(ors.checks) != len(nr.Checks) ||
			!sameScript(ors.cfg.NotifyUp, nr.NotifyUp) || !sameScript(ors.cfg.NotifyDown, nr.NotifyDown) {
			return false
		}
		for j, c := range ors.checks {
			nck := &nr.Checks[j]
			if c.cfg.Policy != nck.Policy {
				return false
			}
			if c.cfg.Checker != nck.Checker && (c.key == "" || c.key != checkerKey(nck.Checker)) {
				return false
			}
		}
	}
	return true
}

// rename rebuilds the names and scripts the events use: the services of
// next, and for one more reload the services and real servers this one
// removed; a removed service of a virtual server that stays (a group's
// entry) no longer notifies. The caller holds v.mu.
func (v *virtualServers) rename(next []*vsEntry, prev map[*vsEntry]*vsEntry, reused map[*vsEntry]bool) {
	stays := make(map[*vsEntry]bool, len(prev))
	for _, o := range prev {
		stays[o] = true
	}
	svcs := make(map[ipvs.ServiceKey]*svcInfo)
	for _, vs := range next {
		for i, k := range vs.keys {
			if o := v.svcs[k]; reused[vs] && o != nil && o.valid && o.vs == vs {
				o.gone = nil // nothing of it was removed
				svcs[k] = o
				continue
			}
			info := &svcInfo{
				vs: vs, nsvc: notifyService(&vs.cfg, k, vs.keys), rep: i == 0, valid: true,
				rs: make(map[ipvs.DestinationKey]*rsEntry, len(vs.rss)),
			}
			for _, rs := range vs.rss {
				info.rs[rs.cfg.DestinationKey] = rs
			}
			if o := v.svcs[k]; o != nil && o.valid {
				for d, rs := range o.rs {
					if info.rs[d] == nil {
						if info.gone == nil {
							info.gone = make(map[ipvs.DestinationKey]*rsEntry)
						}
						info.gone[d] = rs
					}
				}
			}
			svcs[k] = info
		}
	}
	for k, o := range v.svcs {
		if o.valid && svcs[k] == nil {
			o.valid, o.gone = false, nil
			if stays[o.vs] {
				o.rep = false
			}
			svcs[k] = o
		}
	}
	v.svcs = svcs
}

// diffVirtualServers lists what changed from the old entries to next.
func diffVirtualServers(old, next []*vsEntry, prev map[*vsEntry]*vsEntry, reused map[*vsEntry]bool, oldRS map[*rsEntry]*rsEntry, migrated map[*rsCheck]*rsCheck, repolicy []*rsCheck) VirtualServerChanges {
	var ch VirtualServerChanges
	type svcMatch struct {
		m vsMatch
		k ipvs.ServiceKey
	}
	newSvcs := make(map[svcMatch]bool)
	for _, vs := range next {
		for _, k := range vs.keys {
			newSvcs[svcMatch{matchOf(&vs.cfg), k}] = true
		}
	}
	for _, vs := range old {
		for _, k := range vs.keys {
			if !newSvcs[svcMatch{matchOf(&vs.cfg), k}] {
				ch.RemovedServices = append(ch.RemovedServices, k)
			}
		}
	}
	for _, vs := range next {
		if reused[vs] {
			continue
		}
		ovs := prev[vs]
		var oldKeys map[ipvs.ServiceKey]bool
		if ovs != nil {
			oldKeys = make(map[ipvs.ServiceKey]bool, len(ovs.keys))
			for _, k := range ovs.keys {
				oldKeys[k] = true
			}
		}
		vsChanged := ovs != nil && !sameVirtualServer(&ovs.cfg, &vs.cfg)
		for _, k := range vs.keys {
			if !oldKeys[k] {
				ch.AddedServices = append(ch.AddedServices, k)
				continue
			}
			if vsChanged {
				ch.ChangedServices = append(ch.ChangedServices, k)
			}
			stay := make(map[ipvs.DestinationKey]bool, len(vs.rss))
			for _, rs := range vs.rss {
				d := rs.cfg.DestinationKey
				stay[d] = true
				ors := oldRS[rs]
				switch {
				case ors == nil:
					ch.AddedRealServers = append(ch.AddedRealServers, RealServerKey{k, d})
				case !sameRealServer(ors, rs, migrated, repolicy):
					ch.ChangedRealServers = append(ch.ChangedRealServers, RealServerKey{k, d})
				}
			}
			for _, ors := range ovs.rss {
				if d := ors.cfg.DestinationKey; !stay[d] {
					ch.RemovedRealServers = append(ch.RemovedRealServers, RealServerKey{k, d})
				}
			}
		}
	}
	return ch
}

// sameVirtualServer reports whether a and b configure their services the
// same way, their keys and real servers aside.
func sameVirtualServer(a, b *VirtualServer) bool {
	sa, sb := a.Service, b.Service
	sa.ServiceKey, sb.ServiceKey = ipvs.ServiceKey{}, ipvs.ServiceKey{}
	return sa == sb &&
		reflect.DeepEqual(a.SorryServer, b.SorryServer) && a.SorryInhibit == b.SorryInhibit &&
		a.Quorum == b.Quorum && a.Hysteresis == b.Hysteresis &&
		a.Omega == b.Omega && a.HASuspend == b.HASuspend &&
		sameScript(a.QuorumUp, b.QuorumUp) && sameScript(a.QuorumDown, b.QuorumDown)
}

// sameRealServer reports whether the real server b is a unchanged: the
// same destination settings and scripts, and every check migrated with
// its policy.
func sameRealServer(a, b *rsEntry, migrated map[*rsCheck]*rsCheck, repolicy []*rsCheck) bool {
	if a.cfg.RealServer != b.cfg.RealServer || !sameScript(a.cfg.NotifyUp, b.cfg.NotifyUp) ||
		!sameScript(a.cfg.NotifyDown, b.cfg.NotifyDown) || len(a.checks) != len(b.checks) {
		return false
	}
	for _, c := range b.checks {
		if migrated[c] == nil || slices.Contains(repolicy, c) {
			return false
		}
	}
	return true
}

// sameScript reports whether a and b run the same program the same way.
func sameScript(a, b *notify.Script) bool {
	return a == b || (a != nil && b != nil && reflect.DeepEqual(*a, *b))
}

// findCheck returns the check of rs whose checker is c, not taken yet.
func findCheck(rs *rsEntry, c *rsCheck, taken map[*rsCheck]bool) *rsCheck {
	if rs == nil {
		return nil
	}
	for _, oc := range rs.checks {
		if !taken[oc] && sameChecker(oc, c) {
			return oc
		}
	}
	return nil
}

// sameChecker reports whether a and b are the same check, as check.Group
// deduplicates them: equal non-empty keys (check.Keyer), or the same
// pointer.
func sameChecker(a, b *rsCheck) bool {
	if a.key != "" {
		return a.key == b.key
	}
	ca, cb := a.cfg.Checker, b.cfg.Checker
	ta := reflect.TypeOf(ca)
	return b.key == "" && ta == reflect.TypeOf(cb) && ta.Kind() == reflect.Pointer && ca == cb
}

// samePolicy reports whether a and b run a check the same way once it
// runs (Alpha matters only at its start).
func samePolicy(a, b check.Policy) bool {
	a.Alpha, b.Alpha = false, false
	return a == b
}

// cloneVirtualServer copies vs deep enough that the caller may change its
// slices and sorry server afterwards.
func cloneVirtualServer(vs *VirtualServer) VirtualServer {
	c := *vs
	c.RealServers = slices.Clone(vs.RealServers)
	for i := range c.RealServers {
		c.RealServers[i].Checks = slices.Clone(c.RealServers[i].Checks)
	}
	if vs.SorryServer != nil {
		s := *vs.SorryServer
		c.SorryServer = &s
	}
	return c
}

// countChecks counts the checks of cfg's virtual servers.
func countChecks(cfg *Config) int {
	n := 0
	for _, vs := range cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			n += len(rs.Checks)
		}
	}
	return n
}

// countPoolServers counts the real servers and services of pools.
func countPoolServers(pools []ipvs.PoolConfig) int {
	n := 0
	for _, p := range pools {
		n += 1 + len(p.RealServers)
	}
	return n
}

// queueLen bounds the queue of a subscription that should hold n values:
// at least 1024, at most 16384 (a full queue drops, and the engine then
// reads the checks again or logs the events lost).
func queueLen(n int) int { return min(max(n, 1024), 16384) }
