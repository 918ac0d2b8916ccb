package vrrp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
)

// ErrRunning is returned by Run on a router that is already running or ran.
var ErrRunning = errors.New("vrrp: router already ran")

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

	// control: SetPriority and SetFault record here and poke the loop.
	ctlMu    sync.Mutex
	prio     uint8
	prioSet  bool
	faults   map[string]bool
	faultSet bool
	poke     chan struct{}

	statusMu sync.Mutex
	status   Status

	subMu sync.Mutex
	subs  []*Subscription

	sent, recv, sendErr, readErr, mismatch, zeroRx, zeroTx atomic.Uint64
	transitions, becameMaster, addrErr, eventsDropped      atomic.Uint64
	approaches                                             atomic.Uint64
	drops                                                  [numDropReasons]atomic.Uint64
}

// NewRouter checks cfg and returns a Router using conn, addrs and ann.
// addrs and ann may be nil (a router that only elects).
func NewRouter(cfg Config, conn Conn, addrs AddrManager, ann Announcer) (*Router, error) {
	if conn == nil {
		return nil, fmt.Errorf("%w: instance %s: nil Conn", ErrConfig, cfg.Name)
	}
	local := conn.LocalAddr().Unmap()
	r := &Router{cfg: cfg, conn: conn, addrs: addrs, ann: ann, local: local,
		log: cfg.Logger, poke: make(chan struct{}, 1), faults: map[string]bool{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("instance", cfg.Name, "vrid", cfg.VRID)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: instance %s: %s", ErrConfig, cfg.Name, fmt.Sprintf(format, args...))
	}
	if cfg.VRID == 0 {
		return nil, bad("VRID must be 1..255")
	}
	if !local.IsValid() {
		return nil, bad("Conn has no local address")
	}
	if len(cfg.VIPs) > 255 {
		return nil, bad("%d virtual addresses, at most 255", len(cfg.VIPs))
	}
	for _, p := range cfg.VIPs {
		if !p.IsValid() || is6(p.Addr()) != is6(local) {
			return nil, bad("virtual address %v: not of the family of local address %v", p, local)
		}
		r.vips = append(r.vips, p.Addr().Unmap())
	}
	for _, p := range cfg.Peers {
		if !p.IsValid() || is6(p) != is6(local) {
			return nil, bad("unicast peer %v: not of the family of local address %v", p, local)
		}
		r.groups = append(r.groups, p.Unmap())
	}
	if len(r.groups) == 0 {
		r.groups = []netip.Addr{GroupV4}
		if is6(local) {
			r.groups = []netip.Addr{GroupV6}
		}
	}
	switch cfg.AuthType {
	case AuthNone:
		if cfg.AuthPass != "" {
			return nil, bad("auth_pass without auth_type PASS")
		}
	case AuthSimple:
		if cfg.Version != V2 {
			return nil, bad("authentication exists only in VRRPv2")
		}
		if cfg.AuthPass == "" {
			return nil, bad("auth_type PASS needs auth_pass")
		}
		r.auth = AuthPassword(cfg.AuthPass)
	case AuthAH:
		return nil, bad("auth_type AH is not supported")
	default:
		return nil, bad("unknown auth type %v", cfg.AuthType)
	}
	m, err := NewMachine(MachineConfig{Version: cfg.Version, Priority: cfg.Priority, Interval: cfg.Interval,
		Primary: local, NoPreempt: cfg.NoPreempt, PreemptDelay: cfg.PreemptDelay, NoAccept: cfg.NoAccept,
		InitialState: cfg.InitialState})
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", cfg.Name, err)
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
	s := Stats{
		AdvertsSent: r.sent.Load(), AdvertsReceived: r.recv.Load(), SendErrors: r.sendErr.Load(),
		ReadErrors: r.readErr.Load(), AddrMismatch: r.mismatch.Load(), PriorityZeroRx: r.zeroRx.Load(),
		PriorityZeroTx: r.zeroTx.Load(), Transitions: r.transitions.Load(), BecameMaster: r.becameMaster.Load(),
		AddrErrors: r.addrErr.Load(), EventsDropped: r.eventsDropped.Load(), FinalApproaches: r.approaches.Load(),
	}
	for i := range r.drops {
		s.Drops[i] = r.drops[i].Load()
	}
	return s
}

// SetPriority changes the local priority (1..254), as priority tracking
// does. It never blocks; the running router applies it at once. Owners
// (priority 255) ignore it.
func (r *Router) SetPriority(p uint8) {
	r.ctlMu.Lock()
	r.prio, r.prioSet = p, true
	r.ctlMu.Unlock()
	r.kick()
}

// SetFault raises (down=true) or clears the fault named source, e.g. a
// link or a tracked check. The router is in FAULT while any source is down.
// It never blocks.
func (r *Router) SetFault(source string, down bool) {
	r.ctlMu.Lock()
	if down {
		r.faults[source] = true
	} else {
		delete(r.faults, source)
	}
	r.faultSet = true
	r.ctlMu.Unlock()
	r.kick()
}

func (r *Router) kick() {
	select {
	case r.poke <- struct{}{}:
	default:
	}
}
