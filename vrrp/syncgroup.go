package vrrp

import (
	"errors"
	"fmt"
)

//go:generate go tool stringer -type=SyncInputKind,SyncActionKind,SyncReason,TrackerKind -linecomment -output=sync_string.go

// SyncGroupConfig configures a SyncGroup: keepalived's vrrp_sync_group.
type SyncGroupConfig struct {
	// Name is the group's name (vrrp_sync_group NAME), as notifies give it.
	Name string
	// Members are the group's instances, in order: SyncInput.Member and
	// SyncAction.Member are indexes into it. At least one (keepalived
	// warns about a group of one, which only renames the instance's
	// notifies); names are unique. An instance belongs to one group at
	// most: the caller checks that across its groups.
	Members []SyncMember
	// TrackingWeight is keepalived's sync_group_tracking_weight (and the
	// deprecated global_tracking): weighted trackers configured on the
	// members themselves keep their weights. Without it keepalived turns
	// them into fault trackers or drops them (MemberTrackerWeight).
	// Trackers configured on the group keep their weights either way
	// (GroupTrackerWeight).
	TrackingWeight bool
}

// SyncMember is one instance of a sync group.
type SyncMember struct {
	// Name is the instance's name (Config.Name).
	Name string
	// Priority is the instance's configured priority (Config.Priority).
	// Address owners (255) matter: a group of owners only starts MASTER,
	// and with an owner in the group the group's trackers have no weight.
	Priority uint8
}

func (c *SyncGroupConfig) object() string { return "sync group " + c.Name }

// Validate reports every problem of c at once, as *FieldErrors naming the
// group and the field, wrapping ErrInvalid.
func (c *SyncGroupConfig) Validate() error {
	obj := c.object()
	var errs []error
	if c.Name == "" {
		errs = append(errs, invalid(obj, "Name", "a sync group needs a name"))
	}
	if len(c.Members) == 0 {
		errs = append(errs, invalid(obj, "Members", "no members"))
	}
	seen := map[string]bool{}
	for i, m := range c.Members {
		switch {
		case m.Name == "":
			errs = append(errs, invalid(obj, "Members", "member %d has no name", i))
		case seen[m.Name]:
			errs = append(errs, invalid(obj, "Members", "%s is listed twice", m.Name))
		}
		seen[m.Name] = true
		if m.Priority == 0 {
			errs = append(errs, invalid(obj, "Members", "%s: priority 0 is reserved", m.Name))
		}
	}
	return errors.Join(errs...)
}

// SyncStatus is what a sync group knows of one member: what
// Router.SyncStatus and Router.SubscribeSync report.
type SyncStatus struct {
	// State is the member's state.
	State State
	// WantMaster: the member would be master, but its group holds it in
	// Backup (keepalived's wantstate MASTER; Machine.WantMaster).
	WantMaster bool
	// Faulted: one of the member's own fault sources is down
	// (Router.SetFault), whatever the group's state.
	Faulted bool
	// Seq is the Seq of the last SyncTo the member applied (0 before any).
	Seq uint64
}

// down reports whether the member counts as faulted for its group: a
// fault of its own, or it stopped (its Run returned).
func (s SyncStatus) down() bool { return s.Faulted || s.State == Stopped }

// canMaster reports whether the member wants to be or is master
// (vrrp_sync_can_goto_master's wantstate MASTER).
func (s SyncStatus) canMaster() bool {
	return !s.down() && (s.State == Master || (s.State == Backup && s.WantMaster))
}

// SyncInputKind is the kind of a SyncInput.
type SyncInputKind uint8

// Inputs to a SyncGroup. The zero value is invalid.
const (
	_ SyncInputKind = iota
	// SyncStart: the group starts; its state is decided from the members'
	// statuses given so far.
	SyncStart // start
	// SyncUpdate: SyncInput.Status is member SyncInput.Member's latest.
	SyncUpdate // update
	// SyncStop: the group stops (shutdown); later inputs do nothing.
	SyncStop // stop
)

// SyncInput is one event for SyncGroup.Step.
type SyncInput struct {
	Kind   SyncInputKind
	Member int        // SyncUpdate
	Status SyncStatus // SyncUpdate
}

// SyncActionKind is the kind of a SyncAction.
type SyncActionKind uint8

// Actions a SyncGroup asks its runner to carry out, in order.
const (
	_ SyncActionKind = iota
	// SyncTell: tell member Member the group's state To, with Seq:
	// Router.SyncTo(To, Seq).
	SyncTell // tell
	// SyncTransition: the group's state changed From → To for Reason,
	// because of member Member's update (-1 for SyncStart and SyncStop):
	// run the group's notifies.
	SyncTransition // transition
)

// SyncReason says why a sync group changed state.
type SyncReason uint8

