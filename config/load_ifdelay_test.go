package config

import (
	"slices"
	"testing"
	"time"

	"github.com/vigil-ha/vigil"
)

func TestLoadInterfaceUpDownDelays(t *testing.T) {
	type d = vigil.InterfaceDelay
	for _, tc := range []struct {
		name, block string
		want        []d
		errs        []wantErr
	}{
		{"down", " eth0 1.5\n", []d{{Interface: "eth0", Down: 1500 * time.Millisecond, Up: 0}}, nil},
		{"down and up", " eth0 2 0.000001\n eth1 0 3\n", []d{{Interface: "eth0", Down: 2 * time.Second, Up: time.Microsecond}, {Interface: "eth1", Down: 0, Up: 3 * time.Second}}, nil},
		{"later line wins", " eth0 1\n eth0 2 3\n", []d{{Interface: "eth0", Down: 2 * time.Second, Up: 3 * time.Second}}, nil},
		{"no delays", " eth0\n", nil, []wantErr{{"no delays", 2, 2}}},
		{"extra", " eth0 1 2 3\n", []d{{Interface: "eth0", Down: time.Second, Up: 2 * time.Second}}, []wantErr{{"extra argument", 2, 11}}},
		{"down too long", " eth0 255.1\n", nil, []wantErr{{"invalid time", 2, 7}}},
		{"negative up", " eth0 1 -1\n", nil, []wantErr{{"invalid time", 2, 9}}},
		{"not a number", " eth0 x\n", nil, []wantErr{{"invalid time", 2, 7}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, errs := loadString(t, "interface_up_down_delays {\n"+tc.block+"}\n")
			if !slices.Equal(cfg.InterfaceDelays, tc.want) {
				t.Errorf("InterfaceDelays %v, want %v", cfg.InterfaceDelays, tc.want)
			}
			checkErrs(t, errs, tc.errs)
		})
	}
}
