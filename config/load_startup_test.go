package config

import (
	"errors"
	"testing"
	"testing/fstest"
	"time"
)

func TestLoadStartupDelay(t *testing.T) {
	up := func(d time.Duration, err error) func() (time.Duration, error) {
		return func() (time.Duration, error) { return d, err }
	}
	for _, tc := range []struct {
		name, global string
		uptime       func() (time.Duration, error)
		want         time.Duration
		errs         []wantErr
	}{
		{"vrrp_startup_delay", " vrrp_startup_delay 5.5", nil, 5500 * time.Millisecond, nil},
		{"vrrp_startup_delay bad", " vrrp_startup_delay x", nil, 0, []wantErr{{"invalid time", 2, 21}}},
		{"vrrp_startup_delay 0", " vrrp_startup_delay 0", nil, 0, []wantErr{{"invalid time", 2, 21}}},
		{"after boot: what remains", " vrrp_delay_after_boot 100", up(70*time.Second, nil), 30 * time.Second, nil},
		{"after boot: passed", " vrrp_delay_after_boot 100", up(170*time.Second, nil), 0, nil},
		{"after boot: the longer wins", " vrrp_startup_delay 40\n vrrp_delay_after_boot 100", up(70*time.Second, nil), 40 * time.Second, nil},
		{"after boot: the longer wins, other order", " vrrp_delay_after_boot 100\n vrrp_startup_delay 20", up(70*time.Second, nil), 30 * time.Second, nil},
		{"after boot: no uptime", " vrrp_delay_after_boot 100", up(0, errors.New("no")), 0, []wantErr{{"cannot read the uptime", 2, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "global_defs {\n" + tc.global + "\n}\n"
			tr, err := Read(fstest.MapFS{"k.conf": {Data: []byte(text)}}, "k.conf", Options{})
			if err != nil {
				t.Fatal(err)
			}
			cfg, errs := Load(tr, LoadOptions{LookupUser: fakeUsers, Uptime: tc.uptime})
			if cfg.Global.StartupDelay != tc.want {
				t.Errorf("StartupDelay %v, want %v", cfg.Global.StartupDelay, tc.want)
			}
			checkErrs(t, errs, tc.errs)
		})
	}
}
