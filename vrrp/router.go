package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// PacketInfo describes a received or sent VRRP message.
type PacketInfo struct {
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or IPv6 hop limit the message arrived with.
	TTL uint8
	// IfIndex is the interface it arrived on (0 if unknown).
	IfIndex int
	// Time is when the message arrived, if the Conn knows (the Linux
	// Socket reports the kernel's receive timestamp); the Router restarts
	// its timers from it (otherwise from when it reads the message).
	Time time.Time
}

// Conn carries VRRP messages (IP payloads, protocol 112) for one virtual
// router. Socket.Conn provides the raw-socket implementation (Linux);
// vrrptest.Hub provides an in-memory one.
type Conn interface {
	// ReadAdvert blocks until a message arrives, copies it into b and
	// returns its length and addressing. It returns ctx.Err() once ctx is
	// done, and net.ErrClosed when the Conn can never deliver again.
	ReadAdvert(ctx context.Context, b []byte) (int, PacketInfo, error)
	// WriteAdvert sends b to dst (a multicast group or a unicast peer)
	// with TTL/hop limit 255 from LocalAddr.
	WriteAdvert(ctx context.Context, b []byte, dst netip.Addr) error
	// LocalAddr is the source address of our adverts: the interface's
	// primary IPv4 address, its IPv6 link-local address, or the unicast
	// source. It is also our primary address for tie-breaking.
	LocalAddr() netip.Addr
}

// AddrManager adds and removes the virtual addresses on the router's
// interface. Both calls are idempotent.
type AddrManager interface {
	// AddVIPs adds vips. accept is false when the master must not accept
	// packets addressed to them (RFC 5798 Accept_Mode false).
	AddVIPs(ctx context.Context, vips []netip.Prefix, accept bool) error
	// RemoveVIPs removes vips.
	RemoveVIPs(ctx context.Context, vips []netip.Prefix) error
}

// Announcer tells the segment where the virtual addresses are: gratuitous
// ARP for IPv4, unsolicited neighbour advertisements for IPv6.
type Announcer interface {
	// Announce starts announcing addrs and returns promptly. Repeats and
	// periodic refreshes, if any, run until ctx is done; the Router cancels
	// ctx when it stops being Master.
	Announce(ctx context.Context, addrs []netip.Addr) error
}

// DropReason says why a received message was discarded.
type DropReason uint8

// Drop reasons, counted in Stats.Drops.
const (
	DropNone      DropReason = iota
	DropTTL                  // TTL / hop limit not 255
	DropMalformed            // too short, wrong length, type, zero interval, family
	DropVersion              // not our VRRP version
	DropChecksum             // bad checksum
	DropVRID                 // another virtual router's advert (quiet)
	DropAuth                 // v2 authentication type or password mismatch, or AH
	DropInterval             // v2 advert interval differs from ours
	DropOwn                  // our own advert looped back
	DropPeer                 // unicast mode: not from a configured peer
	numDropReasons
)

func (d DropReason) String() string {
	switch d {
	case DropNone:
		return "none"
	case DropTTL:
		return "ttl"
	case DropMalformed:
		return "malformed"
	case DropVersion:
		return "version"
	case DropChecksum:
		return "checksum"
	case DropVRID:
		return "vrid"
	case DropAuth:
		return "auth"
	case DropInterval:
		return "interval"
	case DropOwn:
		return "own"
	case DropPeer:
		return "peer"
	}
	return fmt.Sprintf("DropReason(%d)", uint8(d))
}

