package vrrp

import (
	"errors"
	"net/netip"
	"time"
)

// MachineConfig is the part of a virtual router's configuration the state
// machine needs.
type MachineConfig struct {
	Version Version
	// Priority is the configured priority, 1..255; 255 means we own the
	// virtual addresses and become Master at once.
	Priority uint8
	// Interval is our Advertisement_Interval (V2: whole seconds; V3: whole
	// centiseconds). 0 means DefaultInterval.
	Interval time.Duration
	// Primary is our primary address (the advert source), used to break
	// ties between equal priorities.
	Primary netip.Addr
	// NoPreempt turns preemption off (RFC Preempt_Mode false; keepalived
	// nopreempt): a higher priority backup leaves a lower priority master be.
	NoPreempt bool
	// PreemptDelay delays preemption of a lower priority master for this
	// long after we first hear it (keepalived preempt_delay). 0 (the
	// default) and negative mean no delay.
	PreemptDelay time.Duration
	// NoAccept turns Accept_Mode off (keepalived no_accept): a non-owner
	// master must not accept packets addressed to the virtual addresses.
	// The default is keepalived's, accept; RFC 5798's default is no_accept.
	NoAccept bool
	// InitialState is keepalived's `state` hint: Backup (default, also the
	// zero value Init) or Master. A Master hint does not skip the election: a
	// non-owner starts as Backup and wins by priority, as keepalived 2.x does.
	// NoPreempt is only valid with Backup.
	InitialState State
	// Advert options from keepalived: see AdvertOptions.
	AdvertOptions
}

// Validate reports every problem of c at once, as *FieldErrors (object
// "machine") wrapping ErrInvalid.
func (c *MachineConfig) Validate() error {
	errs := c.problems("machine")
	if !c.Primary.IsValid() {
		errs = append(errs, invalid("machine", "Primary", "no primary address"))
	} else if c.Version == V2 && is6(c.Primary) {
		errs = append(errs, invalid("machine", "Primary", "%v: VRRPv2 is IPv4 only", c.Primary))
	}
	return errors.Join(errs...)
}

// problems checks what does not depend on the primary address, naming
// object in the errors (Config.Validate shares it).
func (c *MachineConfig) problems(object string) []error {
	var errs []error
	iv := c.interval()
	switch c.Version {
	case V2:
		if iv < MinIntervalV2 || iv > MaxIntervalV2 || iv%time.Second != 0 {
			errs = append(errs, invalid(object, "Interval", "v2 advert interval %v must be whole seconds in 1s..255s", iv))
		}
	case V3:
		if iv < MinIntervalV3 || iv > MaxIntervalV3 || iv%(10*time.Millisecond) != 0 {
			errs = append(errs, invalid(object, "Interval", "v3 advert interval %v must be whole centiseconds in 10ms..40.95s", iv))
		}
	default:
		errs = append(errs, invalid(object, "Version", "%v, want V2 or V3", c.Version))
	}
	if c.Priority == 0 {
		errs = append(errs, invalid(object, "Priority", "0 is reserved for a resigning master"))
	}
	errs = append(errs, c.AdvertOptions.problems(object)...)
	switch c.InitialState {
	case Init, Backup:
	case Master:
		if c.NoPreempt {
			errs = append(errs, invalid(object, "NoPreempt", "nopreempt requires initial state BACKUP"))
		}
	default:
		errs = append(errs, invalid(object, "InitialState", "%v, want BACKUP or MASTER", c.InitialState))
	}
	return errs
}

// DefaultInterval is the advert interval when Interval is 0 (keepalived's
// advert_int default).
const DefaultInterval = time.Second

// interval is Interval with its default.
func (c *MachineConfig) interval() time.Duration {
	if c.Interval == 0 {
		return DefaultInterval
	}
	return c.Interval
}

