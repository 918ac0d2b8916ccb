package vigil

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/notify"
)

// errNoBackend: virtual servers were configured for an engine made
// without an IPVS backend.
var errNoBackend = errors.New("vigil: virtual servers need an IPVS backend")

// newVirtualServers makes the engine of cfg's virtual servers: it adds
// their checks to g (which the Supervisor runs) and makes a Balancer over
// b for their pools, to be run by run. With no virtual server it does
// nothing: b may be nil, and no Balancer is made until a reload brings
// one. It returns validateVirtualServers's errors joined, or g.Add's
// (check.ErrStopped).
func newVirtualServers(g *check.Group, b ipvs.Backend, cfg *Config, em emitter, log *slog.Logger) (*virtualServers, error) {
	v := &virtualServers{
		g:        g,
		b:        b,
		em:       em,
		log:      logx.OrDiscard(log),
		startc:   make(chan struct{}, 1),
		byHandle: make(map[*check.Handle]*rsCheck),
		svcs:     make(map[ipvs.ServiceKey]*svcInfo),
	}
	if _, err := v.reload(cfg); err != nil {
		return nil, err
	}
	return v, nil
}

// run runs the Balancer (once there is a virtual server) and follows the
// group's changes and the Balancer's events until ctx is done. Then the
// Balancer removes its services (unless Global.KeepIPVSOnExit) and
// reports the omega downs, the engine takes its checks out of the group,
// and run returns, after every goroutine it started has ended, with the
// Balancer's error. A second call returns ErrRan.
func (v *virtualServers) run(ctx context.Context) error {
	if !v.ran.CompareAndSwap(false, true) {
		return ErrRan
	}
	var (
		wg      sync.WaitGroup
		berr    error
		started bool
	)
	start := func() {
		v.mu.Lock()
		bl, bsub, csub := v.bl, v.bsub, v.csub
		v.mu.Unlock()
		if started || bl == nil {
			return
		}
		started = true
		stop := func() {}
		if v.watch != nil {
			stop = v.watch(bl)
		}
		wg.Go(func() { defer stop(); berr = bl.Run(ctx) })
		wg.Go(func() { v.forward(bsub) })
		wg.Go(func() { v.follow(ctx, csub) })
		v.initNotifies()
	}
	start()
	for !started && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-v.startc:
			start()
		}
	}
	<-ctx.Done()
	wg.Wait()
	v.mu.Lock()
	v.done = true
	for h := range v.byHandle {
		h.Remove()
	}
	clear(v.byHandle)
	if v.csub != nil {
		v.csub.Close()
	}
	v.mu.Unlock()
	return berr
}

// follow applies the group's changes of the engine's checks until ctx is
// done or the group stops.
func (v *virtualServers) follow(ctx context.Context, sub *check.Subscription[check.Change]) {
	for {
		select {
		case <-ctx.Done():
			return
		case ch, ok := <-sub.C():
			if !ok {
				return
			}
			v.apply(sub, ch)
		}
	}
}

// apply records ch if it is one of the engine's checks, and gives the
// Balancer what it changes. When the subscription has dropped changes
// since the last time, it reads every check's status again instead.
func (v *virtualServers) apply(sub *check.Subscription[check.Change], ch check.Change) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.done {
		return
	}
	if d := sub.Dropped(); d != v.cdropped {
		v.cdropped = d
		v.log.Warn("vigil: health check changes dropped, reading them again", "dropped", d)
		for h, c := range v.byHandle {
			c.st = h.Status()
		}
		for _, vs := range v.vss {
			for _, rs := range vs.rss {
				v.refresh(rs)
			}
		}
		return
	}
	c := v.byHandle[ch.Handle]
	if c == nil {
		return // a tracker's, or a check removed since
	}
	c.st = ch.Status
	v.refresh(c.rs)
}

// forward reports the Balancer's events until its Run closes sub.
func (v *virtualServers) forward(sub *ipvs.Subscription) {
	var dropped uint64
	for e := range sub.C() {
		if d := sub.Dropped(); d != dropped {
			dropped = d
			v.log.Warn("vigil: virtual server events dropped", "dropped", d)
		}
		v.report(e)
	}
}

// report turns a Balancer event into the Supervisor's Event and
// keepalived's notifications: for a real server, its FIFO line and
// NotifyUp or NotifyDown under a key of its own; for a quorum, the VS
// line and QuorumUp or QuorumDown under the virtual server's key. A
// group's notifications come from its first service only, as keepalived
// notifies once per group.
func (v *virtualServers) report(e ipvs.Event) {
	ev := Event{Service: e.Service}
	var (
		key, line string
		script    *notify.Script
	)
	up := e.Kind == ipvs.EventServerUp || e.Kind == ipvs.EventQuorumUp
	v.mu.Lock()
	info := v.svcs[e.Service]
	nsvc, notifies := notifyService(&VirtualServer{}, e.Service, nil), true
	var vsCfg *VirtualServer
	if info != nil {
		nsvc, notifies, vsCfg = info.nsvc, info.rep, &info.vs.cfg
	}
	switch e.Kind {
	case ipvs.EventServerUp, ipvs.EventServerDown:
		ev.Kind, ev.Dest = EventServerDown, e.Dest
		if up {
			ev.Kind = EventServerUp
		}
		var rs *rsEntry
		if info != nil {
			rs = cmp.Or(info.rs[e.Dest], info.gone[e.Dest])
		}
		if rs != nil {
			if !up {
				ev.Err = rs.lastErr()
			}
			script = rs.cfg.NotifyDown
			if up {
				script = rs.cfg.NotifyUp
			}
		}
		key = "rs " + netip.AddrPortFrom(e.Dest.Addr, e.Dest.Port).String() + " " + nsvc.String()
		line = notify.RSLine(netip.AddrPortFrom(e.Dest.Addr, e.Dest.Port), nsvc, up)
	case ipvs.EventQuorumUp, ipvs.EventQuorumDown:
		ev.Kind = EventQuorumDown
		if up {
			ev.Kind = EventQuorumUp
		}
		if vsCfg != nil {
			script = vsCfg.QuorumDown
			if up {
				script = vsCfg.QuorumUp
			}
		}
		key = "vs " + nsvc.String()
		line = notify.VSLine(nsvc, up)
	default:
		v.mu.Unlock()
		return
	}
	v.mu.Unlock()
	v.em.emit(ev)
	if notifies {
		v.em.notify(key, fifoLVS, line, notify.Call{Script: script})
	}
}
