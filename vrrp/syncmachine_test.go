package vrrp

import (
	"testing"
	"time"
)

// sstep is a machine step or, when sync is set, SyncTo(group).
type sstep struct {
	step
	sync  bool
	group State
}

func tell(group State, off time.Duration) sstep {
	return sstep{step: step{off: off}, sync: true, group: group}
}

func do(s step) sstep { return sstep{step: s} }

// A sync-group member's machine, one row per keepalived rule, named after
// the keepalived function it mirrors.
func TestMachineSyncMember(t *testing.T) {
	down100 := 3609375 * time.Microsecond   // v2 prio 100
	down255 := 3003906250 * time.Nanosecond // v2 prio 255: 3 s + 1/256 s
	masterAt := func(g State) []sstep {     // a member made master by its group at down100
		return []sstep{tell(Backup, 0), do(startup(0)), do(expire(MasterDownTimer, down100)), tell(g, down100)}
	}
	cases := []struct {
		name  string
		cfg   MachineConfig
		steps []sstep
		want  string // actions of the last step
		state State
		wants bool
	}{
		{"vrrp_state_goto_master_held_by_group_backup", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), do(expire(MasterDownTimer, down100))},
			// Stays BACKUP, wants MASTER, waits a whole Master_Down_Interval again.
			"arm(master-down at 00:00:07.218750)", Backup, true},
		{"vrrp_state_goto_master_held_again", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), do(expire(MasterDownTimer, down100)), do(expire(MasterDownTimer, 2*down100))},
			"arm(master-down at 00:00:10.828125)", Backup, true},
		{"vrrp_sync_can_goto_master_group_master_allows", v2cfg(100),
			[]sstep{tell(Master, 0), do(startup(0)), do(expire(MasterDownTimer, down100))},
			"send(prio 100) announce add-vips arm(adver at 00:00:04.609375) BACKUP->MASTER(master-down)", Master, false},
		{"no_group_decides_alone", v2cfg(100),
			[]sstep{tell(Backup, 0), tell(Init, 0), do(startup(0)), do(expire(MasterDownTimer, down100))},
			"send(prio 100) announce add-vips arm(adver at 00:00:04.609375) BACKUP->MASTER(master-down)", Master, false},
		{"vrrp_state_backup_accepted_advert_drops_want", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), do(expire(MasterDownTimer, down100)), do(advert(200, higher, time.Second, 4*time.Second))},
			"arm(master-down at 00:00:07.609375)", Backup, false},
		{"vrrp_state_backup_priority_zero_keeps_want", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), do(expire(MasterDownTimer, down100)), do(advert(0, higher, time.Second, 4*time.Second))},
			"arm(master-down at 00:00:04.609375)", Backup, true},
		{"vrrp_state_backup_discarded_lower_advert_keeps_want", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), do(expire(MasterDownTimer, down100)), do(advert(50, higher, time.Second, 4*time.Second))},
			"", Backup, true},
		{"vrrp_sync_master_promotes_a_backup_at_once", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), do(expire(MasterDownTimer, down100)), tell(Master, 4*time.Second)},
			"send(prio 100) announce add-vips arm(adver at 00:00:05.000000) BACKUP->MASTER(sync-group)", Master, false},
		{"vrrp_sync_master_promotes_a_backup_that_did_not_want", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), tell(Master, time.Second)},
			"send(prio 100) announce add-vips arm(adver at 00:00:02.000000) BACKUP->MASTER(sync-group)", Master, false},
		{"vrrp_sync_master_master_stays", v2cfg(100),
			append(masterAt(Master), tell(Master, 4*time.Second)),
			"", Master, false},
		{"vrrp_sync_backup_master_leaves_without_priority_0", v2cfg(100),
			append(masterAt(Master), tell(Backup, 5*time.Second)),
			"stop-timer remove-vips arm(master-down at 00:00:08.609375) MASTER->BACKUP(sync-group)", Backup, false},
		{"vrrp_sync_backup_backup_keeps_its_want", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), do(expire(MasterDownTimer, down100)), tell(Backup, 4*time.Second)},
			"", Backup, true},
		{"vrrp_sync_fault_master_sends_priority_0", v2cfg(100),
			append(masterAt(Master), tell(Fault, 5*time.Second)),
			"send(prio 0) remove-vips stop-timer MASTER->FAULT(sync-group)", Fault, false},
		{"vrrp_sync_fault_backup_silent", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), do(expire(MasterDownTimer, down100)), tell(Fault, 4*time.Second)},
			"stop-timer BACKUP->FAULT(sync-group)", Fault, false},
		{"vrrp_sync_fault_ignores_adverts", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), tell(Fault, time.Second), do(advert(0, higher, time.Second, 2*time.Second))},
			"", Fault, false},
		{"vrrp_state_leave_fault_group_backup", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), tell(Fault, time.Second), tell(Backup, 2*time.Second)},
			"arm(master-down at 00:00:05.609375) FAULT->BACKUP(sync-group)", Backup, false},
		{"vrrp_state_leave_fault_group_master", v2cfg(255),
			[]sstep{tell(Master, 0), do(startup(0)), tell(Fault, time.Second), tell(Master, 2*time.Second)},
			"send(prio 255) announce add-vips arm(adver at 00:00:03.000000) FAULT->MASTER(sync-group)", Master, false},
		{"leaving_the_group_leaves_its_fault", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), tell(Fault, time.Second), tell(Init, 2*time.Second)},
			"arm(master-down at 00:00:05.609375) FAULT->BACKUP(sync-group)", Backup, false},
		{"down_instance_own_fault_in_group_fault", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), tell(Fault, time.Second), do(input(InputFault, 0, 2*time.Second))},
			"", Fault, false},
		{"try_up_instance_own_fault_cleared_group_still_fault", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), do(input(InputFault, 0, time.Second)), tell(Fault, time.Second), do(input(InputFaultCleared, 0, 2*time.Second))},
			"", Fault, false},
		{"try_up_instance_group_backup_own_fault_holds", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), do(input(InputFault, 0, time.Second)), tell(Fault, time.Second), tell(Backup, 2*time.Second)},
			"", Fault, false},
		{"try_up_instance_then_own_fault_clears", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), do(input(InputFault, 0, time.Second)), tell(Fault, time.Second), tell(Backup, 2*time.Second),
				do(input(InputFaultCleared, 0, 3*time.Second))},
			"arm(master-down at 00:00:06.609375) FAULT->BACKUP(fault-cleared)", Backup, false},
		{"try_up_instance_owner_held_in_group_backup", v2cfg(255),
			[]sstep{tell(Backup, 0), do(startup(0)), do(input(InputFault, 0, time.Second)), do(input(InputFaultCleared, 0, 2*time.Second))},
			"arm(master-down at 00:00:05.003906) FAULT->BACKUP(fault-cleared)", Backup, false},
		{"vrrp_init_state_owner_starts_backup_in_group_backup", v2cfg(255),
			[]sstep{tell(Backup, 0), do(startup(0))},
			"remove-vips arm(master-down at 00:00:03.003906) INIT->BACKUP(startup)", Backup, false},
		{"vrrp_init_state_owner_held_then", v2cfg(255),
			[]sstep{tell(Backup, 0), do(startup(0)), do(expire(MasterDownTimer, down255))},
			"arm(master-down at 00:00:06.007812)", Backup, true},
		{"vrrp_init_state_all_owner_group_master_starts_master", v2cfg(255),
			[]sstep{tell(Master, 0), do(startup(0))},
			"send(prio 255) announce add-vips arm(adver at 00:00:01.000000) INIT->MASTER(startup)", Master, false},
		{"vrrp_init_state_non_owner_in_group_master_starts_backup", v2cfg(100),
			[]sstep{tell(Master, 0), do(startup(0))},
			"remove-vips arm(master-down at 00:00:03.609375) INIT->BACKUP(startup)", Backup, false},
		{"vrrp_init_state_group_fault_starts_fault", v2cfg(255),
			[]sstep{tell(Fault, 0), do(startup(0))},
			"remove-vips INIT->FAULT(startup)", Fault, false},
		{"shutdown_from_group_master", v2cfg(100),
			append(masterAt(Master), do(input(InputShutdown, 0, 5*time.Second))),
			"send(prio 0) remove-vips stop-timer MASTER->STOPPED(shutdown)", Stopped, false},
		{"told_while_stopped_only_records", v2cfg(100),
			[]sstep{do(startup(0)), do(input(InputShutdown, 0, time.Second)), tell(Master, 2*time.Second)},
			"", Stopped, false},
		{"not_a_group_state_ignored", v2cfg(100),
			[]sstep{tell(Backup, 0), do(startup(0)), tell(Stopped, time.Second), do(expire(MasterDownTimer, down100))},
			"arm(master-down at 00:00:07.218750)", Backup, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := NewMachine(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got []Action
			for _, s := range c.steps {
				if s.sync {
					got = m.SyncTo(s.group, at(s.off), got[:0])
					continue
				}
				got = m.Step(s.in, at(s.off), got[:0])
			}
			if s := fmtActions(got); s != c.want {
				t.Errorf("actions:\n got %s\nwant %s", s, c.want)
			}
			if m.State() != c.state || m.WantMaster() != c.wants {
				t.Errorf("state %v want-master %v, want %v %v", m.State(), m.WantMaster(), c.state, c.wants)
			}
		})
	}
}
