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
	Init State = iota
	Backup
	Master
	Fault
	Stopped
)

func (s State) String() string {
	switch s {
	case Init:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Fault:
		return "FAULT"
	case Stopped:
		return "STOPPED"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Reason says why a transition happened.
type Reason uint8

// Transition reasons. The zero value is ReasonNone.
const (
	ReasonNone           Reason = iota
	ReasonStartup               // started: owners go to Master, others to Backup
	ReasonMasterDown            // Master_Down_Timer expired: no advert from a master
	ReasonPriorityZero          // the master resigned (priority 0) and Skew_Time passed
	ReasonPreempt               // preemption: we outrank the master (after preempt_delay)
	ReasonHigherPriority        // an advert from a higher priority (or equal priority, higher address) master
	ReasonFault                 // a fault was raised
	ReasonFaultCleared          // the last fault cleared
	ReasonShutdown              // the router was shut down
)

func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return "none"
	case ReasonStartup:
		return "startup"
	case ReasonMasterDown:
		return "master-down"
	case ReasonPriorityZero:
		return "master-resigned"
	case ReasonPreempt:
		return "preempt"
	case ReasonHigherPriority:
		return "higher-priority"
	case ReasonFault:
		return "fault"
	case ReasonFaultCleared:
		return "fault-cleared"
	case ReasonShutdown:
		return "shutdown"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Timer names the one timer a virtual router runs at a time.
type Timer uint8

// Timers. The zero value is NoTimer.
const (
	NoTimer         Timer = iota
	MasterDownTimer       // Backup: Master_Down_Timer
	AdverTimer            // Master: Adver_Timer
)

func (t Timer) String() string {
	switch t {
	case NoTimer:
		return "none"
	case MasterDownTimer:
		return "master-down"
	case AdverTimer:
		return "adver"
	}
	return fmt.Sprintf("Timer(%d)", uint8(t))
}

// InputKind is the kind of an Input.
type InputKind uint8

// Inputs to the state machine. The zero value is invalid.
const (
	_                 InputKind = iota
	InputStartup                // start the router (RFC "Startup event")
	InputAdvert                 // a valid advert for our VRID was received
	InputTimer                  // the armed timer expired
	InputShutdown               // stop the router (RFC "Shutdown event")
	InputPriority               // the local priority changed (tracking)
	InputFault                  // a fault was raised
	InputFaultCleared           // all faults cleared
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
	_             ActionKind = iota
	ActSend                  // send an advert with Action.Priority
	ActArmTimer              // (re)arm the timer Action.Timer to expire at Action.At
	ActStopTimer             // stop the timer
	ActAddVIPs               // add the virtual addresses
	ActRemoveVIPs            // remove the virtual addresses
	ActAnnounce              // gratuitous ARP / unsolicited NA for the virtual addresses
	ActTransition            // the state changed: Action.From → Action.To for Action.Reason
)

func (k ActionKind) String() string {
	switch k {
	case ActSend:
		return "send"
	case ActArmTimer:
		return "arm-timer"
	case ActStopTimer:
		return "stop-timer"
	case ActAddVIPs:
		return "add-vips"
	case ActRemoveVIPs:
		return "remove-vips"
	case ActAnnounce:
		return "announce"
	case ActTransition:
		return "transition"
	}
	return fmt.Sprintf("ActionKind(%d)", uint8(k))
}

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
}

func (a Action) String() string {
	switch a.Kind {
	case ActSend:
		return fmt.Sprintf("send(prio %d)", a.Priority)
	case ActArmTimer:
		return fmt.Sprintf("arm(%v at %s)", a.Timer, a.At.Format("15:04:05.000000"))
	case ActTransition:
		return fmt.Sprintf("%v->%v(%v)", a.From, a.To, a.Reason)
	}
	return a.Kind.String()
}
