package config

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/vigil-ha/vigil"
)

// instText is an instance A on eth0 with the body lines given (each
// indented by the caller), from line 5 on after a global_defs of the
// lines given (lines 2..3: "global_defs {", one line, "}").
func instText(global, body string) string {
	return "global_defs {\n" + global + "\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n" + body +
		" virtual_ipaddress {\n 192.0.2.1\n }\n}\n"
}

// wantErr is an error expected at a line and column.
type wantErr struct {
	msg       string
	line, col int
}

// checkErrs fails unless every wanted error is in errs at its position,
// and errs has no other error or warning (when want is empty).
func checkErrs(t *testing.T, errs ErrorList, want []wantErr) {
	t.Helper()
	if len(want) == 0 && len(errs) != 0 {
		t.Errorf("unexpected: %v", errs)
	}
	for _, w := range want {
		e := hasMsg(errs, w.msg)
		if e == nil {
			t.Errorf("no %q in %v", w.msg, errs)
		} else if e.Pos.Line != w.line || e.Pos.Col != w.col {
			t.Errorf("%v: at %d:%d, want %d:%d", e, e.Pos.Line, e.Pos.Col, w.line, w.col)
		}
	}
}

func TestLoadWire(t *testing.T) {
	a := netip.MustParseAddr
	const peers = " unicast_peer {\n 192.0.2.9\n }\n" // lines 8..10 after one body line
	for _, tc := range []struct {
		name, global, body string
		want               func(in vigil.Instance) string // "" if right
		errs               []wantErr
	}{
		{"mcast_src_ip", "", " mcast_src_ip 192.0.2.7\n", func(in vigil.Instance) string {
			return wantEq(in.UnicastSrc, a("192.0.2.7"))
		}, nil},
		{"mcast_src_ip bad", "", " mcast_src_ip nope\n", func(in vigil.Instance) string {
			return wantEq(in.UnicastSrc, netip.Addr{})
		}, []wantErr{{"invalid IP address", 7, 15}}},
		{"unicast_ttl", "", " unicast_ttl 5\n" + peers, func(in vigil.Instance) string {
			return wantEq(in.UnicastTTL, 5)
		}, nil},
		{"unicast_ttl 0", "", " unicast_ttl 0\n" + peers, func(in vigil.Instance) string {
			return wantEq(in.UnicastTTL, 0)
		}, []wantErr{{"invalid number", 7, 14}}},
		{"unicast_ttl without peers", "", " unicast_ttl 5\n", func(in vigil.Instance) string {
			return wantEq(in.UnicastTTL, 0)
		}, []wantErr{{"unicast_ttl without unicast_peer", 7, 2}}},
		{"vrrp_mcast_group4", " vrrp_mcast_group4 224.0.0.19", "", func(in vigil.Instance) string {
			return wantEq(in.VRRP.Group, a("224.0.0.19"))
		}, nil},
		{"vrrp_mcast_group4 not multicast", " vrrp_mcast_group4 192.0.2.1", "", func(in vigil.Instance) string {
			return wantEq(in.VRRP.Group, netip.Addr{})
		}, []wantErr{{"not an IPv4 multicast address", 2, 20}}},
		{"vrrp_mcast_group6 IPv4", " vrrp_mcast_group6 224.0.0.19", "", func(in vigil.Instance) string {
			return wantEq(in.VRRP.Group, netip.Addr{})
		}, []wantErr{{"not an IPv6 multicast address", 2, 20}}},
		{"vrrp_mcast_group6 on an IPv4 instance", " vrrp_mcast_group6 ff02::13", "", func(in vigil.Instance) string {
			return wantEq(in.VRRP.Group, netip.Addr{})
		}, nil},
		{"mcast_dst_ip beats the global group", " vrrp_mcast_group4 224.0.0.19", " mcast_dst_ip 224.0.0.20\n", func(in vigil.Instance) string {
			return wantEq(in.VRRP.Group, a("224.0.0.20"))
		}, nil},
		{"mcast_dst_ip unicast", "", " mcast_dst_ip 192.0.2.3\n", func(in vigil.Instance) string {
			return wantEq(in.VRRP.Group, netip.Addr{})
		}, []wantErr{{"not a multicast address", 7, 15}}},
		{"no group with peers", " vrrp_mcast_group4 224.0.0.19", " unicast_src_ip 192.0.2.2\n" + peers, func(in vigil.Instance) string {
			return wantEq(in.VRRP.Group, netip.Addr{})
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, errs := loadString(t, instText(tc.global, tc.body))
			if len(cfg.Instances) != 1 {
				t.Fatalf("%d instances: %v", len(cfg.Instances), errs)
			}
			if d := tc.want(cfg.Instances[0]); d != "" {
				t.Error(d)
			}
			checkErrs(t, errs, tc.errs)
		})
	}
}

// cmp describes got when it is not want.
func wantEq[T comparable](got, want T) string {
	if got != want {
		return fmt.Sprintf("got %v, want %v", got, want)
	}
	return ""
}
