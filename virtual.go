package vigil

import (
	"cmp"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/notify"
)

// VirtualServerChanges is what a reload changed in the virtual servers,
// as keepalived's clear_diff_services sees it: services are matched by
// their key (and, for a virtual server group, its name and the entry's
// key), real servers by address and port within their service. A service
// or real server that is matched and equal is in no list.
type VirtualServerChanges struct {
	// AddedServices, RemovedServices and ChangedServices are IPVS
	// services: new ones, gone ones, and matched ones whose settings
	// (scheduling, sorry server, quorum, hysteresis, omega, ha_suspend,
	// quorum scripts) changed.
	AddedServices, RemovedServices, ChangedServices []ipvs.ServiceKey
	// AddedRealServers, RemovedRealServers and ChangedRealServers are
	// real servers of services kept or added (a removed service's real
	// servers are not listed): new ones, gone ones, and matched ones whose
	// destination, inhibit_on_failure, alpha, checks or scripts changed.
	AddedRealServers, RemovedRealServers, ChangedRealServers []RealServerKey
}

// RealServerKey names one real server of one IPVS service.
type RealServerKey struct {
	Service ipvs.ServiceKey
	Dest    ipvs.DestinationKey
}

// Empty reports whether c lists nothing.
func (c VirtualServerChanges) Empty() bool {
	return len(c.AddedServices)+len(c.RemovedServices)+len(c.ChangedServices)+
		len(c.AddedRealServers)+len(c.RemovedRealServers)+len(c.ChangedRealServers) == 0
}

// virtualServers is the Supervisor's virtual-server engine: it runs the
// checks of the real servers of Config.VirtualServers in the Supervisor's
// check.Group, turns their results into the health and weights of the
// pools of one ipvs.Balancer (the only writer of the IPVS table), and
// reports the Balancer's events through the emitter.
//
//   - A real server is up while all its checks pass; one without checks is
//     always up. A real server with Alpha starts with all its checks
//     failing (each check's Policy.Alpha is set), so down.
//   - A check whose status carries a weight (check.WeightedChecker) sets
//     the real server's weight: a *check.File's weight is added to the
//     configured weight, any other checker's (a *check.Exec with Dynamic,
//     keepalived's misc_dynamic) replaces it; several replacing weights:
//     the last check's wins. The sum is clamped to 0..ipvs.MaxWeight.
//   - A virtual server with Group is one IPVS service per entry of its
//     VirtualServerGroup, with the same real servers, each checked once
//     for all of them; its notifications are keepalived's, once per real
//     server and quorum change, naming the group ("[NAME]:0").
//   - ha_suspend (VirtualServer.HASuspend), keepalived's
//     update_checker_activity and register_checkers_thread: while no
//     address given to setHeld is the service's address, the service is
//     out of IPVS (the pool is suspended, ipvs.PoolConfig.Suspended) and
//     its checks do not run (their handles leave the group); the health,
//     weights and quorum stay as they were, frozen, as keepalived's
//     disabled checkers leave them. When the address comes, the checks
//     resume from that state (a check that was failing starts failing
//     and needs its Rise passes) and the service comes back as the pool
//     wants it then. A virtual server starts suspended until setHeld
//     says otherwise.
//   - Omega reports, when run ends, the real servers still up as down and
//     the quorum as lost, with their scripts (ipvs.PoolConfig.Omega).
//
// Its methods are safe for concurrent use; it runs once.
type virtualServers struct {
	g   *check.Group
	b   ipvs.Backend
	em  emitter
	log *slog.Logger
	ran atomic.Bool
	// startc wakes run when reload made the Balancer (capacity 1).
	startc chan struct{}

	mu       sync.Mutex
	done     bool               // run has returned
	bl       *ipvs.Balancer     // nil until there is a virtual server
	bsub     *ipvs.Subscription // the Balancer's events
	csub     *check.Subscription[check.Change]
	cdropped uint64     // csub.Dropped() when last resynced
	vss      []*vsEntry // in config order
	byHandle map[*check.Handle]*rsCheck
	svcs     map[ipvs.ServiceKey]*svcInfo
	held     map[netip.Addr]bool // the addresses masters hold (setHeld)
	rsInit   bool                // Global.RSInitNotifies (virtual_init_notify.go)
}

// vsEntry is one configured VirtualServer.
type vsEntry struct {
	cfg       VirtualServer
	object    string            // its name in errors and logs
	keys      []ipvs.ServiceKey // its IPVS services, in order
	rss       []*rsEntry
	suspended bool
}

// rsEntry is one real server of a vsEntry, shared by all its services.
type rsEntry struct {
	vs     *vsEntry
	cfg    RealServer
	checks []*rsCheck
	up     bool // all checks pass
	weight int  // the weight in use while up
}

// rsCheck is one check of a real server.
type rsCheck struct {
	rs  *rsEntry
	cfg RealServerCheck
	pol check.Policy  // cfg.Policy, Alpha set with the real server's
	h   *check.Handle // nil while suspended
	st  check.Status  // the latest status, frozen while suspended
	key string        // the checker's check.Keyer key, "" if none
}

