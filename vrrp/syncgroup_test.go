package vrrp

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Member statuses, by what the member reports (Seq seq).
func sBackup(seq uint64) SyncStatus { return SyncStatus{State: Backup, Seq: seq} }
func sWant(seq uint64) SyncStatus   { return SyncStatus{State: Backup, WantMaster: true, Seq: seq} }
func sMaster(seq uint64) SyncStatus { return SyncStatus{State: Master, Seq: seq} }

// sDown: its own fault; sForced: in FAULT for the group only.
func sDown(seq uint64) SyncStatus   { return SyncStatus{State: Fault, Faulted: true, Seq: seq} }
func sForced(seq uint64) SyncStatus { return SyncStatus{State: Fault, Seq: seq} }

func upd(i int, st SyncStatus) SyncInput { return SyncInput{Kind: SyncUpdate, Member: i, Status: st} }

var (
	sStart = SyncInput{Kind: SyncStart}
	sStop  = SyncInput{Kind: SyncStop}
)

func fmtSync(as []SyncAction) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}

// fmtMembers shows what the group knows of its members: the state, * for
// WantMaster, ! for Faulted.
func fmtMembers(g *SyncGroup) string {
	var s []string
	for i := range g.cfg.Members {
		m := g.Member(i)
		w := m.State.String()
		if m.WantMaster {
			w += "*"
		}
		if m.Faulted {
			w += "!"
		}
		s = append(s, w)
	}
	return strings.Join(s, " ")
}

func groupOf(prios ...uint8) SyncGroupConfig {
	c := SyncGroupConfig{Name: "G1"}
	for i, p := range prios {
		c.Members = append(c.Members, SyncMember{Name: fmt.Sprintf("VI_%d", i), Priority: p})
	}
	return c
}

