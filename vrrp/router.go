package vrrp

import (
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/vigil-ha/vigil/internal/counter"
	"github.com/vigil-ha/vigil/internal/feed"
	"github.com/vigil-ha/vigil/internal/logx"
)

// Router runs one virtual router: one VRID on one interface, one family.
type Router struct {
	cfg    Config
	conn   Conn
	addrs  AddrManager
	ann    Announcer
	log    *slog.Logger
	local  netip.Addr
	vips   []netip.Addr
	groups []netip.Addr // destinations of our adverts
	auth   [8]byte
	ran    atomic.Bool

	// machine is owned by the Run goroutine.
	machine *Machine

	// control: Track, Untrack and SetFault record here and poke the loop.
	ctlMu  sync.Mutex
	timers Timers
	track  tracking
	poke   chan struct{}

	statusMu sync.Mutex
	status   Status

	events feed.Feed[Event]

	n counters
}

// counters are a Router's live counters; Stats copies the exported ones
// into the fields of the same name.
type counters struct {
	AdvertsSent, AdvertsReceived, SendErrors, ReadErrors, AddrMismatch atomic.Uint64
	PriorityZeroRx, PriorityZeroTx, Transitions, BecameMaster          atomic.Uint64
	AddrErrors, FinalApproaches                                        atomic.Uint64
	drops                                                              [numDropReasons]atomic.Uint64
}

// NewRouter returns a Router for cfg using conn, addrs and ann; addrs and
// ann may be nil (a router that only elects). It checks cfg
// (Config.Validate, and the family of the VIPs and peers against conn's
// local address).
// Errors are *FieldErrors wrapping ErrInvalid.
func NewRouter(conn Conn, addrs AddrManager, ann Announcer, cfg Config) (*Router, error) {
	obj := cfg.object()
	if conn == nil {
		return nil, invalid(obj, "conn", "nil Conn")
	}
	local := conn.LocalAddr().Unmap()
	if !local.IsValid() {
		return nil, invalid(obj, "conn", "the Conn has no local address")
	}
	errs := []error{cfg.Validate()}
	if local.Is6() && cfg.Version == V2 {
		errs = append(errs, invalid(obj, "Version", "VRRPv2 is IPv4 only, and the local address is %v", local))
	}
	for _, p := range cfg.VIPs {
		if p.IsValid() && is6(p.Addr()) != is6(local) {
			errs = append(errs, invalid(obj, "VIPs", "%v is not of the family of the local address %v", p, local))
		}
	}
	for _, p := range cfg.Peers {
		if p.IsValid() && is6(p) != is6(local) {
			errs = append(errs, invalid(obj, "Peers", "%v is not of the family of the local address %v", p, local))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	mc := cfg.machineConfig(local)
	cfg.Interval = mc.interval()
	r := &Router{cfg: cfg, conn: conn, addrs: addrs, ann: ann, local: local,
		log:  logx.OrDiscard(cfg.Logger).With("instance", cfg.Name, "vrid", cfg.VRID),
		poke: make(chan struct{}, 1)}
	for _, p := range cfg.VIPs {
		r.vips = append(r.vips, p.Addr().Unmap())
	}
	for _, p := range cfg.Peers {
		r.groups = append(r.groups, p.Unmap())
	}
	if len(r.groups) == 0 {
		r.groups = []netip.Addr{GroupV4}
		if is6(local) {
			r.groups = []netip.Addr{GroupV6}
		}
	}
	if cfg.AuthType == AuthSimple {
		r.auth = AuthPassword(cfg.AuthPass)
	}
	m, err := NewMachine(mc)
	if err != nil {
		return nil, err // cannot happen: validated above
	}
	r.machine = m
	r.status = Status{State: Init, Priority: cfg.Priority, MasterAdverInterval: cfg.Interval}
	return r, nil
}

// Name is the instance name.
func (r *Router) Name() string { return r.cfg.Name }

// Status returns the current state, priority and master. Safe at any time.
func (r *Router) Status() Status {
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	return r.status
}

// State returns the current state.
func (r *Router) State() State { return r.Status().State }

// Stats returns the counters. Safe at any time.
func (r *Router) Stats() Stats {
	s := counter.Snapshot[Stats](&r.n)
	s.EventsDropped = r.events.Dropped()
	for d := range r.n.drops {
		if v := r.n.drops[d].Load(); v != 0 {
			if s.Drops == nil {
				s.Drops = map[DropReason]uint64{}
			}
			s.Drops[DropReason(d)] = v
		}
	}
	return s
}

// SetTimers chooses the timers Run will use (the default is Timers{}, Go
// timers). Call it before Run: once Run was called, it changes nothing
// and returns ErrRan. vigil.Host sets precise timers on its routers.
func (r *Router) SetTimers(t Timers) error {
	r.ctlMu.Lock()
	defer r.ctlMu.Unlock()
	if r.ran.Load() {
		return ErrRan
	}
	r.timers = t
	return nil
}

// Track sets the current weight of a tracked source (a check, an
// interface, a script) as keepalived's weighted trackers do: the router's
// priority is its configured priority plus the weights of all sources,
// clamped to 1..254. An address owner (priority 255) ignores weights, as
// keepalived does. The caller decides what a source's state means, e.g.
// Track("chk", -20) while a check fails and Track("chk", 0) while it
// passes (keepalived's negative weight), or +20 while it passes (a
// positive one). A master whose priority changes advertises it at once, so
// a backup that now outranks it preempts after its Master_Down_Interval.
// A source that must put the router in FAULT when it fails (keepalived's
// weight 0) is given to SetFault instead. Track never blocks; the running
// router applies it at once, and before Run it applies at start.
func (r *Router) Track(source string, delta int) {
	r.ctlMu.Lock()
	r.track.track(source, delta)
	r.ctlMu.Unlock()
	r.kick()
}

// Untrack forgets source: its weight (Track) and its fault (SetFault). It
// never blocks.
func (r *Router) Untrack(source string) {
	r.ctlMu.Lock()
	r.track.untrack(source)
	r.ctlMu.Unlock()
	r.kick()
}

// SetFault raises (down=true) or clears the fault of source, e.g. an
// interface or a tracked check of keepalived's weight 0. The router is in
// FAULT while any source is down, owner or not: a master resigns with
// priority 0 and removes its addresses; when the last fault clears it
// starts again as at startup. It never blocks.
func (r *Router) SetFault(source string, down bool) {
	r.ctlMu.Lock()
	r.track.setFault(source, down)
	r.ctlMu.Unlock()
	r.kick()
}

func (r *Router) kick() {
	select {
	case r.poke <- struct{}{}:
	default:
	}
}
