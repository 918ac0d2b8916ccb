package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"time"
)

// Reconfigure replaces the router's configuration while it runs, as
// keepalived's reload does for the instance it matches: priority,
// interval, VIPs, unicast peers, authentication, preemption (NoPreempt,
// PreemptDelay), accept mode, InitialState (for a later start), Name,
// Logger and TransitionLogLevel may change. The identity may not: VRID, Version, the family
// (that of the Conn), and multicast or unicast (Peers empty or not).
// Changing it is a *FieldError wrapping ErrInvalid, as are cfg's own
// problems; the caller replaces the router instead.
//
// A reload never moves the router between states and never hands over:
// a master stays master and sends no priority 0. The running router
// applies cfg at once (asynchronously: Reconfigure never blocks; of
// several calls not yet applied, the last wins; one equal to the
// configuration in force does nothing):
//
//   - A master removes the VIPs that are no longer configured, keeps the
//     ones that stay, adds the new ones, advertises at once (new priority,
//     interval and address list; Adver_Timer restarts), then announces
//     the new VIPs only: the AddrManager and the Announcer get only the
//     difference. Two exceptions: if the accept mode changed, the
//     AddrManager gets every VIP again with the new mode; and an
//     announcement still running (repeats, refreshes) that names a
//     removed VIP is stopped, so no address we no longer hold is
//     announced, and the kept VIPs it named are announced again with the
//     new ones.
//   - A backup uses the new configuration from the next advert on (see
//     Machine.Reconfigure for its timers); it never touches addresses.
//   - A Conn that filters by unicast peer (PeerSetter) gets the new peers.
//   - The priority in force is the new configured priority with the
//     tracked weights (Track).
//
// Before Run, cfg is applied at start; after Run returned, it has no
// effect.
func (r *Router) Reconfigure(cfg Config) error {
	obj := cfg.object()
	if err := cfg.check(r.local); err != nil {
		return err
	}
	var errs []error
	if cfg.VRID != r.vrid {
		errs = append(errs, invalid(obj, "VRID", "%d cannot change to %d while the router exists", r.vrid, cfg.VRID))
	}
	if cfg.Version != r.version {
		errs = append(errs, invalid(obj, "Version", "%v cannot change to %v while the router exists", r.version, cfg.Version))
	}
	if unicast := len(cfg.Peers) > 0; unicast != r.unicast {
		errs = append(errs, invalid(obj, "Peers", "cannot switch between multicast and unicast while the router exists"))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	cfg.VIPs, cfg.Peers = slices.Clone(cfg.VIPs), slices.Clone(cfg.Peers)
	r.ctlMu.Lock()
	r.pending = &cfg
	r.ctlMu.Unlock()
	r.kick()
	return nil
}

// reconfigure applies cfg on Run's goroutine (see Reconfigure).
func (lp *loop) reconfigure(ctx context.Context, cfg Config) {
	r := lp.r
	old := r.view.Load()
	nv := newView(cfg, r.local)
	if sameConfig(old.cfg, nv.cfg) {
		return
	}
	master := r.machine.State() == Master
	gone, added := diffPrefixes(old.cfg.VIPs, nv.cfg.VIPs)
	var again []netip.Addr // kept VIPs whose announcement named a removed one
	if master {
		lp.removeVIPs(ctx, gone)
		again = lp.withdraw(prefixAddrs(gone))
	}
	if !slices.Equal(old.cfg.Peers, nv.cfg.Peers) {
		if ps, ok := r.conn.(PeerSetter); ok {
			if err := ps.SetPeers(nv.cfg.Peers); err != nil {
				nv.log.Error("vrrp: the Conn did not take the new unicast peers", "err", err)
			}
		}
	}
	r.view.Store(nv)
	mc := nv.cfg.machineConfig(r.local)
	r.ctlMu.Lock()
	mc.Priority = r.track.priority(nv.cfg.Priority)
	r.ctlMu.Unlock()
	now := time.Now()
	actions, err := r.machine.Reconfigure(mc, now, lp.actions[:0])
	if err != nil {
		// Cannot happen: Reconfigure checked cfg and the identity.
		nv.log.Error("vrrp: reconfiguring the state machine", "err", err)
		return
	}
	lp.actions = actions
	if master && !slices.ContainsFunc(actions, func(a Action) bool { return a.Kind == ActAddVIPs }) {
		// ActAddVIPs (a new accept mode) adds them all.
		lp.addVIPs(ctx, added, r.machine.accept())
	}
	lp.do(ctx, actions, now)
	if master {
		// The new VIPs, and the kept ones whose announcement stopped, in
		// the configured order.
		news := prefixAddrs(added)
		var addrs []netip.Addr
		for _, a := range nv.vips {
			if slices.Contains(news, a) || slices.Contains(again, a) {
				addrs = append(addrs, a)
			}
		}
		lp.announce(ctx, addrs)
	}
	nv.log.Info("vrrp: reconfigured", "state", r.machine.State().String(), "priority", r.machine.Priority(),
		"removed", fmt.Sprint(gone), "added", fmt.Sprint(added))
}

// sameConfig reports whether a and b configure the same (a Logger is
// compared by identity).
func sameConfig(a, b Config) bool {
	if a.Logger != b.Logger {
		return false
	}
	a.Logger, b.Logger = nil, nil
	return reflect.DeepEqual(a, b)
}

func prefixAddrs(ps []netip.Prefix) []netip.Addr {
	out := make([]netip.Addr, len(ps))
	for i, p := range ps {
		out[i] = p.Addr().Unmap()
	}
	return out
}

// diffPrefixes returns the prefixes of old not in new, and of new not in
// old.
func diffPrefixes(old, new []netip.Prefix) (gone, added []netip.Prefix) {
	for _, p := range old {
		if !slices.Contains(new, p) {
			gone = append(gone, p)
		}
	}
	for _, p := range new {
		if !slices.Contains(old, p) {
			added = append(added, p)
		}
	}
	return gone, added
}
