package vigil_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/ipvs"
)

// bgpConfig is a valid Config with a BGP block whose VIP gates name its
// instance, tracker and virtual servers (one in a group).
func bgpConfig() vigil.Config {
	var f flag
	svc := func(s string) ipvs.ServiceKey {
		ap := netip.MustParseAddrPort(s)
		return ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: ap.Addr(), Port: ap.Port()}
	}
	return vigil.Config{
		Trackers:            []vigil.Tracker{{Name: "chk", Check: &vigil.TrackerCheck{Checker: &f}}},
		Instances:           []vigil.Instance{supInst("VI_1", 51, 100, vipX)},
		VirtualServerGroups: []vigil.VirtualServerGroup{{Name: "G", Services: []ipvs.ServiceKey{svc("192.0.2.11:80")}}},
		VirtualServers: []vigil.VirtualServer{
			{Service: ipvs.Service{ServiceKey: svc("192.0.2.10:80"), Scheduler: ipvs.RoundRobin}},
			{Service: ipvs.Service{Scheduler: ipvs.RoundRobin}, Group: "G"},
		},
		BGP: &vigil.BGP{ASN: 64513, RouterID: netip.MustParseAddr("192.0.2.1"),
			Peers: []vigil.BGPPeer{{Address: netip.MustParseAddr("192.0.2.254"), ASN: 64512}},
			VIPs: []vigil.BGPVIP{{Prefix: netip.MustParsePrefix("203.0.113.10/32"), Instance: "VI_1",
				Trackers: []string{"chk"}, VirtualServers: []string{"tcp 192.0.2.10:80", "tcp 192.0.2.11:80"}}}},
	}
}

// TestConfigValidateBGP: the BGP block's own rules and its gates' names
// are checked with the rest, every problem at once, each a *FieldError
// wrapping ErrInvalid whose object starts with "bgp".
func TestConfigValidateBGP(t *testing.T) {
	good := bgpConfig()
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	bad := bgpConfig()
	b := bad.BGP
	b.ASN = 0
	b.RouterID = netip.Addr{}
	b.Peers = append(b.Peers, b.Peers[0])
	b.Peers[0].HoldTime = 1
	b.VIPs[0].Instance = "VI_9"
	b.VIPs[0].Trackers = []string{"chk", "nochk"}
	b.VIPs[0].VirtualServers = []string{"tcp 192.0.2.10:81", "", "tcp 192.0.2.11:80"}
	b.VIPs = append(b.VIPs, vigil.BGPVIP{Prefix: netip.MustParsePrefix("2001:db8::10/128")})
	err := bad.Validate()
	want := []string{
		"vigil: bgp speaker: ASN: required",
		"vigil: bgp speaker: RouterID: invalid IP is not an IPv4 address",
		"vigil: bgp peer 192.0.2.254: HoldTime: 1ns is not a whole, non-negative number of seconds",
		"vigil: bgp peer 192.0.2.254: HoldTime: 1ns is less than 3s",
		"vigil: bgp peer 192.0.2.254: Address: listed twice",
		"vigil: bgp vip 203.0.113.10/32: VirtualServers[1]: empty name",
		"vigil: bgp vip 2001:db8::10/128: Prefix: no peer of its family (IPv6)",
		"vigil: bgp vip 203.0.113.10/32: Instance: no instance named \"VI_9\"",
		"vigil: bgp vip 203.0.113.10/32: Trackers[1]: no tracker named \"nochk\"",
		"vigil: bgp vip 203.0.113.10/32: VirtualServers[0]: no virtual server named \"tcp 192.0.2.10:81\"",
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	if !errors.Is(err, vigil.ErrInvalid) {
		t.Errorf("not ErrInvalid: %v", err)
	}
	var n int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *vigil.FieldError
		if !errors.As(e, &fe) {
			t.Errorf("%v: not a *FieldError", e)
		} else if strings.HasPrefix(fe.Object, "bgp") {
			n++
		}
	}
	if n != len(want) {
		t.Errorf("%d bgp errors, want %d:\n%v", n, len(want), err)
	}
	// BGP.Validate alone: the same rules, objects without "bgp ", no
	// names checked.
	err = b.Validate()
	if err == nil || !strings.Contains(err.Error(), "vigil: speaker: ASN: required") || strings.Contains(err.Error(), "VI_9") {
		t.Errorf("BGP.Validate: %v", err)
	}
}

// TestBGPCommunityParse: the text forms round-trip; bad ones are errors.
func TestBGPCommunityParse(t *testing.T) {
	c, err := vigil.ParseBGPCommunity("65535:0")
	if err != nil || c != 0xffff0000 || c.String() != "65535:0" {
		t.Errorf("ParseBGPCommunity: %v %v", c, err)
	}
	for _, in := range []string{"65536:0", "1", "a:b", "1:-1"} {
		if _, err := vigil.ParseBGPCommunity(in); err == nil {
			t.Errorf("ParseBGPCommunity(%q): no error", in)
		}
	}
	lc, err := vigil.ParseBGPLargeCommunity("4200000000:1:2")
	if err != nil || lc != (vigil.BGPLargeCommunity{ASN: 4200000000, Local1: 1, Local2: 2}) || lc.String() != "4200000000:1:2" {
		t.Errorf("ParseBGPLargeCommunity: %v %v", lc, err)
	}
	for _, in := range []string{"1:2", "1:2:3:4", "4294967296:0:0"} {
		if _, err := vigil.ParseBGPLargeCommunity(in); err == nil {
			t.Errorf("ParseBGPLargeCommunity(%q): no error", in)
		}
	}
}
