package vigildcmd

import (
	"fmt"
	"net/netip"
	"syscall"
)

// The parent and its children under --process-model=keepalived: the
// kinds of child, what they say to each other over their socketpair,
// and the parent's view of a child process (a launcher starts them).

// childKind is one of the parent's children.
type childKind uint8

const (
	childVRRP childKind = iota
	childChecker
)

func (k childKind) String() string {
	if k == childVRRP {
		return "vrrp"
	}
	return "checker"
}

// title is the child's name in keepalived's log lines ("VRRP child
// process(1234) died: Respawning").
func (k childKind) title() string {
	if k == childVRRP {
		return "VRRP"
	}
	return "Healthcheck"
}

// childMsg is what a child sends its parent on their socketpair: one
// JSON object a line.
type childMsg struct {
	// Ready: the child started (or finished a reload): READY=1.
	Ready bool `json:"ready,omitempty"`
	// Beat: the child's Supervisor is healthy (every loop beating).
	Beat bool `json:"beat,omitempty"`
	// Masters are the instances the VRRP child holds as MASTER, with a
	// Beat: a VRRP child killed while master of them is respawned
	// resuming them (vigil.Supervisor.ResumeMasters).
	Masters []string `json:"masters,omitempty"`
	// Held are the VIPs of those instances, with a Beat: the parent
	// relays them to the checker child for ha_suspend.
	Held []netip.Addr `json:"held,omitempty"`
}

// parentMsg is what the parent sends a child: one JSON object a line.
type parentMsg struct {
	// Held are the VIPs the VRRP child holds as master, for the checker
	// child's ha_suspend virtual servers (vigil.Supervisor.SetHeldVIPs).
	Held []netip.Addr `json:"held"`
}

// A launcher starts the parent's children; the real one re-executes
// this program (split_linux.go).
type launcher interface {
	// launch starts a child of kind; resume names the instances a VRRP
	// child resumes as MASTER.
	launch(kind childKind, resume []string) (childProc, error)
}

// childProc is a running child process.
type childProc interface {
	Pid() int
	// Msgs delivers the child's messages; it is closed when the child's
	// end of the socketpair is closed.
	Msgs() <-chan childMsg
	// Exited is closed once the child has exited and was reaped; Status
	// then says how.
	Exited() <-chan struct{}
	Status() childStatus
	// Signal sends sig to the child (SIGKILL included); a child that has
	// exited is not signalled.
	Signal(sig syscall.Signal)
	// Send writes m to the child; a child that does not read within a
	// second is not waited for.
	Send(m parentMsg) error
}

// childStatus is how a child ended: its exit status, or the signal that
// killed it.
type childStatus struct {
	Code   int            // -1 when killed by a signal
	Signal syscall.Signal // when Code is -1
}

func (s childStatus) String() string {
	if s.Code < 0 {
		return fmt.Sprintf("killed by signal %d (%v)", int(s.Signal), s.Signal)
	}
	return fmt.Sprintf("exited with status %d", s.Code)
}

// permanent says whether the parent gives up on a child that ended so:
// keepalived's report_child_status stops for a child's fatal,
// configuration and missing-file statuses.
func (s childStatus) permanent() bool {
	return s.Code == ExitFatal || s.Code == ExitConfig || s.Code == ExitNoConfig
}

// permanentExit ends the parent: a child exited with a permanent status.
type permanentExit struct {
	kind   childKind
	status childStatus
}

func (e *permanentExit) Error() string {
	return fmt.Sprintf("%s child %v", e.kind, e.status)
}
