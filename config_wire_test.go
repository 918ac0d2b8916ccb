package vigil_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil"
)

// The advert options of an instance (unicast_ttl, the multicast group)
// are checked with the rest.
func TestConfigValidateWire(t *testing.T) {
	peer := netip.MustParseAddr("192.0.2.9")
	for _, tc := range []struct {
		name string
		set  func(in *vigil.Instance)
		want string // "" for valid
	}{
		{"ttl", func(in *vigil.Instance) { in.UnicastTTL, in.VRRP.Peers = 5, []netip.Addr{peer} }, ""},
		{"ttl 256", func(in *vigil.Instance) { in.UnicastTTL, in.VRRP.Peers = 256, []netip.Addr{peer} },
			"vigil: instance A: UnicastTTL: 256, want 1..255 (0: 255)"},
		{"ttl negative", func(in *vigil.Instance) { in.UnicastTTL, in.VRRP.Peers = -1, []netip.Addr{peer} },
			"vigil: instance A: UnicastTTL: -1, want 1..255 (0: 255)"},
		{"ttl without peers", func(in *vigil.Instance) { in.UnicastTTL = 5 }, "vigil: instance A: UnicastTTL: needs unicast peers"},
		{"group", func(in *vigil.Instance) { in.VRRP.Group = netip.MustParseAddr("224.0.0.19") }, ""},
		{"group not multicast", func(in *vigil.Instance) { in.VRRP.Group = netip.MustParseAddr("192.0.2.7") },
			"vigil: instance A: VRRP.Group: 192.0.2.7 is not a multicast address"},
		{"group of the other family", func(in *vigil.Instance) { in.VRRP.Group = netip.MustParseAddr("ff02::13") },
			"vigil: instance A: VRRP.Group: ff02::13 is not of the family of 192.0.2.100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := supInst("A", 51, 100, netip.MustParsePrefix("192.0.2.100/24"))
			tc.set(&in)
			err := (&vigil.Config{Instances: []vigil.Instance{in}}).Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("Validate: %v, want %s", err, tc.want)
			}
		})
	}
}
