package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	t0      = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	us      = netip.MustParseAddr("192.0.2.2")
	higher  = netip.MustParseAddr("192.0.2.3") // a peer with a higher address
	lowerIP = netip.MustParseAddr("192.0.2.1") // a peer with a lower address
)

func at(d time.Duration) time.Time { return t0.Add(d) }

// step is one input at an offset from t0, or a reload (Reconfigure with
// cfg).
type step struct {
	in  Input
	off time.Duration
	cfg *MachineConfig
}

func reload(cfg MachineConfig, off time.Duration) step { return step{cfg: &cfg, off: off} }

// with returns v2cfg(prio) changed by f.
func with(prio uint8, f func(c *MachineConfig)) MachineConfig {
	c := v2cfg(prio)
	f(&c)
	return c
}

func startup(off time.Duration) step { return step{in: Input{Kind: InputStartup}, off: off} }
func advert(prio uint8, src netip.Addr, ival time.Duration, off time.Duration) step {
	return step{in: Input{Kind: InputAdvert, Priority: prio, Src: src, Interval: ival}, off: off}
}
func expire(t Timer, off time.Duration) step {
	return step{in: Input{Kind: InputTimer, Timer: t}, off: off}
}
func input(k InputKind, prio uint8, off time.Duration) step {
	return step{in: Input{Kind: k, Priority: prio}, off: off}
}

func v2cfg(prio uint8) MachineConfig {
	return MachineConfig{Version: V2, Priority: prio, Interval: time.Second, Primary: us}
}

func v3cfg(prio uint8, ival time.Duration) MachineConfig {
	return MachineConfig{Version: V3, Priority: prio, Interval: ival, Primary: us}
}

func fmtActions(as []Action) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
		if a.Kind == ActAddVIPs && !a.Accept {
			s[i] += "(no-accept)"
		}
	}
	return strings.Join(s, " ")
}