// Machine is the pure VRRP state machine of RFC 5798 §6.4 / RFC 9568 §6.4
// with keepalived's additions. It has no goroutines, clock or sockets: Step
// feeds it one input at a time with the current time and returns what to do.
// It is not safe for concurrent use.
type Machine struct {
	cfg      MachineConfig
	state    State
	priority uint8
	// masterAdver is Master_Adver_Interval: learned from the master (V3).
	masterAdver time.Duration
	master      netip.Addr
	timer       Timer
	deadline    time.Time
	// preemptAt is when a pending preemption (preempt_delay) may happen.
	preemptAt time.Time
	// resigned is set while Master_Down_Timer runs for Skew_Time after a
	// priority 0 advert.
	resigned bool
	faulted  bool
	// group is the state of the machine's sync group as last told
	// (SyncTo), Init when it is in none; want is keepalived's wantstate
	// MASTER while the group holds it in Backup (syncmachine.go).
	group State
	want  bool
	// grid, if positive, puts the master's periodic adverts on its
	// multiples (advertgrid.go).
	grid time.Duration
}

// NewMachine returns a machine in state Init.
func NewMachine(cfg MachineConfig) (*Machine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Interval = cfg.interval()
	return &Machine{cfg: cfg, priority: cfg.Priority, masterAdver: cfg.Interval}, nil
}

// Reconfigure replaces the machine's configuration, in any state, as a
// reload does: the state never changes, and no timer restarts except as
// said here. cfg's Version and Primary cannot change (a *FieldError
// wrapping ErrInvalid, as are cfg's own problems). The effective priority
// becomes cfg.Priority (a runner that tracks priority passes the tracked
// one; Step's InputPriority moves it afterwards).
//
//   - A Master advertises at once with the new priority and interval and
//     restarts Adver_Timer, so backups learn the change without waiting
//     an interval; a backup that now outranks it preempts as it would
//     after InputPriority. If Accept_Mode changed (NoAccept, or becoming
//     or ceasing to be the owner), ActAddVIPs with the new Accept comes
//     first: the addresses are present, their accept mode changes.
//   - A Backup keeps its Master_Down_Timer, armed with the interval and
//     priority of when the master's last advert arrived; V2 (whose
//     Master_Adver_Interval is its own) and a backup that has heard no
//     master take the new interval for the next arming. A pending
//     preemption (preempt_delay) planned under other preemption settings
//     is dropped, and a timer armed for it restarts as Master_Down_Timer,
//     so the next advert from the lower master plans it again under the
//     new ones, or not at all with NoPreempt.
//
// It returns the actions to carry out, appended to dst.
func (m *Machine) Reconfigure(cfg MachineConfig, now time.Time, dst []Action) ([]Action, error) {
	if err := cfg.Validate(); err != nil {
		return dst, err
	}
	var errs []error
	if cfg.Version != m.cfg.Version {
		errs = append(errs, invalid("machine", "Version", "%v cannot change to %v", m.cfg.Version, cfg.Version))
	}
	if cfg.Primary != m.cfg.Primary {
		errs = append(errs, invalid("machine", "Primary", "%v cannot change to %v", m.cfg.Primary, cfg.Primary))
	}
	if err := errors.Join(errs...); err != nil {
		return dst, err
	}
	cfg.Interval = cfg.interval()
	old, oldAccept := m.cfg, m.accept()
	m.cfg = cfg
	m.priority = cfg.Priority
	switch m.state {
	case Master:
		m.masterAdver = cfg.Interval
		if m.accept() != oldAccept {
			dst = append(dst, Action{Kind: ActAddVIPs, Accept: m.accept()})
		}
		dst = append(dst, Action{Kind: ActSend, Priority: m.priority})
		return m.arm(dst, AdverTimer, now.Add(cfg.Interval)), nil
	case Backup:
		if cfg.Version == V2 || !m.master.IsValid() {
			m.masterAdver = cfg.Interval
		}
		if !m.preemptAt.IsZero() && (cfg.NoPreempt != old.NoPreempt || cfg.PreemptDelay != old.PreemptDelay) {
			forPreempt := m.timer == MasterDownTimer && m.deadline.Equal(m.preemptAt)
			m.preemptAt = time.Time{}
			if forPreempt {
				dst = m.arm(dst, MasterDownTimer, now.Add(m.MasterDownInterval()))
			}
		}
	default:
		m.masterAdver = cfg.Interval
	}
	return dst, nil
}

// accept reports whether, as master, the machine accepts packets
// addressed to the virtual addresses (RFC 5798 Accept_Mode): always as
// the address owner, otherwise unless NoAccept.
func (m *Machine) accept() bool { return m.priority == PriorityOwner || !m.cfg.NoAccept }

