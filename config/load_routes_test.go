package config

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/vrrp"
)

func TestLoadRoutes(t *testing.T) {
	p, a := netip.MustParsePrefix, netip.MustParseAddr
	for _, tc := range []struct {
		entry string
		want  netlink.Route
	}{
		{"192.0.2.0/24 via 198.51.100.1 dev eth1", netlink.Route{Dst: p("192.0.2.0/24"), Gw: a("198.51.100.1"), Interface: "eth1"}},
		{"to 192.0.2.0/24 gw 198.51.100.1 table 100 metric 5", netlink.Route{Dst: p("192.0.2.0/24"), Gw: a("198.51.100.1"), Table: 100, Metric: 5}},
		{"src 192.0.2.1 192.0.2.128/25 oif eth0 table main", netlink.Route{Dst: p("192.0.2.128/25"), Src: a("192.0.2.1"), Interface: "eth0", Table: 254}},
		{"blackhole 192.0.2.1", netlink.Route{Dst: p("192.0.2.1/32"), Type: netlink.RouteBlackhole}},
		{"to unreachable 2001:db8::/32 priority 7", netlink.Route{Dst: p("2001:db8::/32"), Type: netlink.RouteUnreachable, Metric: 7}},
		{"inet6 2001:db8::/64 via inet6 fe80::1 dev eth0", netlink.Route{Dst: p("2001:db8::/64"), Gw: a("fe80::1"), Interface: "eth0"}},
		{"192.0.2.0/24 mtu lock 1400 protocol 4 add", netlink.Route{Dst: p("192.0.2.0/24")}},
		{"192.0.2.0/24 nexthop via 198.51.100.1 dev eth1 weight 3 onlink nexthop via inet 198.51.100.2", netlink.Route{Dst: p("192.0.2.0/24"),
			MultiPath: []netlink.Nexthop{{Gw: a("198.51.100.1"), Interface: "eth1", Weight: 3, OnLink: true}, {Gw: a("198.51.100.2")}}}},
		{"192.0.2.0/24 via 198.51.100.1 or 198.51.100.2 dev eth1", netlink.Route{Dst: p("192.0.2.0/24"), Interface: "eth1",
			MultiPath: []netlink.Nexthop{{Gw: a("198.51.100.1")}, {Gw: a("198.51.100.2")}}}},
		{"192.0.2.0/24 via 198.51.100.1 onlink scope global prepend", netlink.Route{Dst: p("192.0.2.0/24"), Gw: a("198.51.100.1"),
			OnLink: true, Scope: netlink.ScopeGlobal, Mode: netlink.RoutePrepend}},
		{"192.0.2.0/24 dev eth1 scope 253 append no_track", netlink.Route{Dst: p("192.0.2.0/24"), Interface: "eth1", Scope: netlink.ScopeLink, Mode: netlink.RouteAppend}},
		{"192.0.2.0/24 append add", netlink.Route{Dst: p("192.0.2.0/24")}},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			for _, text := range []string{"static_routes {\n" + tc.entry + "\n}\n",
				"vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n virtual_routes {\n" + tc.entry + "\n}\n}\n"} {
				cfg, errs := loadString(t, text)
				for _, e := range errs {
					if e.Severity != SeverityWarning {
						t.Errorf("unexpected %v", e)
					}
				}
				got := cfg.Static.Routes
				if len(cfg.Instances) > 0 {
					got = cfg.Instances[0].Routes
				}
				if !slices.EqualFunc(got, []netlink.Route{tc.want}, netlink.Route.Equal) {
					t.Errorf("%q: %v, want %v", text, got, tc.want)
				}
			}
		})
	}
}