// Config configures a Router.
type Config struct {
	// Name names the instance in logs and events (keepalived's vrrp_instance).
	Name string
	// VRID is the virtual router identifier, 1..255.
	VRID     uint8
	Version  Version
	Priority uint8
	// Interval is the advert interval (V2: whole seconds; V3: centiseconds).
	Interval time.Duration
	// VIPs are the virtual addresses with their prefix lengths, all of one
	// family, that of Conn.LocalAddr. At most 255.
	VIPs []netip.Prefix
	// Peers switches to unicast: adverts go to each peer and are accepted
	// only from them. Empty means multicast (224.0.0.18 / ff02::12).
	Peers []netip.Addr
	// AuthType and AuthPass configure V2 authentication (keepalived
	// auth_type PASS / auth_pass; only the first 8 bytes count).
	AuthType AuthType
	AuthPass string
	// NoPreempt, PreemptDelay, NoAccept and InitialState: see MachineConfig.
	NoPreempt    bool
	PreemptDelay time.Duration
	NoAccept     bool
	InitialState State
	// PreciseTimers (Linux) runs Master_Down_Timer on a timerfd, so a
	// backup takes over within microseconds of the RFC's deadline rather
	// than with the Go runtime's timer granularity (up to ~1 ms late on an
	// idle process). The master's Adver_Timer stays a Go timer: an advert a
	// fraction of a millisecond late is harmless, and it costs no syscalls.
	// The timerfd fires FinalApproach before the deadline and the router
	// then polls until the deadline, so waking an idle CPU and thread is
	// not added to the takeover. Leave PreciseTimers off inside
	// testing/synctest bubbles, whose fake clock only drives Go timers.
	PreciseTimers bool
	// FinalApproach is how long before Master_Down_Timer's deadline a
	// router with PreciseTimers stops sleeping and polls (one CPU busy for
	// that long, once per imminent takeover: only after adverts from the
	// master have stopped for about three intervals). 0 means the default,
	// 1 ms; negative turns it off.
	FinalApproach time.Duration
	// Logger receives the router's logs; nil discards them.
	Logger *slog.Logger
}

// Event is a state transition, as published to subscribers.
type Event struct {
	Instance string
	Time     time.Time
	From, To State
	Reason   Reason
	Priority uint8
	// Master is the master's address after the transition, if known.
	Master netip.Addr
}

// Status is a snapshot of a router's state.
type Status struct {
	State    State
	Priority uint8
	// Master is the current master's address (ours when Master).
	Master netip.Addr
	// MasterAdverInterval is the master's advert interval as learned.
	MasterAdverInterval time.Duration
	// Since is when the router entered State.
	Since time.Time
}

// Stats are a router's counters since it was created.
type Stats struct {
	AdvertsSent     uint64
	AdvertsReceived uint64 // accepted by validation
	SendErrors      uint64
	ReadErrors      uint64
	Drops           [numDropReasons]uint64 // indexed by DropReason
	AddrMismatch    uint64                 // accepted adverts whose address list differs from ours
	PriorityZeroRx  uint64
	PriorityZeroTx  uint64
	Transitions     uint64
	BecameMaster    uint64
	AddrErrors      uint64 // AddrManager or Announcer failures
	EventsDropped   uint64 // events a full subscriber queue lost
	// FinalApproaches counts the times the router polled through the last
	// FinalApproach before a Master_Down_Timer deadline (PreciseTimers).
	FinalApproaches uint64
}

// Drop returns the count for one drop reason.
func (s Stats) Drop(r DropReason) uint64 {
	if r >= numDropReasons {
		return 0
	}
	return s.Drops[r]
}

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

// Subscription receives a router's transitions.
type Subscription struct {
	r       *Router
	c       chan Event
	dropped atomic.Uint64
}

// Subscribe returns a subscription whose channel holds up to buf events
// (at least 1). The router never waits for a subscriber: when the buffer is
// full the oldest event is dropped and counted.
func (r *Router) Subscribe(buf int) *Subscription {
	if buf < 1 {
		buf = 1
	}
	s := &Subscription{r: r, c: make(chan Event, buf)}
	r.subMu.Lock()
	r.subs = append(r.subs, s)
	r.subMu.Unlock()
	return s
}

// C is the channel of events. It is never closed.
func (s *Subscription) C() <-chan Event { return s.c }

// Dropped counts events lost because the channel was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Forward calls fn for each event, in order, until done is closed, then
// for the events still queued, and returns. Close done once the router's
// Run has returned, and Forward will have passed on every transition.
func (s *Subscription) Forward(done <-chan struct{}, fn func(Event)) {
	for {
		select {
		case e := <-s.c:
			fn(e)
		case <-done:
			for {
				select {
				case e := <-s.c:
					fn(e)
				default:
					return
				}
			}
		}
	}
}

// Close stops delivery to s.
func (s *Subscription) Close() {
	s.r.subMu.Lock()
	defer s.r.subMu.Unlock()
	for i, x := range s.r.subs {
		if x == s {
			s.r.subs = append(s.r.subs[:i], s.r.subs[i+1:]...)
			return
		}
	}
}

func (r *Router) publish(e Event) {
	r.subMu.Lock()
	subs := append([]*Subscription(nil), r.subs...)
	r.subMu.Unlock()
	for _, s := range subs {
		for {
			select {
			case s.c <- e:
			default:
				// Full: drop the oldest and try again (we are the only sender).
				select {
				case <-s.c:
					s.dropped.Add(1)
					r.eventsDropped.Add(1)
				default:
				}
				continue
			}
			break
		}
	}
}