// State is the current state.
func (m *Machine) State() State { return m.state }

// Priority is the current (effective) local priority.
func (m *Machine) Priority() uint8 { return m.priority }

// Master is the address of the current master: ours when Master, the
// last accepted advert's source when Backup, invalid otherwise.
func (m *Machine) Master() netip.Addr {
	switch m.state {
	case Master:
		return m.cfg.Primary
	case Backup:
		return m.master
	}
	return netip.Addr{}
}

// MasterAdverInterval is the master's advert interval as learned (V3) or
// configured (V2).
func (m *Machine) MasterAdverInterval() time.Duration { return m.masterAdver }

// Deadline returns the armed timer and when it expires (NoTimer if none).
func (m *Machine) Deadline() (Timer, time.Time) { return m.timer, m.deadline }

// SkewTime is Skew_Time: (256 − Priority) × Master_Adver_Interval / 256 for
// V3 (RFC 9568 §6.1), (256 − Priority) / 256 s for V2 (RFC 3768 §6.1).
func (m *Machine) SkewTime() time.Duration {
	unit := m.masterAdver
	if m.cfg.Version == V2 {
		unit = time.Second
	}
	return time.Duration(256-int64(m.priority)) * unit / 256
}

// MasterDownInterval is 3 × Master_Adver_Interval + Skew_Time (3, or
// MachineConfig.DownTimerAdverts).
func (m *Machine) MasterDownInterval() time.Duration {
	return time.Duration(m.cfg.downTimerAdverts())*m.masterAdver + m.SkewTime()
}

// Step applies one input at time now and appends the resulting actions to
// dst. Inputs that do not apply in the current state (a stale timer, an
// advert while stopped) produce no actions.
func (m *Machine) Step(in Input, now time.Time, dst []Action) []Action {
	switch in.Kind {
	case InputStartup:
		if m.state != Init && m.state != Stopped {
			return dst
		}
		if !m.startsMaster() {
			// Whoever put the virtual addresses here (a run that crashed,
			// an operator), they are present only while we are master:
			// a router that does not start as master removes them, with
			// their routes and rules, as keepalived does at start
			// (vrrp_init_state → vrrp_restore_interface, forced).
			dst = append(dst, Action{Kind: ActRemoveVIPs})
		}
		if m.down() {
			return m.enterFault(dst, ReasonStartup)
		}
		return m.start(dst, now, ReasonStartup)
	case InputResume:
		if m.state != Init && m.state != Stopped {
			return dst
		}
		return m.resume(dst, now)
	case InputShutdown:
		return m.shutdown(dst)
	case InputTimer:
		if m.staleTimer(in.Timer, now) {
			return dst
		}
		return m.timerExpired(dst, now)
	case InputAdvert:
		switch m.state {
		case Backup:
			return m.backupAdvert(dst, in, now)
		case Master:
			return m.masterAdvert(dst, in, now)
		}
	case InputPriority:
		return m.setPriority(dst, in.Priority, now)
	case InputFault:
		m.faulted = true
		if m.state == Backup || m.state == Master {
			return m.enterFault(dst, ReasonFault)
		}
	case InputFaultCleared:
		m.faulted = false
		if m.state == Fault && !m.down() {
			return m.start(dst, now, ReasonFaultCleared)
		}
	}
	return dst
}

func (m *Machine) transition(dst []Action, to State, why Reason) []Action {
	from := m.state
	m.state = to
	m.preemptAt = time.Time{}
	m.resigned = false
	m.want = false
	return append(dst, Action{Kind: ActTransition, From: from, To: to, Reason: why})
}

func (m *Machine) arm(dst []Action, t Timer, at time.Time) []Action {
	m.timer, m.deadline = t, at
	return append(dst, Action{Kind: ActArmTimer, Timer: t, At: at})
}

// adverSentUntil tells a Master's machine that its adverts were sent,
// each when due, by someone else (the Router's Socket: sendrepeat.go),
// up to next, when the Adver_Timer is now due; it does nothing unless
// the Adver_Timer is armed.
func (m *Machine) adverSentUntil(next time.Time) {
	if m.timer == AdverTimer {
		m.deadline = next
	}
}