// checkerKey is c's check.Keyer key, or "".
func checkerKey(c check.Checker) string {
	if k, ok := c.(check.Keyer); ok {
		return k.Key()
	}
	return ""
}

// svcInfo is what the events of one IPVS service need: the names and
// scripts of its virtual and real servers. The services and real servers
// a reload removed stay one more reload, for their last events.
type svcInfo struct {
	vs    *vsEntry
	nsvc  notify.Service
	rep   bool // notify: the service is its virtual server's first
	rs    map[ipvs.DestinationKey]*rsEntry
	gone  map[ipvs.DestinationKey]*rsEntry // removed by the last reload
	valid bool                             // in the configuration now
}

// vsObject is how errors and logs name a virtual server.
func vsObject(vs *VirtualServer) string {
	if vs.Group != "" {
		return "virtual server group " + vs.Group
	}
	return "virtual server " + vs.Service.ServiceKey.String()
}

// protoNumber is the IP protocol number of p, for the notify lines.
func protoNumber(p ipvs.Protocol) uint8 {
	switch p {
	case ipvs.TCP:
		return 6
	case ipvs.UDP:
		return 17
	case ipvs.SCTP:
		return 132
	}
	return 0
}

// notifyService is keepalived's name of the services of vs, for the
// notify lines: the group's name for a group (with the protocol of
// Service, or of the group's first address entry), else key's.
func notifyService(vs *VirtualServer, key ipvs.ServiceKey, keys []ipvs.ServiceKey) notify.Service {
	if vs.Group != "" {
		p := vs.Service.Protocol
		for _, k := range keys {
			p = cmp.Or(p, k.Protocol)
		}
		return notify.Service{Group: vs.Group, Protocol: protoNumber(p)}
	}
	return notify.Service{FWMark: key.FWMark, Addr: key.Addr, Port: key.Port, Protocol: protoNumber(key.Protocol)}
}

// suspendable reports whether vs follows ha_suspend: fwmark and group
// services never do.
func suspendable(vs *VirtualServer) bool {
	return vs.HASuspend && vs.Group == "" && !vs.Service.IsFWMark()
}

// heldBy reports whether held has vs's address.
func heldBy(vs *VirtualServer, held map[netip.Addr]bool) bool {
	return held[vs.Service.Addr.Unmap().WithZone("")]
}

// isAdditive reports whether c's weight is added to the configured one
// (FILE_CHECK) rather than replacing it (misc_dynamic).
func isAdditive(c check.Checker) bool {
	_, ok := c.(*check.File)
	return ok
}

// eval computes rs's health and weight from its checks' statuses.
func (rs *rsEntry) eval() (up bool, weight int) {
	up, weight = true, rs.cfg.Weight
	add := 0
	for _, c := range rs.checks {
		if !c.st.Healthy {
			up = false
		}
		if !c.st.WeightSet {
			continue
		}
		if isAdditive(c.cfg.Checker) {
			add += c.st.Weight
		} else {
			weight = c.st.Weight
		}
	}
	return up, min(max(weight+add, 0), ipvs.MaxWeight)
}

// lastErr is the error of rs's first failing check, or else of the
// first check whose last attempt failed.
func (rs *rsEntry) lastErr() string {
	var last error
	for _, c := range rs.checks {
		if c.st.Err == nil {
			continue
		}
		if !c.st.Healthy {
			return c.st.Err.Error()
		}
		if last == nil {
			last = c.st.Err
		}
	}
	if last == nil {
		return ""
	}
	return last.Error()
}

// state returns one VirtualServerState per IPVS service, in config
// order.
func (v *virtualServers) state() []VirtualServerState {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []VirtualServerState
	for _, vs := range v.vss {
		for _, k := range vs.keys {
			quorum, _ := v.bl.QuorumUp(k)
			st := VirtualServerState{
				Service:     k,
				Name:        k.String(),
				Group:       vs.cfg.Group,
				Quorum:      quorum,
				Suspended:   vs.suspended,
				SorryServer: vs.cfg.SorryServer != nil && !quorum,
				RealServers: make([]RealServerState, 0, len(vs.rss)),
			}
			for _, rs := range vs.rss {
				w := rs.weight
				if !rs.up && rs.cfg.InhibitOnFailure {
					w = 0
				}
				st.RealServers = append(st.RealServers, RealServerState{
					Dest: rs.cfg.DestinationKey, Name: rs.cfg.DestinationKey.String(),
					Up: rs.up, Weight: w, Err: rs.lastErr(),
				})
			}
			out = append(out, st)
		}
	}
	return out
}

// setHeld tells the engine which addresses the master instances hold
// now: the virtual servers with ha_suspend whose address is not among
// them are suspended, the others resumed (see virtualServers).
func (v *virtualServers) setHeld(addrs []netip.Addr) {
	held := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		held[a.Unmap().WithZone("")] = true
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.held = held
	if v.done {
		return
	}
	changed := false
	for _, vs := range v.vss {
		if !suspendable(&vs.cfg) {
			continue
		}
		if want := !heldBy(&vs.cfg, held); want != vs.suspended {
			vs.suspended = want
			changed = true
			if want {
				v.log.Info("vigil: suspending the health checks of "+vs.object, "reason", "address not held")
				v.removeHandles(vs)
			} else {
				v.log.Info("vigil: activating the health checks of "+vs.object, "reason", "address held")
				v.addHandles(vs)
			}
		}
	}
	if !changed {
		return
	}
	if err := v.bl.SetPools(v.pools()); err != nil { // valid: validated
		v.log.Error("vigil: virtual servers", "err", err)
	}
	for _, vs := range v.vss {
		for _, rs := range vs.rss {
			v.refresh(rs)
		}
	}
}

