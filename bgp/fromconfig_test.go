package bgp_test

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/bgp"
)

// TestFromConfigEveryField: every field of vigil.BGP has a field of the
// same name and type in bgp.Config that FromConfig fills, and Config has
// no other field but Logger; so a field added to one and not the other,
// or not copied, fails here.
func TestFromConfigEveryField(t *testing.T) {
	b := vigil.BGP{
		ASN: 64513, RouterID: netip.MustParseAddr("192.0.2.1"), ListenPort: 1179,
		Peers:           []vigil.BGPPeer{{Address: netip.MustParseAddr("192.0.2.254"), ASN: 64512}},
		VIPs:            []vigil.BGPVIP{{Prefix: netip.MustParsePrefix("203.0.113.10/32")}},
		GracefulRestart: vigil.BGPGracefulRestart{Enabled: true},
		Drain:           vigil.BGPDrain{Time: time.Second},
	}
	bt := reflect.TypeFor[vigil.BGP]()
	bv := reflect.ValueOf(b)
	for i := range bt.NumField() {
		if bv.Field(i).IsZero() {
			t.Fatalf("the test's vigil.BGP leaves %s zero: set it", bt.Field(i).Name)
		}
	}
	c := bgp.FromConfig(b)
	cv := reflect.ValueOf(c)
	ct := cv.Type()
	for i := range bt.NumField() {
		f := bt.Field(i)
		cf, ok := ct.FieldByName(f.Name)
		if !ok || cf.Type != f.Type {
			t.Errorf("bgp.Config has no field %s of type %v", f.Name, f.Type)
			continue
		}
		if !reflect.DeepEqual(cv.FieldByIndex(cf.Index).Interface(), bv.Field(i).Interface()) {
			t.Errorf("FromConfig: %s = %v, want %v", f.Name, cv.FieldByIndex(cf.Index), bv.Field(i))
		}
	}
	for i := range ct.NumField() {
		if n := ct.Field(i).Name; n != "Logger" {
			if _, ok := bt.FieldByName(n); !ok {
				t.Errorf("bgp.Config.%s is not in vigil.BGP", n)
			}
		}
	}
	// The slices are copies.
	c.Peers[0].ASN = 1
	if b.Peers[0].ASN != 64512 {
		t.Error("FromConfig shares Peers with its argument")
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}