// rxAdvert is an accepted advert handed from the reader to the loop.
type rxAdvert struct {
	prio     uint8
	interval time.Duration
	src      netip.Addr
	at       time.Time // when it was read: timers restart from here
}

// Run runs the router until ctx is done, then shuts it down: a Master sends
// priority 0 and removes its addresses. It returns only when every
// goroutine it started has ended: nil after ctx is done, or an error if the
// Conn failed for good. A Router runs once.
func (r *Router) Run(ctx context.Context) error {
	if !r.ran.CompareAndSwap(false, true) {
		return ErrRunning
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rx := make(chan rxAdvert, 16)
	readErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { readErr <- r.readLoop(rctx, rx) })
	defer wg.Wait()

	lp := loop{r: r, timer: newGoTimer()}
	lp.fine = lp.timer
	if r.cfg.PreciseTimers {
		t, err := newPreciseTimer()
		if err != nil {
			r.log.Warn("vrrp: precise timers unavailable; using Go timers", "err", err)
		} else {
			lp.fine = t
			defer t.Close()
			lp.lead = r.cfg.FinalApproach
			if lp.lead == 0 {
				lp.lead = time.Millisecond
			}
		}
	}
	defer lp.timer.Close()
	defer lp.endMastership()
	r.applyControl(&lp, ctx)
	lp.step(ctx, Input{Kind: InputStartup})
	for {
		select {
		case <-ctx.Done():
			lp.shutdown(ctx)
			return nil
		case err := <-readErr:
			if err == nil { // the reader saw ctx end first
				lp.shutdown(ctx)
				return nil
			}
			r.log.Error("vrrp: receive failed for good; stopping", "err", err)
			lp.shutdown(ctx)
			return fmt.Errorf("vrrp: instance %s: receive: %w", r.cfg.Name, err)
		case a := <-rx:
			lp.stepAt(ctx, Input{Kind: InputAdvert, Priority: a.prio, Interval: a.interval, Src: a.src}, a.at)
		case <-lp.timer.C():
			lp.step(ctx, Input{Kind: InputTimer, Timer: lp.armed})
		case <-lp.fine.C():
			if lp.approach.IsZero() {
				lp.step(ctx, Input{Kind: InputTimer, Timer: lp.armed})
				continue
			}
			lp.finalApproach(ctx, rx)
		case <-r.poke:
			r.applyControl(&lp, ctx)
		}
	}
}

// applyControl feeds pending SetPriority/SetFault calls to the machine.
func (r *Router) applyControl(lp *loop, ctx context.Context) {
	r.ctlMu.Lock()
	prio, prioSet := r.prio, r.prioSet
	faulted, faultSet := len(r.faults) > 0, r.faultSet
	r.prioSet, r.faultSet = false, false
	r.ctlMu.Unlock()
	if prioSet {
		lp.step(ctx, Input{Kind: InputPriority, Priority: prio})
	}
	if faultSet {
		k := InputFaultCleared
		if faulted {
			k = InputFault
		}
		lp.step(ctx, Input{Kind: k})
	}
}

// loop is the state owned by Run's goroutine.
type loop struct {
	r *Router
	// timer is a Go timer; fine is the precise one for Master_Down_Timer
	// (the same as timer without PreciseTimers). Stale expiries of either
	// are ignored by the machine.
	timer     stepTimer
	fine      stepTimer
	fineArmed bool
	armed     Timer
	// approach, if set, is the Master_Down_Timer deadline the fine timer
	// was armed FinalApproach ahead of.
	approach time.Time
	lead     time.Duration
	actions  []Action
	buf      []byte
	adv      Advertisement
	// masterCtx lives while we are Master; announcements are bound to it.
	masterCtx    context.Context
	masterCancel context.CancelFunc
}