// staleTimer reports whether an expiry of t at now is stale, which Step
// ignores: t is not the timer armed, or its deadline has not come.
func (m *Machine) staleTimer(t Timer, now time.Time) bool {
	return t != m.timer || m.timer == NoTimer || now.Before(m.deadline)
}

func (m *Machine) stopTimer(dst []Action) []Action {
	if m.timer == NoTimer {
		return dst
	}
	m.timer, m.deadline = NoTimer, time.Time{}
	return append(dst, Action{Kind: ActStopTimer})
}

// start is RFC 5798 §6.4.1 (Initialize).
func (m *Machine) start(dst []Action, now time.Time, why Reason) []Action {
	m.masterAdver = m.cfg.Interval
	m.master = netip.Addr{}
	if m.priority == PriorityOwner && m.mayMaster() {
		return m.becomeMaster(dst, now, why)
	}
	dst = m.arm(dst, MasterDownTimer, now.Add(m.MasterDownInterval()))
	return m.transition(dst, Backup, why)
}

func (m *Machine) becomeMaster(dst []Action, now time.Time, why Reason) []Action {
	m.masterAdver = m.cfg.Interval
	// The wire first: the advert (RFC 5798 §6.4.1, so an old master still
	// alive steps down before the segment moves), then the gratuitous ARP
	// / NA that moves the segment's traffic, then the addresses, whose
	// kernel work (0.1–0.35 ms) would otherwise delay both. keepalived
	// sends advert, adds, then announces (vrrp_state_master_tx,
	// vrrp_state_become_master); FRR's addresses are always on its
	// macvlan and it sends advert then announces (vrrp_change_state_master).
	// A frame for a VIP that reaches us between the announcement and the
	// add is dropped, as it would have been at the silent master; the
	// package doc ("Virtual addresses: the guarantee") says what that costs.
	dst = append(dst,
		Action{Kind: ActSend, Priority: m.priority},
		Action{Kind: ActAnnounce},
		Action{Kind: ActAddVIPs, Accept: m.accept()})
	dst = m.arm(dst, AdverTimer, now.Add(m.cfg.Interval))
	return m.transition(dst, Master, why)
}

// resume is InputResume: the addresses of the master this machine
// replaces are present, and the segment takes us for its master. We are
// master again at once: the addresses are added (idempotent: they stay,
// with our accept mode), an advert goes out so the backups' timers
// restart, and the segment is told again. A machine that may not be
// master (a fault, its sync group's state) leaves as a master does:
// priority 0 and the addresses removed for a fault; the addresses removed
// and Backup for its group.
func (m *Machine) resume(dst []Action, now time.Time) []Action {
	switch {
	case m.down():
		dst = append(dst, Action{Kind: ActSend, Priority: PriorityStop}, Action{Kind: ActRemoveVIPs})
		return m.enterFault(dst, ReasonStartup)
	case !m.mayMaster():
		dst = append(dst, Action{Kind: ActRemoveVIPs})
		return m.start(dst, now, ReasonStartup)
	}
	return m.becomeMaster(dst, now, ReasonResumed)
}

func (m *Machine) enterFault(dst []Action, why Reason) []Action {
	if m.state == Master {
		dst = append(dst, Action{Kind: ActSend, Priority: PriorityStop}, Action{Kind: ActRemoveVIPs})
	}
	dst = m.stopTimer(dst)
	return m.transition(dst, Fault, why)
}

// shutdown is the Shutdown event of §6.4.2 / §6.4.3.
func (m *Machine) shutdown(dst []Action) []Action {
	switch m.state {
	case Stopped:
		return dst
	case Master:
		dst = append(dst, Action{Kind: ActSend, Priority: PriorityStop}, Action{Kind: ActRemoveVIPs})
	}
	dst = m.stopTimer(dst)
	return m.transition(dst, Stopped, ReasonShutdown)
}

