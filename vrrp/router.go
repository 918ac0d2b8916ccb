package vrrp

import (
	"errors"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/vigil-ha/vigil/internal/counter"
	"github.com/vigil-ha/vigil/internal/feed"
	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/watchdog"
)

// Router runs one virtual router: one VRID on one interface, one family.
type Router struct {
	conn  Conn
	addrs AddrManager
	ann   Announcer
	// The identity: what Reconfigure cannot change.
	vrid    uint8
	version Version
	local   netip.Addr
	unicast bool
	ran     atomic.Bool

	// view is the configuration in force. Run's goroutine replaces it
	// (Reconfigure); the reader and the accessors load it.
	view atomic.Pointer[view]

	// machine is owned by the Run goroutine.
	machine *Machine

	// control: Track, Untrack, SetFault, Reconfigure and AddrRemoved
	// record here and poke the loop.
	ctlMu   sync.Mutex
	timers  Timers
	beat    *watchdog.Beat // SetBeat's, read by Run
	resume  bool           // ResumeMaster's, read by Run
	track   tracking
	pending *Config      // Reconfigure's latest, not yet applied
	removed []netip.Addr // AddrRemoved's, not yet looked at
	poke    chan struct{}

	statusMu sync.Mutex
	status   Status

	events feed.Feed[Event]
	lower  feed.Feed[LowerPrioAdvert] // SubscribeLowerPrio's
	sync   routerSync                 // its part in a sync group (syncmember.go)

	n counters
}

// view is a Router's configuration with what is derived from it.
type view struct {
	cfg    Config // Interval defaulted
	log    *slog.Logger
	vips   []netip.Addr // the addresses of cfg.VIPs: our adverts carry them
	groups []netip.Addr // where our adverts go: the peers, or the group
	auth   [8]byte
}

func newView(cfg Config, local netip.Addr) *view {
	mc := cfg.machineConfig(local)
	cfg.Interval = mc.interval()
	v := &view{cfg: cfg, log: logx.OrDiscard(cfg.Logger).With("instance", cfg.Name, "vrid", cfg.VRID)}
	for _, p := range cfg.VIPs {
		v.vips = append(v.vips, p.Addr().Unmap())
	}
	for _, p := range cfg.Peers {
		v.groups = append(v.groups, p.Unmap())
	}
	if len(v.groups) == 0 {
		v.groups = []netip.Addr{mcastGroup(cfg.Group, is6(local))}
	}
	if cfg.AuthType == AuthSimple {
		v.auth = AuthPassword(cfg.AuthPass)
	}
	return v
}

// counters are a Router's live counters; Stats copies the exported ones
// into the fields of the same name.
type counters struct {
	AdvertsSent, AdvertsReceived, SendErrors, ReadErrors, AddrMismatch atomic.Uint64
	PriorityZeroRx, PriorityZeroTx, Transitions, BecameMaster          atomic.Uint64
	AddrErrors, AddrRetries, AddrFaults, FinalApproaches, VIPsRestored atomic.Uint64
	AdvertsTakenAtExpiry, FinalApproachesSkipped                       atomic.Uint64
	drops                                                              [numDropReasons]atomic.Uint64

	transMu sync.Mutex            // guards byTransition (transitions are rare)
	byTrans map[Transition]uint64 // Stats.ByTransition
}

// NewRouter returns a Router for cfg using conn, addrs and ann; addrs and
// ann may be nil (a router that only elects). It checks cfg
// (Config.Validate, and the family of the VIPs and peers against conn's
// local address). Errors are *FieldErrors wrapping ErrInvalid.
func NewRouter(conn Conn, addrs AddrManager, ann Announcer, cfg Config) (*Router, error) {
	if conn == nil {
		return nil, invalid(cfg.object(), "conn", "nil Conn")
	}
	local := conn.LocalAddr().Unmap()
	if !local.IsValid() {
		return nil, invalid(cfg.object(), "conn", "the Conn has no local address")
	}
	if err := cfg.check(local); err != nil {
		return nil, err
	}
	m, err := NewMachine(cfg.machineConfig(local))
	if err != nil {
		return nil, err // cannot happen: checked above
	}
	r := &Router{conn: conn, addrs: addrs, ann: ann, vrid: cfg.VRID, version: cfg.Version, local: local,
		unicast: len(cfg.Peers) > 0, machine: m, poke: make(chan struct{}, 1)}
	v := newView(cfg, local)
	r.view.Store(v)
	r.status = Status{State: Init, Priority: cfg.Priority, MasterAdverInterval: v.cfg.Interval}
	return r, nil
}