// The RFC timer arithmetic, one row per formula.
func TestTimers(t *testing.T) {
	cases := []struct {
		name       string
		cfg        MachineConfig
		skew, down time.Duration
	}{
		// RFC 3768 §6.1: Skew_Time = (256 - Priority) / 256 seconds.
		{"RFC3768_6.1_v2_prio100", v2cfg(100), 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{"RFC3768_6.1_v2_prio254", v2cfg(254), 7812500 * time.Nanosecond, 3007812500 * time.Nanosecond},
		{"RFC3768_6.1_v2_interval3s", MachineConfig{Version: V2, Priority: 200, Interval: 3 * time.Second, Primary: us}, 218750 * time.Microsecond, 9218750 * time.Microsecond},
		// RFC 9568 §6.1: Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256.
		{"RFC9568_6.1_v3_100ms_prio100", v3cfg(100, 100*time.Millisecond), 60937500 * time.Nanosecond, 360937500 * time.Nanosecond},
		{"RFC9568_6.1_v3_1s_prio150", v3cfg(150, time.Second), 414062500 * time.Nanosecond, 3414062500 * time.Nanosecond},
		{"RFC9568_6.1_v3_10ms_prio1", v3cfg(1, 10*time.Millisecond), 9960937 * time.Nanosecond, 39960937 * time.Nanosecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := NewMachine(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.SkewTime(); got != c.skew {
				t.Errorf("Skew_Time = %v, want %v", got, c.skew)
			}
			if got := m.MasterDownInterval(); got != c.down {
				t.Errorf("Master_Down_Interval = %v, want %v", got, c.down)
			}
		})
	}
}

func TestMachine(t *testing.T) {
	const ms = time.Millisecond
	down100 := 3609375 * time.Microsecond // v2 prio 100
	skew100 := 609375 * time.Microsecond
	cases := []struct {
		name  string
		cfg   MachineConfig
		steps []step
		want  string // actions of the last step
		state State
	}{
		{"RFC5798_6.4.1_startup_non_owner_goes_backup", v2cfg(100),
			[]step{startup(0)},
			"remove-vips arm(master-down at 00:00:03.609375) INIT->BACKUP(startup)", Backup},
		{"RFC5798_6.4.1_startup_owner_goes_master", v2cfg(255),
			[]step{startup(0)},
			"send(prio 255) announce add-vips arm(adver at 00:00:01.000000) INIT->MASTER(startup)", Master},
		{"resume_master_keeps_vips_and_advertises_at_once", v2cfg(100),
			[]step{input(InputResume, 0, 0)},
			"send(prio 100) announce add-vips arm(adver at 00:00:01.000000) INIT->MASTER(resumed)", Master},
		{"resume_master_then_higher_priority_backs_off", v2cfg(100),
			[]step{input(InputResume, 0, 0), advert(200, higher, time.Second, 500*ms)},
			"stop-timer remove-vips arm(master-down at 00:00:04.109375) MASTER->BACKUP(higher-priority)", Backup},
		{"resume_master_in_fault_resigns", v2cfg(100),
			[]step{input(InputFault, 0, 0), input(InputResume, 0, 0)},
			"send(prio 0) remove-vips INIT->FAULT(startup)", Fault},
		{"resume_ignored_once_started", v2cfg(100),
			[]step{startup(0), input(InputResume, 0, time.Second)},
			"", Backup},
		{"keepalived_state_MASTER_hint_starts_backup", func() MachineConfig { c := v2cfg(150); c.InitialState = Master; return c }(),
			[]step{startup(0)},
			"remove-vips arm(master-down at 00:00:03.414062) INIT->BACKUP(startup)", Backup},
		{"RFC5798_6.4.2_master_down_timer_becomes_master", v2cfg(100),
			[]step{startup(0), expire(MasterDownTimer, down100)},
			"send(prio 100) announce add-vips arm(adver at 00:00:04.609375) BACKUP->MASTER(master-down)", Master},
		{"RFC5798_6.4.2_stale_timer_ignored", v2cfg(100),
			[]step{startup(0), advert(200, higher, time.Second, 2*time.Second), expire(MasterDownTimer, down100)},
			"", Backup},
		{"RFC5798_6.4.2_wrong_timer_ignored", v2cfg(100),
			[]step{startup(0), expire(AdverTimer, down100)},
			"", Backup},
		{"RFC5798_6.4.2_higher_priority_resets_master_down", v2cfg(100),
			[]step{startup(0), advert(200, higher, time.Second, 2*time.Second)},
			"arm(master-down at 00:00:05.609375)", Backup},
		{"RFC5798_6.4.2_equal_priority_accepted_in_backup", v2cfg(100),
			[]step{startup(0), advert(100, lowerIP, time.Second, time.Second)},
			"arm(master-down at 00:00:04.609375)", Backup},
		{"RFC5798_6.4.2_priority_zero_waits_skew_time", v2cfg(100),
			[]step{startup(0), advert(200, higher, time.Second, time.Second), advert(0, higher, time.Second, 2*time.Second)},
			"arm(master-down at 00:00:02.609375)", Backup},
		{"RFC5798_6.4.2_priority_zero_then_takeover", v2cfg(100),
			[]step{startup(0), advert(200, higher, time.Second, time.Second), advert(0, higher, time.Second, 2*time.Second), expire(MasterDownTimer, 2*time.Second+skew100)},
			"send(prio 100) announce add-vips arm(adver at 00:00:03.609375) BACKUP->MASTER(master-resigned)", Master},
		{"RFC5798_6.4.2_preempt_discards_lower_priority", v2cfg(100),
			[]step{startup(0), advert(50, higher, time.Second, time.Second)},
			"", Backup},
		{"RFC5798_6.4.2_preempt_takes_over_at_master_down", v2cfg(100),
			[]step{startup(0), advert(50, higher, time.Second, time.Second), advert(50, higher, time.Second, 2*time.Second), expire(MasterDownTimer, down100)},
			"send(prio 100) announce add-vips arm(adver at 00:00:04.609375) BACKUP->MASTER(master-down)", Master},
		{"RFC5798_6.4.2_nopreempt_accepts_lower_priority", func() MachineConfig { c := v2cfg(100); c.NoPreempt = true; return c }(),
			[]step{startup(0), advert(50, higher, time.Second, time.Second)},
			"arm(master-down at 00:00:04.609375)", Backup},
		{"RFC9568_6.4.2_v3_learns_master_adver_interval", v3cfg(100, 100*ms),
			[]step{startup(0), advert(200, higher, 200*ms, 100*ms)},
			// 3 x 200ms + 156 x 200ms / 256 = 721.875ms after 100ms.
			"arm(master-down at 00:00:00.821875)", Backup},
		{"RFC3768_6.4.2_v2_keeps_own_interval", v2cfg(100),
			[]step{startup(0), advert(200, higher, 2*time.Second, time.Second)},
			"arm(master-down at 00:00:04.609375)", Backup},
		{"keepalived_preempt_delay_accepts_lower_until_delay", func() MachineConfig { c := v2cfg(100); c.PreemptDelay = 10 * time.Second; return c }(),
			[]step{startup(0), advert(50, higher, time.Second, time.Second)},
			"arm(master-down at 00:00:04.609375)", Backup},
		{"keepalived_preempt_delay_caps_timer_at_delay", func() MachineConfig { c := v2cfg(100); c.PreemptDelay = 2 * time.Second; return c }(),
			[]step{startup(0), advert(50, higher, time.Second, time.Second), advert(50, higher, time.Second, 2*time.Second)},
			"arm(master-down at 00:00:03.000000)", Backup},
		{"keepalived_preempt_delay_then_preempts", func() MachineConfig { c := v2cfg(100); c.PreemptDelay = 2 * time.Second; return c }(),
			[]step{startup(0), advert(50, higher, time.Second, time.Second), advert(50, higher, time.Second, 2*time.Second), expire(MasterDownTimer, 3*time.Second)},
			"send(prio 100) announce add-vips arm(adver at 00:00:04.000000) BACKUP->MASTER(preempt)", Master},
		{"keepalived_preempt_delay_lower_master_dies", func() MachineConfig { c := v2cfg(100); c.PreemptDelay = 20 * time.Second; return c }(),
			[]step{startup(0), advert(50, higher, time.Second, time.Second), expire(MasterDownTimer, time.Second+down100)},
			"send(prio 100) announce add-vips arm(adver at 00:00:05.609375) BACKUP->MASTER(master-down)", Master},
		{"keepalived_preempt_delay_discards_after_delay", func() MachineConfig { c := v2cfg(100); c.PreemptDelay = 2 * time.Second; return c }(),
			[]step{startup(0), advert(50, higher, time.Second, time.Second), advert(50, higher, time.Second, 3500*ms)},
			"", Backup},
		{"RFC5798_6.4.3_adver_timer_sends_and_rearms", v2cfg(255),
			[]step{startup(0), expire(AdverTimer, time.Second)},
			"send(prio 255) arm(adver at 00:00:02.000000)", Master},
		{"RFC5798_6.4.3_adver_timer_late_no_burst", v2cfg(255),
			[]step{startup(0), expire(AdverTimer, 5500*ms)},
			"send(prio 255) arm(adver at 00:00:06.500000)", Master},
		{"RFC5798_6.4.3_higher_priority_makes_master_backup", v3cfg(100, 100*ms),
			[]step{startup(0), expire(MasterDownTimer, 360937500), advert(200, lowerIP, 300*ms, time.Second)},
			// learns 300ms: 900ms + 156 x 300ms / 256 = 1.0828125s.
			"stop-timer remove-vips arm(master-down at 00:00:02.082812) MASTER->BACKUP(higher-priority)", Backup},
		{"RFC5798_6.4.3_equal_priority_higher_address_wins", v2cfg(100),
			[]step{startup(0), expire(MasterDownTimer, down100), advert(100, higher, time.Second, 4*time.Second)},
			"stop-timer remove-vips arm(master-down at 00:00:07.609375) MASTER->BACKUP(higher-priority)", Backup},
		{"RFC5798_6.4.3_equal_priority_lower_address_loses", v2cfg(100),
			[]step{startup(0), expire(MasterDownTimer, down100), advert(100, lowerIP, time.Second, 4*time.Second)},
			"send(prio 100) announce(lower-prio) arm(adver at 00:00:05.000000)", Master},
		{"keepalived_lower_priority_master_forces_election", v2cfg(100),
			[]step{startup(0), expire(MasterDownTimer, down100), advert(50, higher, time.Second, 4*time.Second)},
			"send(prio 100) announce(lower-prio) arm(adver at 00:00:05.000000)", Master},
		{"RFC5798_6.4.3_priority_zero_received_by_master", v2cfg(100),
			[]step{startup(0), expire(MasterDownTimer, down100), advert(0, higher, time.Second, 4*time.Second)},
			"send(prio 100) arm(adver at 00:00:05.000000)", Master},
		{"RFC5798_6.4.3_shutdown_master_sends_priority_zero", v2cfg(100),
			[]step{startup(0), expire(MasterDownTimer, down100), input(InputShutdown, 0, 4*time.Second)},
			"send(prio 0) remove-vips stop-timer MASTER->STOPPED(shutdown)", Stopped},
		{"RFC5798_6.4.2_shutdown_backup", v2cfg(100),
			[]step{startup(0), input(InputShutdown, 0, time.Second)},
			"stop-timer BACKUP->STOPPED(shutdown)", Stopped},
		{"shutdown_twice_is_quiet", v2cfg(100),
			[]step{startup(0), input(InputShutdown, 0, time.Second), input(InputShutdown, 0, time.Second)},
			"", Stopped},
		{"restart_after_shutdown", v2cfg(100),
			[]step{startup(0), input(InputShutdown, 0, time.Second), startup(2 * time.Second)},
			"remove-vips arm(master-down at 00:00:05.609375) STOPPED->BACKUP(startup)", Backup},
		{"advert_while_stopped_ignored", v2cfg(100),
			[]step{startup(0), input(InputShutdown, 0, time.Second), advert(200, higher, time.Second, 2*time.Second)},
			"", Stopped},
		{"RFC5798_6.4.3_accept_mode_default_keepalived_accept", v2cfg(255),
			[]step{startup(0)},
			"send(prio 255) announce add-vips arm(adver at 00:00:01.000000) INIT->MASTER(startup)", Master},
		{"RFC5798_6.4.3_no_accept_non_owner", func() MachineConfig { c := v2cfg(100); c.NoAccept = true; return c }(),
			[]step{startup(0), expire(MasterDownTimer, down100)},
			"send(prio 100) announce add-vips(no-accept) arm(adver at 00:00:04.609375) BACKUP->MASTER(master-down)", Master},
		{"RFC5798_6.4.3_no_accept_owner_still_accepts", func() MachineConfig { c := v2cfg(255); c.NoAccept = true; return c }(),
			[]step{startup(0)},
			"send(prio 255) announce add-vips arm(adver at 00:00:01.000000) INIT->MASTER(startup)", Master},
		{"fault_from_master_resigns", v2cfg(100),
			[]step{startup(0), expire(MasterDownTimer, down100), input(InputFault, 0, 4*time.Second)},
			"send(prio 0) remove-vips stop-timer MASTER->FAULT(fault)", Fault},
		{"fault_from_backup", v2cfg(100),
			[]step{startup(0), input(InputFault, 0, time.Second)},
			"stop-timer BACKUP->FAULT(fault)", Fault},
		{"fault_cleared_restarts_as_backup", v2cfg(100),
			[]step{startup(0), input(InputFault, 0, time.Second), input(InputFaultCleared, 0, 2*time.Second)},
			"arm(master-down at 00:00:05.609375) FAULT->BACKUP(fault-cleared)", Backup},
		{"fault_cleared_owner_goes_master", v2cfg(255),
			[]step{startup(0), input(InputFault, 0, time.Second), input(InputFaultCleared, 0, 2*time.Second)},
			"send(prio 255) announce add-vips arm(adver at 00:00:03.000000) FAULT->MASTER(fault-cleared)", Master},
		{"fault_before_startup_starts_in_fault", v2cfg(100),
			[]step{input(InputFault, 0, 0), startup(0)},
			"remove-vips INIT->FAULT(startup)", Fault},
		{"advert_in_fault_ignored", v2cfg(100),
			[]step{startup(0), input(InputFault, 0, time.Second), advert(0, higher, time.Second, 2*time.Second)},
			"", Fault},
		{"priority_change_in_master_advertises_now", v2cfg(100),
			[]step{startup(0), expire(MasterDownTimer, down100), input(InputPriority, 50, 4*time.Second)},
			"send(prio 50) arm(adver at 00:00:05.000000)", Master},
		{"priority_change_in_backup_changes_skew", v2cfg(100),
			[]step{startup(0), input(InputPriority, 200, 500*ms), advert(250, higher, time.Second, time.Second)},
			// 3s + 56/256 s after 1s.
			"arm(master-down at 00:00:04.218750)", Backup},
		{"priority_change_ignored_for_owner", v2cfg(255),
			[]step{startup(0), input(InputPriority, 100, time.Second)},
			"", Master},
		{"priority_change_to_zero_ignored", v2cfg(100),
			[]step{startup(0), input(InputPriority, 0, time.Second)},
			"", Backup},
		{"reload_master_advertises_new_priority_and_interval_now", v2cfg(100),
			[]step{startup(0), expire(MasterDownTimer, down100),
				reload(with(120, func(c *MachineConfig) { c.Interval = 2 * time.Second }), 4*time.Second)},
			"send(prio 120) arm(adver at 00:00:06.000000)", Master},
		{"reload_master_keeps_new_interval", v2cfg(100),
			[]step{startup(0), expire(MasterDownTimer, down100),
				reload(with(120, func(c *MachineConfig) { c.Interval = 2 * time.Second }), 4*time.Second),
				expire(AdverTimer, 6*time.Second)},
			"send(prio 120) arm(adver at 00:00:08.000000)", Master},
		{"reload_master_accept_mode_changes_first", v2cfg(100),
			[]step{startup(0), expire(MasterDownTimer, down100),
				reload(with(100, func(c *MachineConfig) { c.NoAccept = true }), 4*time.Second)},
			"add-vips(no-accept) send(prio 100) arm(adver at 00:00:05.000000)", Master},
		{"reload_owner_demoted_stays_master", v2cfg(255),
			[]step{startup(0), reload(v2cfg(100), time.Second)},
			"send(prio 100) arm(adver at 00:00:02.000000)", Master},
		{"reload_master_no_preempt_change_stays_master", v2cfg(100),
			[]step{startup(0), expire(MasterDownTimer, down100),
				reload(with(100, func(c *MachineConfig) { c.NoPreempt, c.PreemptDelay = true, 5*time.Second }), 4*time.Second)},
			"send(prio 100) arm(adver at 00:00:05.000000)", Master},
		{"reload_backup_keeps_its_timer", v2cfg(100),
			[]step{startup(0), advert(200, higher, time.Second, time.Second), reload(v2cfg(50), 2*time.Second)},
			"", Backup},
		{"reload_backup_priority_counts_at_next_advert", v2cfg(100),
			[]step{startup(0), advert(200, higher, time.Second, time.Second), reload(v2cfg(150), 2*time.Second),
				advert(200, higher, time.Second, 3*time.Second)},
			// 3 s + 106/256 s after 3 s.
			"arm(master-down at 00:00:06.414062)", Backup},
		{"reload_backup_v2_interval_counts_at_next_advert", v2cfg(100),
			[]step{startup(0), reload(with(100, func(c *MachineConfig) { c.Interval = 2 * time.Second }), 500*ms),
				advert(200, higher, 2*time.Second, time.Second)},
			// 3 x 2 s + 156/256 s (v2 Skew_Time is in seconds) after 1 s.
			"arm(master-down at 00:00:07.609375)", Backup},
		{"reload_backup_nopreempt_drops_pending_preemption", with(100, func(c *MachineConfig) { c.PreemptDelay = 2 * time.Second }),
			[]step{startup(0), advert(50, higher, time.Second, time.Second), advert(50, higher, time.Second, 2*time.Second),
				reload(with(100, func(c *MachineConfig) { c.NoPreempt = true }), 2500*ms)},
			// The timer armed for the preemption at 3 s restarts as
			// Master_Down_Timer: 2.5 s + 3.609375 s.
			"arm(master-down at 00:00:06.109375)", Backup},
		{"reload_backup_nopreempt_then_accepts_lower_master", with(100, func(c *MachineConfig) { c.PreemptDelay = 2 * time.Second }),
			[]step{startup(0), advert(50, higher, time.Second, time.Second), advert(50, higher, time.Second, 2*time.Second),
				reload(with(100, func(c *MachineConfig) { c.NoPreempt = true }), 2500*ms), advert(50, higher, time.Second, 3*time.Second)},
			"arm(master-down at 00:00:06.609375)", Backup},
		{"reload_in_fault_stays_fault", v2cfg(100),
			[]step{startup(0), input(InputFault, 0, time.Second), reload(v2cfg(200), 2*time.Second)},
			"", Fault},
		{"reload_in_fault_priority_counts_after", v2cfg(100),
			[]step{startup(0), input(InputFault, 0, time.Second), reload(v2cfg(255), 2*time.Second),
				input(InputFaultCleared, 0, 3*time.Second)},
			"send(prio 255) announce add-vips arm(adver at 00:00:04.000000) FAULT->MASTER(fault-cleared)", Master},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runSteps(t, c.cfg, c.steps, c.want, c.state) })
	}
}