// keepalived's sync group, one row per rule, named after the keepalived
// function it mirrors (vrrp_sync.c, vrrp_track.c, vrrp_scheduler.c).
func TestSyncGroup(t *testing.T) {
	// Two members, started, both in BACKUP at Seq 1.
	started := []SyncInput{sStart, upd(0, sBackup(1)), upd(1, sBackup(1))}
	// ... then MASTER together at Seq 2, both reported.
	master := append(slices.Clone(started), upd(0, sWant(1)), upd(1, sWant(1)), upd(0, sMaster(2)), upd(1, sMaster(2)))
	// ... then member 0 faulted: the group in FAULT at Seq 3, reported.
	fault := append(slices.Clone(master), upd(0, sDown(2)), upd(0, sDown(3)), upd(1, sForced(3)))
	cases := []struct {
		name    string
		cfg     SyncGroupConfig
		in      []SyncInput
		want    string // actions of the last input
		state   State
		members string
	}{
		{"vrrp_sync_set_group_starts_backup", groupOf(100, 100),
			[]SyncInput{sStart},
			"tell(0 BACKUP #1) tell(1 BACKUP #1) group INIT->BACKUP(startup by -1)", Backup, "INIT INIT"},
		{"vrrp_sync_set_group_all_owners_start_master", groupOf(255, 255),
			[]SyncInput{sStart},
			"tell(0 MASTER #1) tell(1 MASTER #1) group INIT->MASTER(startup by -1)", Master, "INIT INIT"},
		{"vrrp_sync_set_group_owner_and_non_owner_start_backup", groupOf(255, 100),
			[]SyncInput{sStart},
			"tell(0 BACKUP #1) tell(1 BACKUP #1) group INIT->BACKUP(startup by -1)", Backup, "INIT INIT"},
		{"vrrp_sync_set_group_member_down_starts_fault", groupOf(255, 255),
			[]SyncInput{upd(1, SyncStatus{State: Init, Faulted: true}), sStart},
			"tell(0 FAULT #1) tell(1 FAULT #1) group INIT->FAULT(startup by -1)", Fault, "INIT INIT!"},
		{"updates_before_start_only_recorded", groupOf(100, 100),
			[]SyncInput{upd(0, SyncStatus{State: Init, Faulted: true})},
			"", Init, "INIT! INIT"},
		{"start_twice_ignored", groupOf(100, 100),
			[]SyncInput{sStart, sStart},
			"", Backup, "INIT INIT"},
		{"vrrp_sync_can_goto_master_refuses_while_another_is_backup", groupOf(100, 100),
			append(slices.Clone(started), upd(0, sWant(1))),
			"", Backup, "BACKUP* BACKUP"},
		{"vrrp_sync_master_when_the_last_member_wants", groupOf(100, 100),
			append(slices.Clone(started), upd(0, sWant(1)), upd(1, sWant(1))),
			"tell(0 MASTER #2) tell(1 MASTER #2) group BACKUP->MASTER(all-master by 1)", Master, "MASTER MASTER"},
		{"vrrp_sync_can_goto_master_counts_a_master", groupOf(100, 100),
			append(slices.Clone(started), upd(0, sMaster(1)), upd(1, sWant(1))),
			"tell(0 MASTER #2) tell(1 MASTER #2) group BACKUP->MASTER(all-master by 1)", Master, "MASTER MASTER"},
		{"vrrp_sync_master_from_a_master_member", groupOf(100, 100),
			append(slices.Clone(started), upd(1, sWant(1)), upd(0, sMaster(1))),
			"tell(0 MASTER #2) tell(1 MASTER #2) group BACKUP->MASTER(all-master by 0)", Master, "MASTER MASTER"},
		{"vrrp_state_backup_accepted_advert_withdraws_the_want", groupOf(100, 100),
			append(slices.Clone(started), upd(0, sWant(1)), upd(0, sBackup(1)), upd(1, sWant(1))),
			"", Backup, "BACKUP BACKUP*"},
		{"vrrp_sync_can_goto_master_needs_every_member", groupOf(100, 100, 100),
			[]SyncInput{sStart, upd(0, sWant(1)), upd(1, sWant(1)), upd(2, sBackup(1))},
			"", Backup, "BACKUP* BACKUP* BACKUP"},
		{"vrrp_sync_can_goto_master_a_member_not_running", groupOf(100, 100),
			[]SyncInput{sStart, upd(0, sWant(1))},
			"", Backup, "BACKUP* INIT"},
		{"a_group_of_one_is_its_member", groupOf(100),
			[]SyncInput{sStart, upd(0, sBackup(1)), upd(0, sWant(1))},
			"tell(0 MASTER #2) group BACKUP->MASTER(all-master by 0)", Master, "MASTER"},
		{"members_report_master", groupOf(100, 100),
			master,
			"", Master, "MASTER MASTER"},
		{"vrrp_sync_backup_a_master_member_becomes_backup", groupOf(100, 100),
			append(slices.Clone(master), upd(0, sBackup(2))),
			"tell(0 BACKUP #3) tell(1 BACKUP #3) group MASTER->BACKUP(member-backup by 0)", Backup, "BACKUP BACKUP"},
		{"vrrp_sync_backup_the_demoted_report_backup", groupOf(100, 100),
			append(slices.Clone(master), upd(0, sBackup(2)), upd(1, sBackup(3)), upd(0, sBackup(3))),
			"", Backup, "BACKUP BACKUP"},
		{"stale_status_ignored_the_group_waits_for_the_answer", groupOf(100, 100),
			append(slices.Clone(master), upd(0, sBackup(2)), upd(1, sMaster(2))),
			"", Backup, "BACKUP BACKUP"},
		{"told_master_before_answering_counts_as_master", groupOf(100, 100),
			append(slices.Clone(started), upd(0, sWant(1)), upd(1, sWant(1)), upd(0, sMaster(2)), upd(0, sBackup(2))),
			"tell(0 BACKUP #3) tell(1 BACKUP #3) group MASTER->BACKUP(member-backup by 0)", Backup, "BACKUP BACKUP"},
		{"down_instance_vrrp_sync_fault_from_master", groupOf(100, 100),
			append(slices.Clone(master), upd(0, sDown(2))),
			"tell(0 FAULT #3) tell(1 FAULT #3) group MASTER->FAULT(member-fault by 0)", Fault, "FAULT! FAULT"},
		{"down_instance_vrrp_sync_fault_from_backup", groupOf(100, 100),
			append(slices.Clone(started), upd(0, sWant(1)), upd(1, sDown(1))),
			"tell(0 FAULT #2) tell(1 FAULT #2) group BACKUP->FAULT(member-fault by 1)", Fault, "FAULT FAULT!"},
		{"down_instance_a_second_member_fault", groupOf(100, 100),
			append(slices.Clone(fault), upd(1, sDown(3))),
			"", Fault, "FAULT! FAULT!"},
		{"down_instance_a_stopped_member_counts_as_faulted", groupOf(100, 100),
			append(slices.Clone(master), upd(1, SyncStatus{State: Stopped, Seq: 2})),
			"tell(0 FAULT #3) tell(1 FAULT #3) group MASTER->FAULT(member-fault by 1)", Fault, "FAULT STOPPED"},
		{"vrrp_sync_fault_no_want_in_fault", groupOf(100, 100),
			append(slices.Clone(fault), upd(1, SyncStatus{State: Backup, WantMaster: true, Seq: 3})),
			"", Fault, "FAULT! BACKUP*"},
		{"try_up_instance_waits_for_the_last_member", groupOf(100, 100),
			append(slices.Clone(fault), upd(1, sDown(3)), upd(0, sForced(3))),
			"", Fault, "FAULT FAULT!"},
		{"try_up_instance_last_member_clears_vrrp_sync_backup", groupOf(100, 100),
			append(slices.Clone(fault), upd(1, sDown(3)), upd(0, sForced(3)), upd(1, sForced(3))),
			"tell(0 BACKUP #4) tell(1 BACKUP #4) group FAULT->BACKUP(fault-cleared by 1)", Backup, "BACKUP BACKUP"},
		{"try_up_instance_the_only_fault_clears", groupOf(100, 100),
			append(slices.Clone(fault), upd(0, sForced(3))),
			"tell(0 BACKUP #4) tell(1 BACKUP #4) group FAULT->BACKUP(fault-cleared by 0)", Backup, "BACKUP BACKUP"},
		{"try_up_instance_owners_come_back_backup", groupOf(255, 255),
			[]SyncInput{sStart, upd(0, sMaster(1)), upd(1, sMaster(1)), upd(0, sDown(1)), upd(0, sForced(2))},
			"tell(0 BACKUP #3) tell(1 BACKUP #3) group FAULT->BACKUP(fault-cleared by 0)", Backup, "BACKUP BACKUP"},
		{"try_up_instance_owner_alone_goes_master", groupOf(255),
			[]SyncInput{sStart, upd(0, sMaster(1)), upd(0, sDown(1)), upd(0, sForced(2))},
			"tell(0 MASTER #3) group FAULT->MASTER(fault-cleared by 0)", Master, "MASTER"},
		{"vrrp_sync_set_group_fault_clears_after_start", groupOf(100, 100),
			[]SyncInput{upd(0, SyncStatus{State: Init, Faulted: true}), sStart, upd(0, sDown(1)), upd(1, sForced(1)), upd(0, sForced(1))},
			"tell(0 BACKUP #2) tell(1 BACKUP #2) group FAULT->BACKUP(fault-cleared by 0)", Backup, "BACKUP BACKUP"},
		{"notify_stop", groupOf(100, 100),
			append(slices.Clone(master), sStop),
			"group MASTER->STOPPED(shutdown by -1)", Stopped, "MASTER MASTER"},
		{"stopped_ignores_updates", groupOf(100, 100),
			append(slices.Clone(master), sStop, upd(0, sDown(2)), sStop, sStart),
			"", Stopped, "MASTER MASTER"},
		{"stop_before_start_is_quiet", groupOf(100, 100),
			[]SyncInput{sStop, sStart},
			"", Stopped, "INIT INIT"},
		{"member_out_of_range_ignored", groupOf(100, 100),
			append(slices.Clone(started), upd(2, sDown(1)), upd(-1, sDown(1))),
			"", Backup, "BACKUP BACKUP"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := NewSyncGroup(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got []SyncAction
			for _, in := range c.in {
				got = g.Step(in, got[:0])
			}
			if s := fmtSync(got); s != c.want {
				t.Errorf("actions:\n got %s\nwant %s", s, c.want)
			}
			if g.State() != c.state {
				t.Errorf("state %v, want %v", g.State(), c.state)
			}
			if s := fmtMembers(g); s != c.members {
				t.Errorf("members %s, want %s", s, c.members)
			}
		})
	}
}

func TestSyncGroupConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  SyncGroupConfig
		want []string
	}{
		{"no name, no members", SyncGroupConfig{}, []string{"sync group : Name", "sync group : Members: no members"}},
		{"unnamed member", SyncGroupConfig{Name: "G", Members: []SyncMember{{Priority: 100}}}, []string{"member 0 has no name"}},
		{"twice", SyncGroupConfig{Name: "G", Members: []SyncMember{{"a", 100}, {"a", 100}}}, []string{"a is listed twice"}},
		{"priority 0", SyncGroupConfig{Name: "G", Members: []SyncMember{{"a", 0}}}, []string{"a: priority 0 is reserved"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewSyncGroup(c.cfg)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("NewSyncGroup: %v, want ErrInvalid", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%v: no *FieldError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
	if _, err := NewSyncGroup(groupOf(100)); err != nil {
		t.Errorf("a group of one: %v", err)
	}
}

// keepalived's notify gets GROUP NAME STATE 0 (vrrp_notify.c:
// send_group_notifies passes priority 0).
func TestSyncGroupNotifyArgs(t *testing.T) {
	g, err := NewSyncGroup(groupOf(100, 100))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range []State{Master, Backup, Fault, Stopped} {
		got = append(got, strings.Join(g.NotifyArgs(s), " "))
	}
	want := []string{"GROUP G1 MASTER 0", "GROUP G1 BACKUP 0", "GROUP G1 FAULT 0", "GROUP G1 STOP 0"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if g.Name() != "G1" {
		t.Errorf("Name %q", g.Name())
	}
}

func TestSyncEnumStrings(t *testing.T) {
	var b strings.Builder
	for k := SyncInputKind(0); k <= SyncStop+1; k++ {
		fmt.Fprint(&b, k, " ")
	}
	for k := SyncActionKind(0); k <= SyncTransition+1; k++ {
		fmt.Fprint(&b, k, " ")
	}
	for r := SyncReasonNone; r <= SyncReasonStop+1; r++ {
		fmt.Fprint(&b, r, " ")
	}
	for k := TrackerKind(0); k <= TrackBFD+1; k++ {
		fmt.Fprint(&b, k, " ")
	}
	fmt.Fprint(&b, SyncAction{})
	want := "SyncInputKind(0) start update stop SyncInputKind(4) SyncActionKind(0) tell transition SyncActionKind(3) " +
		"none startup member-fault fault-cleared member-backup all-master shutdown SyncReason(7) " +
		"TrackerKind(0) track_interface track_script track_file track_process track_bfd TrackerKind(6) SyncActionKind(0)"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
}
