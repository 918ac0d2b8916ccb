package bgp_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/bgp"
)

func validConfig() bgp.Config {
	return bgp.Config{ASN: 64513, RouterID: netip.MustParseAddr("192.0.2.1"),
		Peers: []bgp.Peer{{Address: netip.MustParseAddr("192.0.2.254"), ASN: 64512}},
		VIPs:  []bgp.VIP{{Prefix: netip.MustParsePrefix("203.0.113.10/32")}}}
}

// TestValidate: each broken rule is reported as a *FieldError naming the
// object and field, all of them at once.
func TestValidate(t *testing.T) {
	if err := func() *bgp.Config { c := validConfig(); return &c }().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		edit func(*bgp.Config)
		want []string
	}{
		{func(c *bgp.Config) { c.ASN = 0; c.RouterID = netip.MustParseAddr("2001:db8::1") },
			[]string{"bgp: speaker: ASN: required", "bgp: speaker: RouterID: 2001:db8::1 is not an IPv4 address"}},
		{func(c *bgp.Config) { c.Peers = nil }, []string{"speaker: Peers: at least one peer", "vip 203.0.113.10/32: Prefix: no peer of its family (IPv4)"}},
		{func(c *bgp.Config) { c.Peers = append(c.Peers, c.Peers[0]) }, []string{"peer 192.0.2.254: Address: listed twice"}},
		{func(c *bgp.Config) { c.Peers[0].HoldTime = 2 * time.Second }, []string{"peer 192.0.2.254: HoldTime: 2s is less than 3s"}},
		{func(c *bgp.Config) { c.Peers[0].HoldTime = 1500 * time.Millisecond },
			[]string{"HoldTime: 1.5s is not a whole", "HoldTime: 1.5s is less than 3s"}},
		{func(c *bgp.Config) { c.Peers[0].KeepaliveInterval = 90 * time.Second }, []string{"KeepaliveInterval: 1m30s is not less than the hold time 1m30s"}},
		{func(c *bgp.Config) { c.Peers[0].Password = strings.Repeat("x", 81) }, []string{"Password: 81 bytes, at most 80"}},
		{func(c *bgp.Config) { c.Peers[0].Multihop = 256 }, []string{"Multihop: 256 is not a TTL"}},
		{func(c *bgp.Config) { c.Peers[0].LocalAddress = netip.MustParseAddr("2001:db8::1") }, []string{"LocalAddress: 2001:db8::1 is not of the peer's family"}},
		{func(c *bgp.Config) { c.Peers[0].Passive = true }, []string{"Passive: a passive peer needs ListenPort"}},
		{func(c *bgp.Config) { c.Peers[0].ASN = 0 }, []string{"peer 192.0.2.254: ASN: required"}},
		{func(c *bgp.Config) { c.GracefulRestart.RestartTime = 4096 * time.Second }, []string{"GracefulRestart.RestartTime"}},
		{func(c *bgp.Config) { c.VIPs[0].Prefix = netip.MustParsePrefix("203.0.113.10/24") }, []string{"vip 203.0.113.10/24: Prefix: host bits set (did you mean 203.0.113.0/24?)"}},
		{func(c *bgp.Config) { c.VIPs = append(c.VIPs, c.VIPs[0]) }, []string{"vip 203.0.113.10/32: Prefix: listed twice"}},
		{func(c *bgp.Config) { c.VIPs[0].NextHop = netip.MustParseAddr("2001:db8::1") }, []string{"NextHop: 2001:db8::1 is not of the prefix's family"}},
		{func(c *bgp.Config) { c.VIPs[0].Trackers = []string{""} }, []string{"vip 203.0.113.10/32: Trackers[0]: empty name"}},
		{func(c *bgp.Config) { c.VIPs[0].Prefix = netip.MustParsePrefix("2001:db8::10/128") }, []string{"vip 2001:db8::10/128: Prefix: no peer of its family (IPv6)"}},
		{func(c *bgp.Config) { c.VIPs[0].Prefix = netip.Prefix{} }, []string{"vip 0: Prefix: required"}},
	} {
		c := validConfig()
		tc.edit(&c)
		err := c.Validate()
		if !errors.Is(err, bgp.ErrInvalid) {
			t.Errorf("%v: not ErrInvalid", err)
			continue
		}
		var fe *bgp.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%v: no *FieldError", err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
		if n := strings.Count(err.Error(), "\n") + 1; n != len(tc.want) {
			t.Errorf("error %q: %d problems, want %d", err, n, len(tc.want))
		}
	}
}

func TestParseCommunity(t *testing.T) {
	for in, want := range map[string]bgp.Community{"65535:0": bgp.GracefulShutdown, "64513:100": 64513<<16 | 100, "0:0": 0} {
		c, err := bgp.ParseCommunity(in)
		if err != nil || c != want || c.String() != in {
			t.Errorf("ParseCommunity(%q) = %v (%d), %v; want %d", in, c, c, err, want)
		}
	}
	for _, in := range []string{"", "1", "65536:0", "1:65536", "a:b", "1:2:3", "-1:0"} {
		if _, err := bgp.ParseCommunity(in); err == nil {
			t.Errorf("ParseCommunity(%q): no error", in)
		}
	}
	lc, err := bgp.ParseLargeCommunity("4200000000:1:4294967295")
	if err != nil || lc != (bgp.LargeCommunity{ASN: 4200000000, Local1: 1, Local2: 4294967295}) || lc.String() != "4200000000:1:4294967295" {
		t.Errorf("ParseLargeCommunity: %v, %v", lc, err)
	}
	for _, in := range []string{"", "1:2", "1:2:3:4", "4294967296:0:0", "x:1:2"} {
		if _, err := bgp.ParseLargeCommunity(in); err == nil {
			t.Errorf("ParseLargeCommunity(%q): no error", in)
		}
	}
}