// finalApproach runs when the fine timer fires FinalApproach ahead of
// Master_Down_Timer's deadline: it polls (no sleeping) until the deadline,
// still taking adverts, control calls and cancellation, and then steps the
// timer. An advert that re-arms or stops the timer ends the approach.
func (lp *loop) finalApproach(ctx context.Context, rx <-chan rxAdvert) {
	r := lp.r
	deadline := lp.approach
	if time.Until(deadline) > 2*lp.lead {
		return // a stale expiry from before the timer was re-armed
	}
	lp.approach = time.Time{}
	r.approaches.Add(1)
	for {
		if !time.Now().Before(deadline) {
			lp.step(ctx, Input{Kind: InputTimer, Timer: lp.armed})
			return
		}
		select {
		case a := <-rx:
			lp.stepAt(ctx, Input{Kind: InputAdvert, Priority: a.prio, Interval: a.interval, Src: a.src}, a.at)
		case <-r.poke:
			r.applyControl(lp, ctx)
		case <-ctx.Done():
			return // Run's loop sees it next
		default:
			runtime.Gosched()
			continue
		}
		if t, at := r.machine.Deadline(); t != MasterDownTimer || !at.Equal(deadline) {
			return // re-armed (the master is back) or stopped: the timers have it
		}
	}
}

func (lp *loop) shutdown(ctx context.Context) {
	// Cleanup must still reach the network and the kernel after ctx ended.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	lp.step(cctx, Input{Kind: InputShutdown})
}

func (lp *loop) endMastership() {
	if lp.masterCancel != nil {
		lp.masterCancel()
		lp.masterCtx, lp.masterCancel = nil, nil
	}
}

func (lp *loop) step(ctx context.Context, in Input) { lp.stepAt(ctx, in, time.Now()) }

// stepAt applies in as of time now (for adverts: when they were read, so
// the handoff from the reader does not delay the timers).
func (lp *loop) stepAt(ctx context.Context, in Input, now time.Time) {
	r := lp.r
	lp.actions = r.machine.Step(in, now, lp.actions[:0])
	for _, a := range lp.actions {
		switch a.Kind {
		case ActSend:
			lp.send(ctx, a.Priority)
		case ActArmTimer:
			lp.armed = a.Timer
			lp.approach = time.Time{}
			if a.Timer == MasterDownTimer && lp.fine != lp.timer {
				lp.timer.Stop()
				d := time.Until(a.At)
				if lp.lead > 0 && d > 2*lp.lead {
					d -= lp.lead
					lp.approach = a.At
				}
				lp.fine.Reset(d)
				lp.fineArmed = true
			} else {
				if lp.fineArmed {
					lp.fine.Stop() // a syscall: only when it was armed
					lp.fineArmed = false
				}
				lp.timer.Reset(time.Until(a.At))
			}
		case ActStopTimer:
			lp.armed = NoTimer
			lp.approach = time.Time{}
			lp.timer.Stop()
			if lp.fineArmed {
				lp.fine.Stop()
				lp.fineArmed = false
			}
		case ActAddVIPs:
			if r.addrs != nil && len(r.cfg.VIPs) > 0 {
				if err := r.addrs.AddVIPs(ctx, r.cfg.VIPs, a.Accept); err != nil {
					r.addrErr.Add(1)
					r.log.Error("vrrp: adding virtual addresses failed", "err", err)
				}
			}
		case ActRemoveVIPs:
			lp.endMastership()
			if r.addrs != nil && len(r.cfg.VIPs) > 0 {
				if err := r.addrs.RemoveVIPs(ctx, r.cfg.VIPs); err != nil {
					r.addrErr.Add(1)
					r.log.Error("vrrp: removing virtual addresses failed", "err", err)
				}
			}
		case ActAnnounce:
			if r.ann != nil && len(r.vips) > 0 {
				if lp.masterCtx == nil {
					lp.masterCtx, lp.masterCancel = context.WithCancel(ctx)
				}
				if err := r.ann.Announce(lp.masterCtx, r.vips); err != nil {
					r.addrErr.Add(1)
					r.log.Error("vrrp: announcing virtual addresses failed", "err", err)
				}
			}
		case ActTransition:
			if a.From == Master {
				lp.endMastership()
			}
			lp.transition(a, now)
		}
	}
	m := r.machine
	r.statusMu.Lock()
	r.status.Priority, r.status.Master, r.status.MasterAdverInterval = m.Priority(), m.Master(), m.MasterAdverInterval()
	r.statusMu.Unlock()
}

func (lp *loop) transition(a Action, now time.Time) {
	r := lp.r
	m := r.machine
	r.transitions.Add(1)
	if a.To == Master {
		r.becameMaster.Add(1)
	}
	st := Status{State: a.To, Priority: m.Priority(), Master: m.Master(), MasterAdverInterval: m.MasterAdverInterval(), Since: now}
	r.statusMu.Lock()
	r.status = st
	r.statusMu.Unlock()
	r.log.Info("vrrp: transition", "from", a.From.String(), "to", a.To.String(), "reason", a.Reason.String(),
		"priority", st.Priority, "master", st.Master)
	r.publish(Event{Instance: r.cfg.Name, Time: now, From: a.From, To: a.To, Reason: a.Reason, Priority: st.Priority, Master: st.Master})
}