// Reasons of sync group transitions, each a keepalived rule.
const (
	SyncReasonNone SyncReason = iota // none
	// SyncReasonStart: the group started (vrrp_sync_set_group).
	SyncReasonStart // startup
	// SyncReasonFault: a member faulted (down_instance → vrrp_sync_fault).
	SyncReasonFault // member-fault
	// SyncReasonFaultCleared: the last member fault cleared
	// (try_up_instance → vrrp_sync_backup or vrrp_sync_master).
	SyncReasonFaultCleared // fault-cleared
	// SyncReasonBackup: a master member became backup (an advert from a
	// higher priority master; vrrp_sync_backup).
	SyncReasonBackup // member-backup
	// SyncReasonMaster: every member wants to be or is master
	// (vrrp_sync_can_goto_master → vrrp_sync_master).
	SyncReasonMaster // all-master
	// SyncReasonStop: the group stopped (notify_stop).
	SyncReasonStop // shutdown
)

// SyncAction is one thing for a SyncGroup's runner to do.
type SyncAction struct {
	Kind SyncActionKind
	// Member is the member told (SyncTell), or whose update caused the
	// transition (SyncTransition; -1 if none).
	Member int
	// To is the group's state: told to the member (SyncTell), or entered
	// (SyncTransition).
	To State
	// Seq numbers the group's transitions; the member echoes it in
	// SyncStatus.Seq once applied (SyncTell).
	Seq uint64
	// From and Reason: the transition (SyncTransition).
	From   State
	Reason SyncReason
}

func (a SyncAction) String() string {
	switch a.Kind {
	case SyncTell:
		return fmt.Sprintf("tell(%d %v #%d)", a.Member, a.To, a.Seq)
	case SyncTransition:
		return fmt.Sprintf("group %v->%v(%v by %d)", a.From, a.To, a.Reason, a.Member)
	}
	return a.Kind.String()
}

// SyncGroup is keepalived's sync group as a pure value: the members of a
// group move together. It has no goroutines, clock or I/O: Step takes a
// member's status (or the group's start or stop) and returns what to tell
// which member, and the group's transitions for its notifies. It is not
// safe for concurrent use.
//
// The rules, with the keepalived functions (keepalived/vrrp/vrrp_sync.c,
// vrrp_track.c, vrrp_scheduler.c) they follow:
//
//   - A member faults (its own fault source, SyncStatus.Faulted): the
//     group enters FAULT and every member is told FAULT: a master member
//     sends priority 0 and removes its addresses, a backup one enters
//     FAULT silently (down_instance → vrrp_sync_fault; the source's
//     comment says "force sync instance to backup mode", its code forces
//     FAULT). A member whose Run returned counts as faulted.
//   - The group leaves FAULT when the last member's own fault clears,
//     not before (try_up_instance counts num_member_fault): every member
//     is told BACKUP and starts again in Backup (vrrp_sync_backup). The
//     exception is an address owner whose every other member can be
//     master (in practice a group of one): MASTER.
//   - A member would become master (its Master_Down_Timer expired, or it
//     is master): the group becomes MASTER only when every other member
//     wants to be or is master too (vrrp_sync_can_goto_master); then every
//     member is told MASTER and the backups become master at once
//     (vrrp_sync_master). Until then the members wanting master wait in
//     Backup, restarting their Master_Down_Timer (see Machine.SyncTo).
//   - A master member becomes backup (an advert from a higher priority
//     master): the group is BACKUP and every member is told so; the other
//     masters leave for Backup without priority 0 (vrrp_sync_backup).
//   - At start (SyncStart) the group is FAULT if a member is faulted,
//     MASTER if every member is an address owner, BACKUP otherwise
//     (vrrp_sync_set_group, vrrp_complete_init).
//
// On every transition every member is told the group's new state, the
// one that caused it too: it is what allows or forbids its becoming
// master. Each transition has a new Seq, and a member's status older than
// the last transition (SyncStatus.Seq lower) is ignored: the group
// predicts what the member will do when told and waits for its answer.
//
// Notifies: a SyncTransition is a group notify (notify_master,
// notify_backup, notify_fault, notify_stop and notify with NotifyArgs);
// members' own notifies follow their routers' events, forced transitions
// included (their Reason is ReasonSyncGroup).
//
// Where vigil differs from keepalived:
//
//   - keepalived's members are one thread; vigil's are routers on their
//     own goroutines. A member that would become master waits in Backup
//     for the group's word (SyncTo) even when the group would say yes:
//     the decision is the group's, taken the moment the last member
//     wants, so the members become master in the same instant, as in
//     keepalived.
//   - keepalived starts an all-owner group MASTER without a group notify;
//     vigil reports every start (INIT → state).
//   - keepalived's INIT group state (a member's tracking script has not
//     run yet) does not exist: the caller starts the group once it knows
//     the members' faults.
//   - A member whose Run returned (Stopped) counts as faulted, so the
//     others do not stay master without it; keepalived's instances do not
//     stop alone.
type SyncGroup struct {
	cfg     SyncGroupConfig
	state   State
	seq     uint64
	members []SyncStatus
}

// NewSyncGroup returns a group in state Init, not started. Errors are
// *FieldErrors wrapping ErrInvalid (SyncGroupConfig.Validate).
func NewSyncGroup(cfg SyncGroupConfig) (*SyncGroup, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &SyncGroup{cfg: cfg, members: make([]SyncStatus, len(cfg.Members))}, nil
}