func (m *Machine) timerExpired(dst []Action, now time.Time) []Action {
	switch m.timer {
	case MasterDownTimer:
		if !m.mayMaster() {
			return m.hold(dst, now)
		}
		why := ReasonMasterDown
		switch {
		case m.resigned:
			why = ReasonPriorityZero
		case !m.preemptAt.IsZero() && !now.Before(m.preemptAt):
			why = ReasonPreempt
		}
		m.resigned = false
		return m.becomeMaster(dst, now, why)
	case AdverTimer:
		dst = append(dst, Action{Kind: ActSend, Priority: m.priority})
		return m.arm(dst, AdverTimer, nextAdver(m.deadline, now, m.cfg.Interval, m.grid))
	}
	return dst
}

// backupAdvert is RFC 9568 §6.4.2, "If an ADVERTISEMENT is received".
func (m *Machine) backupAdvert(dst []Action, in Input, now time.Time) []Action {
	if in.Priority == PriorityStop {
		// The master resigned: take over after Skew_Time.
		m.master = in.Src
		m.resigned = true
		return m.arm(dst, MasterDownTimer, now.Add(m.SkewTime()))
	}
	lower := in.Priority < m.priority
	if lower && !m.cfg.NoPreempt {
		if m.cfg.PreemptDelay <= 0 {
			return dst // discard: Master_Down_Timer fires and we preempt
		}
		if m.preemptAt.IsZero() {
			m.preemptAt = now.Add(m.cfg.PreemptDelay)
		}
		if !now.Before(m.preemptAt) {
			return dst
		}
	}
	m.resigned = false
	m.want = false
	m.master = in.Src
	if m.cfg.Version == V3 {
		m.masterAdver = in.Interval
	}
	at := now.Add(m.MasterDownInterval())
	if lower && !m.cfg.NoPreempt && m.preemptAt.Before(at) {
		// keepalived preempt_delay: accept the lower master until the delay
		// is over, then take over at once rather than a Master_Down later.
		at = m.preemptAt
	}
	if !lower {
		m.preemptAt = time.Time{}
	}
	return m.arm(dst, MasterDownTimer, at)
}

// masterAdvert is RFC 9568 §6.4.3, "If an ADVERTISEMENT is received".
func (m *Machine) masterAdvert(dst []Action, in Input, now time.Time) []Action {
	if in.Priority == PriorityStop {
		// Another master resigned: assert ourselves at once.
		dst = append(dst, Action{Kind: ActSend, Priority: m.priority})
		return m.arm(dst, AdverTimer, now.Add(m.cfg.Interval))
	}
	if in.Priority > m.priority || (in.Priority == m.priority && addrGreater(in.Src, m.cfg.Primary)) {
		if m.cfg.HigherPrioSendAdvert {
			dst = append(dst, Action{Kind: ActSend, Priority: m.priority})
		}
		dst = m.stopTimer(dst)
		if m.cfg.Version == V3 {
			m.masterAdver = in.Interval
		}
		m.master = in.Src
		dst = append(dst, Action{Kind: ActRemoveVIPs})
		dst = m.arm(dst, MasterDownTimer, now.Add(m.MasterDownInterval()))
		return m.transition(dst, Backup, ReasonHigherPriority)
	}
	// A lower priority master (e.g. after a partition heals): keepalived
	// forces a new election by advertising at once, and re-announces the
	// addresses the other master may have drawn to itself.
	if m.cfg.LowerPrioNoAdvert {
		return append(dst, Action{Kind: ActAnnounce, LowerPrio: true})
	}
	dst = append(dst, Action{Kind: ActSend, Priority: m.priority}, Action{Kind: ActAnnounce, LowerPrio: true})
	return m.arm(dst, AdverTimer, now.Add(m.cfg.Interval))
}

func (m *Machine) setPriority(dst []Action, p uint8, now time.Time) []Action {
	if p == PriorityStop || p == m.priority || m.cfg.Priority == PriorityOwner || p == PriorityOwner {
		// 0 and 255 are not effective priorities for a non-owner; an
		// owner's priority does not move (keepalived ignores tracking there).
		return dst
	}
	m.priority = p
	if m.state == Master {
		// Tell the backups now so a higher one can preempt.
		dst = append(dst, Action{Kind: ActSend, Priority: p})
		return m.arm(dst, AdverTimer, now.Add(m.cfg.Interval))
	}
	return dst
}

// addrGreater compares addresses as unsigned integers in network byte order.
func addrGreater(a, b netip.Addr) bool {
	return a.Unmap().Compare(b.Unmap()) > 0
}