func (lp *loop) send(ctx context.Context, prio uint8) {
	r := lp.r
	lp.adv = Advertisement{Version: r.cfg.Version, VRID: r.cfg.VRID, Priority: prio, Interval: r.cfg.Interval,
		Addrs: r.vips, AuthType: r.cfg.AuthType, Auth: r.auth}
	if prio == PriorityStop {
		r.zeroTx.Add(1)
	}
	for _, dst := range r.groups {
		b, err := lp.adv.AppendMarshal(lp.buf[:0], r.local, dst)
		if err != nil {
			// NewRouter validated everything Marshal checks.
			r.sendErr.Add(1)
			r.log.Error("vrrp: encoding advert", "err", err)
			return
		}
		lp.buf = b
		if err := r.conn.WriteAdvert(ctx, b, dst); err != nil {
			if r.sendErr.Add(1) == 1 || r.sendErr.Load()%100 == 0 {
				r.log.Warn("vrrp: sending advert failed", "dst", dst, "err", err, "errors", r.sendErr.Load())
			}
			continue
		}
		r.sent.Add(1)
	}
}

// readLoop receives, validates and hands accepted adverts to the loop.
func (r *Router) readLoop(ctx context.Context, out chan<- rxAdvert) error {
	buf := make([]byte, 2048)
	var a Advertisement
	var backoff time.Duration
	for {
		n, info, err := r.conn.ReadAdvert(ctx, buf)
		at := info.Time
		if at.IsZero() {
			at = time.Now()
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			c := r.readErr.Add(1)
			if c == 1 || c%100 == 0 {
				r.log.Warn("vrrp: receive error", "err", err, "errors", c)
			}
			// Back off a little so a persistent error does not spin.
			backoff = min(max(2*backoff, time.Millisecond), 100*time.Millisecond)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		backoff = 0
		if why := r.validate(buf[:n], info, &a); why != DropNone {
			r.drops[why].Add(1)
			if why != DropVRID && why != DropOwn {
				r.log.Debug("vrrp: advert dropped", "src", info.Src, "reason", why.String())
			}
			continue
		}
		r.recv.Add(1)
		if a.Priority == PriorityStop {
			r.zeroRx.Add(1)
		}
		select {
		case out <- rxAdvert{prio: a.Priority, interval: a.Interval, src: info.Src.Unmap(), at: at}:
		case <-ctx.Done():
			return nil
		}
	}
}

// validate applies keepalived's receive checks to one message and returns
// why it must be dropped, or DropNone. An address list that differs from
// ours is counted and logged but accepted, as keepalived does.
func (r *Router) validate(b []byte, info PacketInfo, a *Advertisement) DropReason {
	if info.TTL != TTL {
		return DropTTL
	}
	if err := a.Unmarshal(b, info.Src.Unmap(), info.Dst.Unmap()); err != nil {
		switch {
		case errors.Is(err, ErrVersion):
			return DropVersion
		case errors.Is(err, ErrChecksum):
			return DropChecksum
		case errors.Is(err, ErrAuthAH), errors.Is(err, ErrAuthType):
			return DropAuth
		}
		return DropMalformed
	}
	if a.Version != r.cfg.Version {
		return DropVersion
	}
	if a.VRID != r.cfg.VRID {
		return DropVRID
	}
	src := info.Src.Unmap()
	if src == r.local {
		return DropOwn
	}
	if len(r.cfg.Peers) > 0 && !containsAddr(r.groups, src) {
		return DropPeer
	}
	if a.Version == V2 {
		if a.AuthType != r.cfg.AuthType || (a.AuthType == AuthSimple && a.Auth != r.auth) {
			return DropAuth
		}
		if a.Interval != r.cfg.Interval {
			return DropInterval
		}
	}
	if !sameAddrs(a.Addrs, r.vips) {
		if r.mismatch.Add(1) == 1 {
			r.log.Warn("vrrp: advert address list differs from ours; accepting it", "src", src,
				"theirs", fmt.Sprint(a.Addrs), "ours", fmt.Sprint(r.vips))
		}
	}
	return DropNone
}

func containsAddr(s []netip.Addr, a netip.Addr) bool {
	for _, x := range s {
		if x == a {
			return true
		}
	}
	return false
}

func sameAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !containsAddr(b, x) {
			return false
		}
	}
	return true
}