// removeHandles takes vs's checks out of the group, keeping their
// statuses; the caller holds v.mu.
func (v *virtualServers) removeHandles(vs *vsEntry) {
	for _, rs := range vs.rss {
		for _, c := range rs.checks {
			if c.h != nil {
				c.h.Remove()
				delete(v.byHandle, c.h)
				c.h = nil
			}
		}
	}
}

// addHandles puts vs's checks back in the group, each starting from its
// status (failing ones with Alpha); the caller holds v.mu.
func (v *virtualServers) addHandles(vs *vsEntry) {
	for _, rs := range vs.rss {
		for _, c := range rs.checks {
			if c.h != nil {
				continue
			}
			if err := v.resume(c); err != nil {
				v.log.Warn("vigil: "+vs.object+": health check of "+rs.cfg.DestinationKey.String()+" not resumed", "err", err)
			}
		}
	}
}

// resume adds c to the group starting from its current status (a check
// already running under the same policy shares its fresher one); the
// caller holds v.mu.
func (v *virtualServers) resume(c *rsCheck) error {
	p := c.pol
	p.Alpha = !c.st.Healthy
	h, err := v.g.Add(c.cfg.Checker, p)
	if err != nil {
		return err
	}
	c.h = h
	v.byHandle[h] = c
	if st := h.Status(); !st.Time.IsZero() {
		c.st = st
	}
	return nil
}

// refresh recomputes rs's health and weight and gives the changes to the
// Balancer for each of its services; the caller holds v.mu.
func (v *virtualServers) refresh(rs *rsEntry) {
	up, w := rs.eval()
	d := rs.cfg.DestinationKey
	for _, k := range rs.vs.keys {
		if w != rs.weight {
			if err := v.bl.SetWeight(k, d, w); err != nil {
				v.log.Error("vigil: setting a weight", "service", k.String(), "real_server", d.String(), "err", err)
			}
		}
		if was, err := v.bl.Up(k, d); err == nil && was != up {
			if err := v.bl.SetHealth(k, d, up); err != nil {
				v.log.Error("vigil: setting a health", "service", k.String(), "real_server", d.String(), "err", err)
			}
		}
	}
	rs.up, rs.weight = up, w
}

// pools returns the Balancer's pools for the virtual servers as they
// are now: each real server with its weight in use, and Alpha if it is
// down, so that a new pool starts with the health the checks say; the
// caller holds v.mu.
func (v *virtualServers) pools() []ipvs.PoolConfig {
	var out []ipvs.PoolConfig
	for _, vs := range v.vss {
		for _, k := range vs.keys {
			out = append(out, poolConfig(vs, k))
		}
	}
	return out
}

// poolConfig is the pool of vs's service k.
func poolConfig(vs *vsEntry, k ipvs.ServiceKey) ipvs.PoolConfig {
	svc := vs.cfg.Service
	svc.ServiceKey = k
	pc := ipvs.PoolConfig{
		Service:      svc,
		RealServers:  make([]ipvs.RealServer, len(vs.rss)),
		SorryServer:  vs.cfg.SorryServer,
		SorryInhibit: vs.cfg.SorryInhibit,
		Quorum:       vs.cfg.Quorum,
		Hysteresis:   vs.cfg.Hysteresis,
		Omega:        vs.cfg.Omega,
		Suspended:    vs.suspended,
	}
	for i, rs := range vs.rss {
		r := rs.cfg.RealServer
		r.Weight, r.Alpha = rs.weight, !rs.up
		pc.RealServers[i] = r
	}
	return pc
}

// stats returns the Balancer's counters (zero before it exists).
func (v *virtualServers) stats() ipvs.BalancerStats {
	v.mu.Lock()
	bl := v.bl
	v.mu.Unlock()
	if bl == nil {
		return ipvs.BalancerStats{}
	}
	return bl.Stats()
}

// SetHeldVIPs tells the Supervisor which addresses VRRP masters outside
// it hold now: for a Supervisor that runs the virtual servers of a
// configuration whose instances run in another process (vigild's
// checker child, to which its parent relays the VIPs its VRRP child
// holds as master). A virtual server with ha_suspend is active while its
// address is held by one of the Supervisor's own masters or is among
// addrs, and suspended otherwise. Each call replaces the previous list;
// nil clears it. It is safe for concurrent use, before and during Run;
// after Run returned it changes nothing.
func (s *Supervisor) SetHeldVIPs(addrs []netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.extHeld = slices.Clone(addrs)
	if s.vs != nil {
		s.vs.setHeld(s.masterVIPs())
	}
}