func TestMachineMasterAddress(t *testing.T) {
	m, err := NewMachine(v2cfg(100))
	if err != nil {
		t.Fatal(err)
	}
	if m.Master().IsValid() {
		t.Errorf("Init: master %v", m.Master())
	}
	m.Step(startup(0).in, t0, nil)
	m.Step(advert(200, higher, time.Second, 0).in, at(time.Second), nil)
	if m.Master() != higher {
		t.Errorf("Backup: master %v, want %v", m.Master(), higher)
	}
	m.Step(expire(MasterDownTimer, 0).in, at(5*time.Second), nil)
	if m.State() != Master || m.Master() != us {
		t.Errorf("Master: state %v master %v, want us %v", m.State(), m.Master(), us)
	}
	if tm, d := m.Deadline(); tm != AdverTimer || !d.Equal(at(6*time.Second)) {
		t.Errorf("deadline %v %v", tm, d)
	}
}

// A reload cannot change the version or the primary address: the
// caller replaces the machine.
func TestMachineReconfigureIdentity(t *testing.T) {
	m, err := NewMachine(v2cfg(100))
	if err != nil {
		t.Fatal(err)
	}
	m.Step(Input{Kind: InputStartup}, t0, nil)
	for _, c := range []MachineConfig{v3cfg(100, time.Second), with(100, func(c *MachineConfig) { c.Primary = higher }), v2cfg(0)} {
		if _, err := m.Reconfigure(c, t0, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("Reconfigure(%+v): %v, want ErrInvalid", c, err)
		}
	}
	if m.Priority() != 100 || m.State() != Backup {
		t.Errorf("a refused reload changed the machine: priority %d, state %v", m.Priority(), m.State())
	}
}

func TestMachineConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  MachineConfig
	}{
		{"no version", MachineConfig{Priority: 100, Interval: time.Second, Primary: us}},
		{"v2 sub-second", MachineConfig{Version: V2, Priority: 100, Interval: 100 * time.Millisecond, Primary: us}},
		{"v2 ipv6", MachineConfig{Version: V2, Priority: 100, Interval: time.Second, Primary: netip.MustParseAddr("2001:db8::1")}},
		{"v3 5ms", MachineConfig{Version: V3, Priority: 100, Interval: 5 * time.Millisecond, Primary: us}},
		{"v3 41s", MachineConfig{Version: V3, Priority: 100, Interval: 41 * time.Second, Primary: us}},
		{"priority 0", MachineConfig{Version: V2, Interval: time.Second, Primary: us}},
		{"no primary", MachineConfig{Version: V2, Priority: 100, Interval: time.Second}},
		{"keepalived_nopreempt_requires_BACKUP", MachineConfig{Version: V2, Priority: 100, Interval: time.Second, Primary: us, NoPreempt: true, InitialState: Master}},
		{"initial state fault", MachineConfig{Version: V2, Priority: 100, Interval: time.Second, Primary: us, InitialState: Fault}},
		{"negative interval", MachineConfig{Version: V2, Priority: 100, Interval: -time.Second, Primary: us}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewMachine(c.cfg); !errors.Is(err, ErrInvalid) {
				t.Fatalf("NewMachine: %v, want ErrInvalid", err)
			}
		})
	}
}