func TestLoadRules(t *testing.T) {
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		entry string
		want  netlink.Rule
	}{
		{"from 192.0.2.0/24 table 100 preference 10", netlink.Rule{From: p("192.0.2.0/24"), Table: 100, Priority: 10}},
		{"to 192.0.2.1 lookup main order 3 iif eth0 oif eth1", netlink.Rule{To: p("192.0.2.1/32"), Table: 254, Priority: 3, IifName: "eth0", OifName: "eth1"}},
		{"inet6 from 2001:db8::/64 fwmark 0x10 dev eth0 table 7 priority 9", netlink.Rule{From: p("2001:db8::/64"), Mark: 16, IifName: "eth0", Table: 7, Priority: 9}},
		{"not from 192.0.2.0/24 table 100 preference 10 no_track", netlink.Rule{From: p("192.0.2.0/24"), Table: 100, Priority: 10, Invert: true}},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			cfg, errs := loadString(t, "static_rules {\n"+tc.entry+"\n}\n")
			for _, e := range errs {
				t.Errorf("unexpected %v", e)
			}
			if !slices.Equal(cfg.Static.Rules, []netlink.Rule{tc.want}) {
				t.Errorf("%v, want %v", cfg.Static.Rules, tc.want)
			}
		})
	}
}

// TestLoadRouteErrors: a wrong word drops its route or rule, at the
// word, and Load goes on with the next entry.
func TestLoadRouteErrors(t *testing.T) {
	for _, tc := range []struct {
		block, entry string
		col          int
		sev          Severity
		msg          string
	}{
		{"static_routes", "192.0.2.0/24 via 2001:db8::1", 18, SeverityError, "mixes IPv4 and IPv6: route ignored"},
		{"static_routes", "192.0.2.0/24 table foo", 20, SeverityError, `invalid table "foo"`},
		{"static_routes", "local 192.0.2.0/24", 1, SeverityError, "type local not supported"},
		{"static_routes", "192.0.2.0/24 from 192.0.2.1", 14, SeverityError, "route option from: not supported"},
		{"static_routes", "192.0.2.0/24 metric -1", 21, SeverityError, `invalid number "-1"`},
		{"static_routes", "192.0.2.300/24 dev eth0", 1, SeverityError, `"192.0.2.300/24" is not a destination`},
		{"static_routes", "192.0.2.0/24 via", 14, SeverityError, "via: missing argument"},
		{"static_routes", "via 192.0.2.1", 1, SeverityError, "no destination"},
		{"static_routes", "192.0.2.0/24 scope bogus", 20, SeverityError, `invalid scope "bogus"`},
		{"static_routes", "192.0.2.0/24 nexthop via 198.51.100.1 weight 0", 46, SeverityError, `invalid number "0" (1..256)`},
		{"static_routes", "192.0.2.0/24 nexthop via 198.51.100.1 realms 2", 39, SeverityError, `nexthop option "realms" not supported`},
		{"static_routes", "192.0.2.0/24 nexthop via 2001:db8::1", 26, SeverityError, "mixes IPv4 and IPv6"},
		{"static_routes", "192.0.2.0/24 via 198.51.100.1 nexthop via 198.51.100.2", 1, SeverityError, "via with nexthop"},
		{"static_routes", "192.0.2.0/24 or", 14, SeverityError, "or: missing argument"},
		{"static_routes", "192.0.2.0/24 realms 3", 14, SeverityWarning, "route option realms ignored: not supported"},
		{"static_rules", "from 192.0.2.0/24 table 1 sport 80", 27, SeverityError, "rule option sport: not supported"},
		{"static_rules", "from 192.0.2.0/24 fwmark 1/0xff table 1", 26, SeverityError, "a /MASK is not supported"},
		{"static_rules", "from all table 1 priority 4", 1, SeverityError, "vigil needs from or to"},
		{"static_rules", "from 192.0.2.0/24 priority 4", 1, SeverityError, "no table"},
		{"static_rules", "from 192.0.2.0/24 bogus", 19, SeverityError, `unknown option "bogus"`},
		{"static_rules", "from 192.0.2.0/24 table 1", 1, SeverityWarning, "no preference"},
		{"static_rules", "from 192.0.2.0/24 to 2001:db8::1 table 1", 22, SeverityError, "mixes IPv4 and IPv6"},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			cfg, errs := loadString(t, tc.block+" {\n"+tc.entry+"\n192.0.2.0/24 table 9\nfrom 192.0.2.9 table 9 preference 1\n}\n")
			e := hasMsg(errs, tc.msg)
			if e == nil {
				t.Fatalf("no %q in\n%v", tc.msg, errs)
			}
			if e.Pos.Line != 2 || e.Pos.Col != tc.col || e.Severity != tc.sev {
				t.Errorf("%v: at %d:%d %v, want 2:%d %v", e, e.Pos.Line, e.Pos.Col, e.Severity, tc.col, tc.sev)
			}
			// The next entry is read (only one of them belongs to the block).
			n, want := len(cfg.Static.Routes)+len(cfg.Static.Rules), 1
			if tc.sev == SeverityWarning {
				want = 2
			}
			if n != want {
				t.Errorf("%d routes and rules, want %d: %v %v", n, want, cfg.Static.Routes, cfg.Static.Rules)
			}
		})
	}
}

