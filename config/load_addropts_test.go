package config

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/netlink"
)

// TestLoadAddrOptions: each address option reaches its field, in the
// three address blocks.
func TestLoadAddrOptions(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		entry string
		want  netlink.AddrOptions
	}{
		{"192.0.2.1/24 scope link", netlink.AddrOptions{Scope: netlink.ScopeLink}},
		{"192.0.2.1/24 scope 254", netlink.AddrOptions{Scope: netlink.ScopeHost}},
		{"192.0.2.1/24 brd 192.0.2.255", netlink.AddrOptions{Broadcast: a("192.0.2.255")}},
		{"192.0.2.1/24 broadcast +", netlink.AddrOptions{Broadcast: a("192.0.2.255")}},
		{"192.0.2.1/22 brd -", netlink.AddrOptions{Broadcast: a("192.0.0.0")}},
		{"192.0.2.1/24 noprefixroute no_track", netlink.AddrOptions{NoPrefixRoute: true, NoTrack: true}},
		{"2001:db8::1/64 preferred_lft 0", netlink.AddrOptions{PreferredLifetime: -1}},
		{"2001:db8::1/64 preferred_lft 30", netlink.AddrOptions{PreferredLifetime: 30 * time.Second}},
		{"2001:db8::1/64 preferred_lft forever", netlink.AddrOptions{}},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			p, _ := netip.ParsePrefix(tc.entry[:len(tc.entry)-len(tc.entry[indexSpace(tc.entry):])])
			for _, block := range []string{"virtual_ipaddress", "virtual_ipaddress_excluded", "static_ipaddress"} {
				text := "static_ipaddress {\n" + tc.entry + " dev eth0\n}\n"
				if block != "static_ipaddress" {
					vip, excl := "198.51.100.1", "198.51.100.2"
					if p.Addr().Is6() {
						vip, excl = "2001:db8::101", "2001:db8::102"
					}
					text = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n " + vip + "\n }\n " +
						"virtual_ipaddress_excluded {\n " + excl + "\n }\n " + block + " {\n" + tc.entry + "\n}\n}\n"
				}
				cfg, errs := loadString(t, text)
				for _, e := range errs {
					t.Errorf("%s: unexpected %v", block, e)
				}
				var got netlink.AddrOptions
				if block == "static_ipaddress" {
					got = cfg.Static.Addresses[0].Options
				} else {
					got = cfg.Instances[0].AddrOptions[p]
					if len(cfg.Instances[0].AddrOptions) > 1 {
						t.Errorf("%s: options of other addresses: %v", block, cfg.Instances[0].AddrOptions)
					}
				}
				if got != tc.want {
					t.Errorf("%s: %+v, want %+v", block, got, tc.want)
				}
			}
		})
	}
}

func indexSpace(s string) int {
	for i, c := range s {
		if c == ' ' {
			return i
		}
	}
	return len(s)
}

// TestLoadAddrOptionErrors: a bad argument is reported at its word and
// the address is kept without that option.
func TestLoadAddrOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		entry string
		col   int
		sev   Severity
		msg   string
	}{
		{"192.0.2.1/24 scope bogus", 20, SeverityError, `invalid scope "bogus"`},
		{"2001:db8::1/64 scope link", 16, SeverityWarning, "scope on IPv6 address 2001:db8::1/64: ignored"},
		{"192.0.2.1/24 brd 2001:db8::1", 18, SeverityError, `"2001:db8::1" is not an IPv4 address, + or -`},
		{"192.0.2.1/31 brd +", 18, SeverityError, "prefix /31 too long"},
		{"2001:db8::1/64 brd +", 16, SeverityError, "brd on IPv6 address"},
		{"2001:db8::1/64 preferred_lft soon", 30, SeverityError, `preferred_lft: "soon" is not a number`},
		{"192.0.2.1/24 preferred_lft 0", 14, SeverityWarning, "preferred_lft on IPv4 address 192.0.2.1/24: ignored"},
		{"192.0.2.1/24 scope", 14, SeverityError, "scope: missing argument"},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			addr, opts, _ := strings.Cut(tc.entry, " ")
			cfg, errs := loadString(t, "static_ipaddress {\n"+addr+" dev eth0 "+opts+"\n}\n")
			e := hasMsg(errs, tc.msg)
			if e == nil {
				t.Fatalf("no %q in\n%v", tc.msg, errs)
			}
			if col := tc.col + len(" dev eth0"); e.Pos.Line != 2 || e.Pos.Col != col || e.Severity != tc.sev {
				t.Errorf("%v: at %d:%d %v, want 2:%d %v", e, e.Pos.Line, e.Pos.Col, e.Severity, col, tc.sev)
			}
			if len(cfg.Static.Addresses) != 1 || cfg.Static.Addresses[0].Options != (netlink.AddrOptions{}) {
				t.Errorf("addresses %+v", cfg.Static.Addresses)
			}
		})
	}
}

// TestLoadExcluded: excluded addresses go to ExcludedVIPs, not to the
// VIPs (so not in adverts), of either family.
func TestLoadExcluded(t *testing.T) {
	const head = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n"
	cfg, errs := loadString(t, head+" virtual_ipaddress {\n 192.0.2.1\n }\n virtual_ipaddress_excluded {\n 192.0.2.2/24 dev eth0\n 2001:db8::1 no_track\n 192.0.2.1\n }\n}\n")
	in := cfg.Instances[0]
	if !slices.Equal(in.VRRP.VIPs, prefixes("192.0.2.1/32")) {
		t.Errorf("VIPs %v", in.VRRP.VIPs)
	}
	if !slices.Equal(in.ExcludedVIPs, prefixes("192.0.2.2/24", "2001:db8::1/128")) {
		t.Errorf("ExcludedVIPs %v", in.ExcludedVIPs)
	}
	want := map[netip.Prefix]netlink.AddrOptions{netip.MustParsePrefix("2001:db8::1/128"): {NoTrack: true}}
	if !maps.Equal(in.AddrOptions, want) {
		t.Errorf("AddrOptions %v", in.AddrOptions)
	}
	if e := hasMsg(errs, "excluded address 192.0.2.1 is also a virtual"); e == nil || e.Pos.Line != 10 || e.Severity != SeverityWarning {
		t.Errorf("duplicate warning %v in %v", e, errs)
	}
	if len(errs) != 1 {
		t.Errorf("%v", errs)
	}
	cfg, errs = loadString(t, head+" virtual_ipaddress_excluded {\n 192.0.2.2\n }\n}\n")
	if e := hasMsg(errs, "virtual_ipaddress_excluded without virtual_ipaddress"); e == nil || e.Pos.Line != 4 || e.Pos.Col != 2 || e.Severity != SeverityError {
		t.Errorf("no VIPs: %v in %v", e, errs)
	}
	if len(cfg.Instances) == 1 && len(cfg.Instances[0].ExcludedVIPs) != 0 {
		t.Errorf("ExcludedVIPs %v", cfg.Instances[0].ExcludedVIPs)
	}
}
