package vigil

import (
	"errors"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/notify"
)

// TestValidateVirtualServers: each problem is one *FieldError naming the
// object and the field.
func TestValidateVirtualServers(t *testing.T) {
	good := func() *Config {
		return &Config{VirtualServers: []VirtualServer{virtualServer("192.0.2.10:80", realServer("10.0.0.1:80", 1, &fake{}))}}
	}
	group := func(cfg *Config, name string, keys ...string) {
		g := VirtualServerGroup{Name: name}
		for _, k := range keys {
			g.Services = append(g.Services, tcpKey(k))
		}
		cfg.VirtualServerGroups = append(cfg.VirtualServerGroups, g)
	}
	const vs0 = "virtual server tcp 192.0.2.10:80"
	for _, tc := range []struct {
		name          string
		change        func(cfg *Config)
		object, field string
		reason        string // a part of it
	}{
		{"unknown group", func(cfg *Config) { cfg.VirtualServers[0].Group = "G" },
			"virtual server group G", "Group", `no virtual server group named "G"`},
		{"empty group", func(cfg *Config) { group(cfg, "G"); cfg.VirtualServers[0].Group = "G" },
			"virtual server group G", "Services", "empty"},
		{"group twice", func(cfg *Config) { group(cfg, "G", "192.0.2.1:80"); group(cfg, "G", "192.0.2.2:80") },
			"virtual server group G", "Name", "defined twice"},
		{"group entry twice", func(cfg *Config) { group(cfg, "G", "192.0.2.1:80", "192.0.2.1:80") },
			"virtual server group G", "Services[1]", "listed twice"},
		{"duplicate service", func(cfg *Config) { cfg.VirtualServers = append(cfg.VirtualServers, good().VirtualServers[0]) },
			vs0, "Service", "also a service of VirtualServers[0]"},
		{"duplicate through a group", func(cfg *Config) {
			group(cfg, "G", "192.0.2.11:80", "192.0.2.10:80")
			vs := good().VirtualServers[0]
			vs.Group = "G"
			cfg.VirtualServers = append(cfg.VirtualServers, vs)
		}, "virtual server group G", "Group", "service tcp 192.0.2.10:80 is also a service of VirtualServers[0]"},
		{"nil checker", func(cfg *Config) {
			rs := &cfg.VirtualServers[0].RealServers[0]
			rs.Checks = append(rs.Checks, RealServerCheck{})
		}, vs0, "RealServers[0].Checks[1].Checker", "nil"},
		{"invalid checker", func(cfg *Config) {
			cfg.VirtualServers[0].RealServers = append(cfg.VirtualServers[0].RealServers, realServer("10.0.0.2:80", 1, &check.TCP{}))
		}, vs0, "RealServers[1].Checks[0].Checker", "check: "},
		{"weight", func(cfg *Config) { cfg.VirtualServers[0].RealServers[0].Weight = 70000 },
			vs0, "RealServers[0].Weight", "out of range"},
		{"duplicate real server", func(cfg *Config) {
			cfg.VirtualServers[0].RealServers = append(cfg.VirtualServers[0].RealServers, realServer("10.0.0.2:80", 1), realServer("10.0.0.1:80", 1))
		}, vs0, "RealServers[2].DestinationKey", "duplicate destination"},
		{"scheduler", func(cfg *Config) { cfg.VirtualServers[0].Service.Scheduler = 0 },
			vs0, "Service.Scheduler", ""},
		{"sorry server without quorum", func(cfg *Config) {
			cfg.VirtualServers[0].Quorum = -1
			cfg.VirtualServers[0].SorryServer = &ipvs.Destination{DestinationKey: dkey("10.0.0.9:80"), Forward: ipvs.Masquerade}
		}, vs0, "SorryServer", "never serve"},
		{"sorry server invalid", func(cfg *Config) {
			cfg.VirtualServers[0].SorryServer = &ipvs.Destination{DestinationKey: dkey("10.0.0.9:80")}
		}, vs0, "SorryServer.Forward", ""},
		{"ha_suspend on fwmark", func(cfg *Config) {
			cfg.VirtualServers[0].Service.ServiceKey = ipvs.ServiceKey{FWMark: 7}
			cfg.VirtualServers[0].HASuspend = true
		}, "virtual server fwmark 7", "HASuspend", "fwmark"},
		{"ha_suspend on group", func(cfg *Config) {
			group(cfg, "G", "192.0.2.11:80")
			cfg.VirtualServers[0].Group = "G"
			cfg.VirtualServers[0].HASuspend = true
		}, "virtual server group G", "HASuspend", "group"},
		{"script", func(cfg *Config) { cfg.VirtualServers[0].RealServers[0].NotifyUp = &notify.Script{} },
			vs0, "RealServers[0].NotifyUp", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good()
			tc.change(cfg)
			errs := validateVirtualServers(cfg)
			if len(errs) != 1 {
				t.Fatalf("%d errors, want 1: %v", len(errs), errs)
			}
			var fe *FieldError
			if !errors.As(errs[0], &fe) || !errors.Is(errs[0], ErrInvalid) {
				t.Fatalf("%T %v, want a *FieldError", errs[0], errs[0])
			}
			if fe.Object != tc.object || fe.Field != tc.field || !strings.Contains(fe.Reason, tc.reason) {
				t.Fatalf("got %q %q %q\nwant %q %q containing %q", fe.Object, fe.Field, fe.Reason, tc.object, tc.field, tc.reason)
			}
			if _, err := newVirtualServers(check.NewGroup(check.GroupConfig{}), nil, cfg, &recorder{}, nil); !errors.Is(err, ErrInvalid) {
				t.Fatalf("newVirtualServers: %v", err)
			}
		})
	}
	if errs := validateVirtualServers(good()); len(errs) != 0 {
		t.Fatalf("a good configuration: %v", errs)
	}
	cfg := good()
	group(cfg, "G", "192.0.2.11:80")
	cfg.VirtualServers[0].Service.Scheduler = 0
	vs := good().VirtualServers[0]
	vs.Group = "G"
	cfg.VirtualServers = append(cfg.VirtualServers, vs)
	cfg.VirtualServers[1].RealServers[0].Weight = -1
	if errs := validateVirtualServers(cfg); len(errs) != 2 {
		t.Fatalf("two problems: %v", errs)
	}
}