func TestLoadInstanceExtra(t *testing.T) {
	const head = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n"
	for _, tc := range []struct {
		name, text string
		check      func(t *testing.T, cfg vrrp.Config, errs ErrorList)
	}{
		{"no_virtual_ipaddress with version 3", head + " version 3\n no_virtual_ipaddress\n}\n",
			func(t *testing.T, v vrrp.Config, errs ErrorList) {
				if hasMsg(errs, "no virtual_ipaddress") != nil {
					t.Errorf("fatal without VIPs: %v", errs)
				}
			}},
		{"vrrp_strict", "global_defs {\n vrrp_strict\n}\n" + head + " accept\n preempt_delay 3\n authentication {\n auth_type PASS\n auth_pass x\n }\n unicast_peer {\n 192.0.2.9\n }\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n",
			func(t *testing.T, v vrrp.Config, errs ErrorList) {
				if !v.NoAccept || v.PreemptDelay != 0 || v.AuthType != vrrp.AuthNone || len(v.Peers) != 0 {
					t.Errorf("%+v", v)
				}
				for _, m := range []struct {
					msg  string
					line int
				}{{"accept with strict mode", 7}, {"preempt_delay is not allowed", 8}, {"authentication is not allowed", 9}, {"unicast peers are not allowed", 4}} {
					if e := hasMsg(errs, m.msg); e == nil || e.Pos.Line != m.line {
						t.Errorf("%q: %v", m.msg, e)
					}
				}
			}},
		{"strict_mode off beats vrrp_strict; owner keeps accept", "global_defs {\n vrrp_strict\n}\n" + head + " strict_mode off\n virtual_ipaddress {\n 192.0.2.1\n }\n}\nvrrp_instance B {\n interface eth0\n virtual_router_id 2\n priority 255\n virtual_ipaddress {\n 192.0.2.2\n }\n}\n",
			func(t *testing.T, v vrrp.Config, errs ErrorList) {
				if v.NoAccept {
					t.Errorf("A: no_accept with strict_mode off")
				}
			}},
		{"strict without VIPs is fatal", head + " strict_mode\n}\n",
			func(t *testing.T, v vrrp.Config, errs ErrorList) {
				if e := hasMsg(errs, "strict mode needs virtual_ipaddress"); e == nil || e.Severity != SeverityFatal {
					t.Errorf("%v", errs)
				}
			}},
		{"down_timer_adverts 3 is vigil's", head + " down_timer_adverts 3\n lower_prio_no_advert false\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n",
			func(t *testing.T, v vrrp.Config, errs ErrorList) {
				if len(errs) != 0 {
					t.Errorf("%v", errs)
				}
			}},
		{"down_timer_adverts 5", head + " down_timer_adverts 5\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n",
			func(t *testing.T, v vrrp.Config, errs ErrorList) {
				if len(errs) != 0 || v.DownTimerAdverts != 5 {
					t.Errorf("%d, %v", v.DownTimerAdverts, errs)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, errs := loadString(t, tc.text)
			if len(cfg.Instances) == 0 {
				tc.check(t, vrrp.Config{}, errs)
				return
			}
			tc.check(t, cfg.Instances[0].VRRP, errs)
		})
	}
}
