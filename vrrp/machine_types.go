package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// State is the state of a virtual router. The zero value is Init.
type State uint8

// States of RFC 5798 §6.4, plus Fault (keepalived's FAULT: a tracked
// interface or check is down) and Stopped (after Shutdown).
const (
	Init    State = iota // INIT
	Backup               // BACKUP
	Master               // MASTER
	Fault                // FAULT
	Stopped              // STOPPED
)

// MarshalText encodes s as its name (MASTER), for JSON and logs.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a name MarshalText wrote.
func (s *State) UnmarshalText(b []byte) error { return unmarshalName(s, Stopped, "state", b) }

// Reason says why a transition happened.
type Reason uint8

// MarshalText encodes r as its name (master-down), for JSON and logs.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText decodes a name MarshalText wrote.
func (r *Reason) UnmarshalText(b []byte) error { return unmarshalName(r, reasonLast, "reason", b) }

// unmarshalName sets *v to the value in 0..last whose String is b.
func unmarshalName[T interface {
	~uint8
	String() string
}](v *T, last T, what string, b []byte) error {
	for x := T(0); x <= last; x++ {
		if x.String() == string(b) {
			*v = x
			return nil
		}
	}
	return fmt.Errorf("vrrp: unknown %s %q", what, b)
}

// Transition reasons. The zero value is ReasonNone.
const (
	ReasonNone Reason = iota // none
	// ReasonStartup: started; owners go to Master, others to Backup.
	ReasonStartup // startup
	// ReasonMasterDown: Master_Down_Timer expired, no advert from a master.
	ReasonMasterDown // master-down
	// ReasonPriorityZero: the master resigned (priority 0) and Skew_Time
	// passed.
	ReasonPriorityZero // master-resigned
	// ReasonPreempt: preemption, we outrank the master (after
	// preempt_delay).
	ReasonPreempt // preempt
	// ReasonHigherPriority: an advert from a higher priority (or equal
	// priority, higher address) master.
	ReasonHigherPriority // higher-priority
	// ReasonFault: a fault was raised.
	ReasonFault // fault
	// ReasonFaultCleared: the last fault cleared.
	ReasonFaultCleared // fault-cleared
	// ReasonShutdown: the router was shut down.
	ReasonShutdown // shutdown
	// ReasonSyncGroup: the router's sync group moved it (SyncTo).
	ReasonSyncGroup // sync-group
	// ReasonResumed: a router restarted while master resumed its
	// mastership (InputResume).
	ReasonResumed // resumed

	reasonLast = ReasonResumed
)

// Timer names the one timer a virtual router runs at a time.
type Timer uint8

// Timers. The zero value is NoTimer.
const (
	NoTimer Timer = iota // none
	// MasterDownTimer is Master_Down_Timer, run by a Backup.
	MasterDownTimer // master-down
	// AdverTimer is Adver_Timer, run by a Master.
	AdverTimer // adver
)

// InputKind is the kind of an Input.
type InputKind uint8

// Inputs to the state machine. The zero value is invalid.
const (
	_ InputKind = iota
	// InputStartup starts the router (RFC "Startup event").
	InputStartup // startup
	// InputAdvert: a valid advert for our VRID was received.
	InputAdvert // advert
	// InputTimer: the armed timer expired.
	InputTimer // timer
	// InputShutdown stops the router (RFC "Shutdown event").
	InputShutdown // shutdown
	// InputPriority: the local priority changed (tracking).
	InputPriority // priority
	// InputFault: a fault was raised.
	InputFault // fault
	// InputFaultCleared: all faults cleared.
	InputFaultCleared // fault-cleared
	// InputResume starts the router as Master with its virtual addresses
	// already held: instead of InputStartup, when the runner of a master
	// is restarted (vigil's watchdog) and the addresses must not flap.
	InputResume // resume
)

// Input is one event for Machine.Step.
type Input struct {
	Kind InputKind
	// Priority is the advert's priority (InputAdvert) or the new local
	// priority (InputPriority).
	Priority uint8
	// Interval is the advert's interval (InputAdvert).
	Interval time.Duration
	// Src is the advert's source, the sender's primary address (InputAdvert).
	Src netip.Addr
	// Timer is the timer that expired (InputTimer).
	Timer Timer
}

// ActionKind is the kind of an Action.
type ActionKind uint8

// Actions the state machine asks its runner to carry out, in order.
const (
	_ ActionKind = iota
	// ActSend: send an advert with Action.Priority.
	ActSend // send
	// ActArmTimer: (re)arm the timer Action.Timer to expire at Action.At.
	ActArmTimer // arm-timer
	// ActStopTimer: stop the timer.
	ActStopTimer // stop-timer
	// ActAddVIPs: add the virtual addresses.
	ActAddVIPs // add-vips
	// ActRemoveVIPs: remove the virtual addresses.
	ActRemoveVIPs // remove-vips
	// ActAnnounce: gratuitous ARP / unsolicited NA for the virtual
	// addresses.
	ActAnnounce // announce
	// ActTransition: the state changed, Action.From → Action.To for
	// Action.Reason.
	ActTransition // transition
)

// Action is one thing for the runner to do.
type Action struct {
	Kind     ActionKind
	Priority uint8     // ActSend
	Timer    Timer     // ActArmTimer
	At       time.Time // ActArmTimer
	From, To State     // ActTransition
	Reason   Reason    // ActTransition
	// Accept is set on ActAddVIPs when the master must accept packets
	// addressed to the virtual addresses: always for the address owner,
	// otherwise unless MachineConfig.NoAccept (RFC 5798 Accept_Mode).
	Accept bool
	// LowerPrio is set on the ActAnnounce of a master that heard a lower
	// priority master: the runner announces with the lower-priority
	// timing (keepalived garp_lower_prio_*, LowerPrioAnnouncer).
	LowerPrio bool
}

func (a Action) String() string {
	switch a.Kind {
	case ActSend:
		return fmt.Sprintf("send(prio %d)", a.Priority)
	case ActArmTimer:
		return fmt.Sprintf("arm(%v at %s)", a.Timer, a.At.Format("15:04:05.000000"))
	case ActTransition:
		return fmt.Sprintf("%v->%v(%v)", a.From, a.To, a.Reason)
	case ActAnnounce:
		if a.LowerPrio {
			return "announce(lower-prio)"
		}
	}
	return a.Kind.String()
}
