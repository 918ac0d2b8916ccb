package vrrp

import (
	"net/netip"
	"time"
)

// A machine in a sync group (keepalived's vrrp_sync_group) does not decide
// alone when to become master: SyncTo tells it the group's state, which a
// SyncGroup decides. The rules are keepalived's, from the point of view of
// one member:
//
//   - While the group is not MASTER, the machine never becomes master on
//     its own. When its Master_Down_Timer expires (a master that went
//     silent, resigned with priority 0, or that we preempt), it stays in
//     Backup, wants to be master (WantMaster) and restarts
//     Master_Down_Timer with a whole Master_Down_Interval, as keepalived's
//     vrrp_state_goto_master does when vrrp_sync_can_goto_master refuses.
//     An address owner does not start as master either: it starts in
//     Backup like any other router.
//   - The want is dropped when the machine accepts an advert (another
//     master is there: keepalived's vrrp_state_backup sets wantstate
//     BACKUP) and on every transition; a priority 0 advert or a discarded
//     lower priority one leaves it.
//   - Group MASTER (vrrp_sync_master): a Backup becomes master at once, as
//     does a member in FAULT only because of the group.
//   - Group BACKUP (vrrp_sync_backup): a Master leaves for Backup without
//     priority 0, removes its addresses and starts a whole
//     Master_Down_Interval (vrrp_state_leave_master, wantstate BACKUP); a
//     member in FAULT only because of the group starts again in Backup
//     (vrrp_state_leave_fault).
//   - Group FAULT (vrrp_sync_fault): a Master sends priority 0, removes its
//     addresses and enters FAULT; a Backup enters FAULT. The machine
//     leaves FAULT only when the group is no longer FAULT and its own
//     faults (InputFault) are cleared, whichever comes last
//     (try_up_instance).
//   - Group INIT: the machine is in no group and decides alone again.

// SyncTo tells the machine the state of its sync group at time now and
// appends what to do to dst: Backup, Master or Fault, or Init to leave the
// group (the default). The machine's own state follows the rules above;
// transitions it makes for the group have ReasonSyncGroup. Before
// Startup and after Shutdown it only records the group's state, which
// Startup then obeys: in group FAULT the machine starts in FAULT, and an
// address owner starts as master only in group MASTER or in no group. Any
// other state is ignored.
func (m *Machine) SyncTo(group State, now time.Time, dst []Action) []Action {
	switch group {
	case Init, Backup, Master, Fault:
	default:
		return dst
	}
	old := m.group
	m.group = group
	switch {
	case m.state == Init || m.state == Stopped:
		return dst
	case group == Fault:
		if m.state != Fault {
			return m.enterFault(dst, ReasonSyncGroup)
		}
		return dst
	case m.state == Fault:
		if m.faulted || old != Fault {
			return dst // its own fault holds it there
		}
		if group == Master {
			return m.becomeMaster(dst, now, ReasonSyncGroup)
		}
		return m.start(dst, now, ReasonSyncGroup)
	case group == Master && m.state == Backup:
		return m.becomeMaster(dst, now, ReasonSyncGroup)
	case group == Backup && m.state == Master:
		return m.leaveMaster(dst, now)
	}
	return dst
}

// Group returns the sync group's state as last told (SyncTo); Init when
// the machine is in no group.
func (m *Machine) Group() State { return m.group }

// WantMaster reports whether the machine, in Backup, would have become
// master but its sync group holds it (keepalived's wantstate MASTER).
func (m *Machine) WantMaster() bool { return m.want && m.state == Backup }

// mayMaster reports whether the machine may become master on its own:
// in no group, or in a group that is MASTER (vrrp_sync_can_goto_master).
func (m *Machine) mayMaster() bool { return m.group == Init || m.group == Master }

// down reports whether the machine must be in FAULT: a fault of its own,
// or its group's.
func (m *Machine) down() bool { return m.faulted || m.group == Fault }

// startsMaster reports whether Startup makes the machine master at once.
func (m *Machine) startsMaster() bool {
	return !m.down() && m.priority == PriorityOwner && m.mayMaster()
}

// hold is Master_Down_Timer expiring while the group does not allow
// master: stay in Backup, want master, and wait a whole
// Master_Down_Interval again (keepalived re-arms ms_down_timer).
func (m *Machine) hold(dst []Action, now time.Time) []Action {
	m.want = true
	m.resigned = false
	return m.arm(dst, MasterDownTimer, now.Add(m.MasterDownInterval()))
}

// leaveMaster is keepalived's vrrp_state_leave_master with wantstate
// BACKUP: no priority 0 (the group's other members are not resigning
// either), the addresses go, Master_Down_Timer starts.
func (m *Machine) leaveMaster(dst []Action, now time.Time) []Action {
	dst = m.stopTimer(dst)
	dst = append(dst, Action{Kind: ActRemoveVIPs})
	m.masterAdver = m.cfg.Interval
	m.master = netip.Addr{}
	dst = m.arm(dst, MasterDownTimer, now.Add(m.MasterDownInterval()))
	return m.transition(dst, Backup, ReasonSyncGroup)
}