// Zero means the default, negative means off: Interval 0 is 1 s, a
// negative PreemptDelay is none.
func TestMachineConfigDefaults(t *testing.T) {
	m, err := NewMachine(MachineConfig{Version: V2, Priority: 100, Primary: us, PreemptDelay: -time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if d := m.MasterDownInterval(); d != 3609375*time.Microsecond {
		t.Errorf("Master_Down_Interval %v, want 3.609375s (1 s adverts)", d)
	}
	m.Step(Input{Kind: InputStartup}, at(0), nil)
	m.Step(Input{Kind: InputAdvert, Priority: 50, Src: higher, Interval: time.Second}, at(time.Second), nil)
	if _, d := m.Deadline(); !d.Equal(at(3609375 * time.Microsecond)) {
		t.Errorf("a lower master's advert re-armed Master_Down to %v: a negative delay must be none", d)
	}
}

func TestMachineEnumStrings(t *testing.T) {
	var b strings.Builder
	for s := Init; s <= Stopped+1; s++ {
		fmt.Fprint(&b, s, " ")
	}
	for r := ReasonNone; r <= ReasonResumed+1; r++ {
		fmt.Fprint(&b, r, " ")
	}
	for tm := NoTimer; tm <= AdverTimer+1; tm++ {
		fmt.Fprint(&b, tm, " ")
	}
	for k := ActSend; k <= ActTransition+1; k++ {
		fmt.Fprint(&b, k, " ")
	}
	want := "INIT BACKUP MASTER FAULT STOPPED State(5) none startup master-down master-resigned preempt higher-priority fault fault-cleared shutdown sync-group resumed Reason(11) none master-down adver Timer(3) send arm-timer stop-timer add-vips remove-vips announce transition ActionKind(8) "
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
}

func BenchmarkMachineStep(b *testing.B) {
	m, err := NewMachine(v3cfg(100, 100*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	buf := m.Step(Input{Kind: InputStartup}, t0, nil)
	in := Input{Kind: InputAdvert, Priority: 200, Src: higher, Interval: 100 * time.Millisecond}
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(100 * time.Millisecond)
		buf = m.Step(in, now, buf[:0])
	}
	if m.State() != Backup {
		b.Fatal(m.State())
	}
}