// check is Validate plus the checks against the local address.
func (c *Config) check(local netip.Addr) error {
	obj := c.object()
	errs := []error{c.Validate()}
	if local.Is6() && c.Version == V2 {
		errs = append(errs, invalid(obj, "Version", "VRRPv2 is IPv4 only, and the local address is %v", local))
	}
	for _, p := range c.VIPs {
		if p.IsValid() && is6(p.Addr()) != is6(local) {
			errs = append(errs, invalid(obj, "VIPs", "%v is not of the family of the local address %v", p, local))
		}
	}
	for _, p := range c.Peers {
		if p.IsValid() && is6(p) != is6(local) {
			errs = append(errs, invalid(obj, "Peers", "%v is not of the family of the local address %v", p, local))
		}
	}
	return errors.Join(errs...)
}

// Name is the instance name (Config.Name, as last reconfigured).
func (r *Router) Name() string { return r.view.Load().cfg.Name }

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
	r.n.transMu.Lock()
	if len(r.n.byTrans) > 0 {
		s.ByTransition = maps.Clone(r.n.byTrans)
	}
	r.n.transMu.Unlock()
	return s
}

// SetTimers chooses the timers Run will use (the default is Timers{}, Go
// timers). Call it before Run: once Run was called, it changes nothing
// and returns ErrRan. host.Host sets precise timers on its routers.
func (r *Router) SetTimers(t Timers) error {
	r.ctlMu.Lock()
	defer r.ctlMu.Unlock()
	if r.ran.Load() {
		return ErrRan
	}
	r.timers = t
	return nil
}

// SetBeat makes Run beat b (see package watchdog) on every turn of its
// loop, and at least every b.Period() while nothing happens, so that a
// loop stuck in a call (a blocked write, a deadlock) is found stalled.
// The reader goroutine, which waits for adverts, does not beat. Call it
// before Run: once Run was called, it changes nothing and returns ErrRan.
func (r *Router) SetBeat(b *watchdog.Beat) error {
	r.ctlMu.Lock()
	defer r.ctlMu.Unlock()
	if r.ran.Load() {
		return ErrRan
	}
	r.beat = b
	return nil
}

// ResumeMaster makes Run start the router as MASTER, holding its
// addresses, instead of electing: for a router that replaces one that was
// master, on the same addresses, whose runner was restarted (vigil's
// watchdog restarts a stalled or panicked router so, as keepalived's VRRP
// child comes back). The addresses are not removed: they are added again
// (a no-op for those present), an advert goes out at once and the
// addresses are announced, so the backups, which took the old router for
// their master, see no gap longer than the restart. The election then
// goes on as usual: a higher priority backup that preempts takes over. A
// router with a fault at start resigns instead (priority 0, the
// addresses removed, FAULT). The transition is INIT → MASTER with
// ReasonResumed. Call it before Run: once Run was called, it changes
// nothing and returns ErrRan.
func (r *Router) ResumeMaster() error {
	r.ctlMu.Lock()
	defer r.ctlMu.Unlock()
	if r.ran.Load() {
		return ErrRan
	}
	r.resume = true
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

// AddrRemoved tells the router that the address of p was removed from
// its interface, e.g. by an operator or another program (host.Host calls
// it for every address removal its watcher sees). If the router is master
// and the address is one of its VIPs, it adds that VIP back and announces
// it, on its own goroutine, as the only writer of its VIPs (counted in
// Stats.VIPsRestored); otherwise, including for the removals the router
// made itself, it does nothing. It never blocks.
func (r *Router) AddrRemoved(p netip.Prefix) {
	a := p.Addr().Unmap()
	r.ctlMu.Lock()
	if !slices.Contains(r.removed, a) {
		r.removed = append(r.removed, a)
	}
	r.ctlMu.Unlock()
	r.kick()
}

func (r *Router) kick() {
	select {
	case r.poke <- struct{}{}:
	default:
	}
}
