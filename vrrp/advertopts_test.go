package vrrp

import (
	"errors"
	"testing"
	"time"
)

// keepalived's advert options (vrrp.c: VRRP_MS_DOWN_TIMER,
// vrrp_state_master_rx), one row per behaviour; the zero value's rows
// are TestMachine's.
func TestMachineAdvertOptions(t *testing.T) {
	opts := func(prio uint8, o AdvertOptions) MachineConfig {
		return with(prio, func(c *MachineConfig) { c.AdvertOptions = o })
	}
	cases := []struct {
		name  string
		cfg   MachineConfig
		steps []step
		want  string
		state State
	}{
		// down_timer_adverts 5: 5 × 1 s + Skew_Time (156/256 s).
		{"down_timer_adverts_5_at_startup", opts(100, AdvertOptions{DownTimerAdverts: 5}),
			[]step{startup(0)},
			"remove-vips arm(master-down at 00:00:05.609375) INIT->BACKUP(startup)", Backup},
		{"down_timer_adverts_1_after_advert", opts(100, AdvertOptions{DownTimerAdverts: 1}),
			[]step{startup(0), advert(200, higher, time.Second, 2*time.Second)},
			"arm(master-down at 00:00:03.609375)", Backup},
		{"down_timer_adverts_5_takes_over_then", opts(100, AdvertOptions{DownTimerAdverts: 5}),
			[]step{startup(0), expire(MasterDownTimer, 5609375*time.Microsecond)},
			"send(prio 100) announce add-vips arm(adver at 00:00:06.609375) BACKUP->MASTER(master-down)", Master},
		{"down_timer_adverts_5_not_before", opts(100, AdvertOptions{DownTimerAdverts: 5}),
			[]step{startup(0), expire(MasterDownTimer, 3609375*time.Microsecond)},
			"", Backup},
		// The default answers a lower priority master with an advert.
		{"lower_prio_default_advertises", opts(255, AdvertOptions{}),
			[]step{startup(0), advert(50, higher, time.Second, 500*time.Millisecond)},
			"send(prio 255) announce(lower-prio) arm(adver at 00:00:01.500000)", Master},
		{"lower_prio_no_advert_only_announces", opts(255, AdvertOptions{LowerPrioNoAdvert: true}),
			[]step{startup(0), advert(50, higher, time.Second, 500*time.Millisecond)},
			"announce(lower-prio)", Master},
		{"lower_prio_no_advert_keeps_adver_timer", opts(255, AdvertOptions{LowerPrioNoAdvert: true}),
			[]step{startup(0), advert(50, higher, time.Second, 500*time.Millisecond), expire(AdverTimer, time.Second)},
			"send(prio 255) arm(adver at 00:00:02.000000)", Master},
		{"higher_prio_default_yields_silently", opts(100, AdvertOptions{}),
			[]step{startup(0), expire(MasterDownTimer, 3609375*time.Microsecond), advert(200, higher, time.Second, 4*time.Second)},
			"stop-timer remove-vips arm(master-down at 00:00:07.609375) MASTER->BACKUP(higher-priority)", Backup},
		{"higher_prio_send_advert_advertises_first", opts(100, AdvertOptions{HigherPrioSendAdvert: true}),
			[]step{startup(0), expire(MasterDownTimer, 3609375*time.Microsecond), advert(200, higher, time.Second, 4*time.Second)},
			"send(prio 100) stop-timer remove-vips arm(master-down at 00:00:07.609375) MASTER->BACKUP(higher-priority)", Backup},
		{"higher_prio_send_advert_equal_priority_higher_address", opts(100, AdvertOptions{HigherPrioSendAdvert: true}),
			[]step{startup(0), expire(MasterDownTimer, 3609375*time.Microsecond), advert(100, higher, time.Second, 4*time.Second)},
			"send(prio 100) stop-timer remove-vips arm(master-down at 00:00:07.609375) MASTER->BACKUP(higher-priority)", Backup},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runSteps(t, c.cfg, c.steps, c.want, c.state) })
	}
}

// runSteps runs steps on a machine for cfg and checks the actions of the
// last step and the state it ends in.
func runSteps(t *testing.T, cfg MachineConfig, steps []step, want string, state State) {
	t.Helper()
	m, err := NewMachine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []Action
	for _, s := range steps {
		if s.cfg != nil {
			if got, err = m.Reconfigure(*s.cfg, at(s.off), got[:0]); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got = m.Step(s.in, at(s.off), got[:0])
	}
	if s := fmtActions(got); s != want {
		t.Errorf("actions:\n got %s\nwant %s", s, want)
	}
	if m.State() != state {
		t.Errorf("state %v, want %v", m.State(), state)
	}
}

func TestAdvertOptionsValidate(t *testing.T) {
	for _, n := range []int{-1, 101} {
		c := with(100, func(c *MachineConfig) { c.DownTimerAdverts = n })
		var fe *FieldError
		if err := c.Validate(); !errors.As(err, &fe) || fe.Field != "DownTimerAdverts" {
			t.Errorf("DownTimerAdverts %d: %v", n, err)
		}
	}
}