// Name is the group's name.
func (g *SyncGroup) Name() string { return g.cfg.Name }

// State is the group's state: Init before SyncStart, then Backup, Master
// or Fault, and Stopped after SyncStop.
func (g *SyncGroup) State() State { return g.state }

// Member returns what the group knows of member i: its last status, or
// what it was told to do since.
func (g *SyncGroup) Member(i int) SyncStatus { return g.members[i] }

// Step applies one input and appends the resulting actions to dst: the
// SyncTells first, then the SyncTransition. Inputs that change nothing
// (a stale status, a member index out of range, anything after SyncStop)
// append nothing.
func (g *SyncGroup) Step(in SyncInput, dst []SyncAction) []SyncAction {
	switch in.Kind {
	case SyncStart:
		if g.state != Init {
			return dst
		}
		to := Backup
		switch {
		case g.anyDown():
			to = Fault
		case g.allOwners():
			to = Master
		}
		return g.transition(dst, to, -1, SyncReasonStart)
	case SyncStop:
		switch g.state {
		case Stopped:
			return dst
		case Init:
			g.state = Stopped // it never told a state: nothing to notify
			return dst
		}
		return g.transition(dst, Stopped, -1, SyncReasonStop)
	case SyncUpdate:
		return g.update(dst, in.Member, in.Status)
	}
	return dst
}

func (g *SyncGroup) update(dst []SyncAction, i int, st SyncStatus) []SyncAction {
	if i < 0 || i >= len(g.members) || st.Seq < g.seq || g.state == Stopped {
		return dst
	}
	old := g.members[i]
	g.members[i] = st
	if g.state == Init {
		return dst
	}
	switch {
	case st.down() && !old.down():
		// down_instance: the first member fault takes the group to FAULT.
		if g.state != Fault {
			return g.transition(dst, Fault, i, SyncReasonFault)
		}
		return dst
	case !st.down() && old.down():
		// try_up_instance: the group stays in FAULT until the last clears.
		if g.state != Fault || g.anyDown() {
			return dst
		}
		to := Backup
		if g.cfg.Members[i].Priority == PriorityOwner && g.othersCanMaster(i) {
			to = Master // vrrp_state_leave_fault → vrrp_state_goto_master
		}
		return g.transition(dst, to, i, SyncReasonFaultCleared)
	case st.down() || g.state == Fault:
		return dst
	case g.state == Master && old.State == Master && st.State == Backup:
		// The TSM's MASTER → BACKUP: vrrp_sync_backup.
		return g.transition(dst, Backup, i, SyncReasonBackup)
	case g.state != Master && st.canMaster() && g.othersCanMaster(i):
		// vrrp_sync_can_goto_master said yes: vrrp_sync_master.
		return g.transition(dst, Master, i, SyncReasonMaster)
	}
	return dst
}

// transition moves the group to state to because of member i's update
// (-1: none), tells every member (unless stopping), and reports it.
func (g *SyncGroup) transition(dst []SyncAction, to State, i int, why SyncReason) []SyncAction {
	from := g.state
	g.state = to
	if to != Stopped {
		g.seq++
		for j := range g.members {
			g.members[j] = told(g.members[j], to)
			dst = append(dst, SyncAction{Kind: SyncTell, Member: j, To: to, Seq: g.seq})
		}
	}
	return append(dst, SyncAction{Kind: SyncTransition, Member: i, From: from, To: to, Reason: why})
}

// told is what a member with status s does when told the group's state
// (Machine.SyncTo): the group counts on it until the member reports.
func told(s SyncStatus, group State) SyncStatus {
	if s.down() || s.State == Init {
		return s // its own fault holds it in FAULT; not running yet
	}
	switch {
	case group == Fault:
		s.State = Fault
	case group == Backup && s.State != Backup:
		s.State = Backup
	case group == Master:
		s.State = Master
	default:
		return s // a Backup stays, with its want
	}
	s.WantMaster = false
	return s
}

// othersCanMaster is vrrp_sync_can_goto_master for member i: every other
// member wants to be or is master.
func (g *SyncGroup) othersCanMaster(i int) bool {
	for j, m := range g.members {
		if j != i && !m.canMaster() {
			return false
		}
	}
	return true
}

func (g *SyncGroup) anyDown() bool {
	for _, m := range g.members {
		if m.down() {
			return true
		}
	}
	return false
}

func (g *SyncGroup) allOwners() bool {
	for _, m := range g.cfg.Members {
		if m.Priority != PriorityOwner {
			return false
		}
	}
	return true
}

// NotifyArgs are the arguments keepalived appends to a sync group's
// `notify` script for the group entering state s: "GROUP", the group's
// name, the state in upper case (MASTER, BACKUP, FAULT, STOP), and the
// priority, always "0" for a group. Its notify FIFO line is the same
// words with the name double-quoted: GROUP "G1" FAULT 0.
func (g *SyncGroup) NotifyArgs(s State) []string {
	word := s.String()
	if s == Stopped {
		word = "STOP"
	}
	return []string{"GROUP", g.cfg.Name, word, "0"}
}
