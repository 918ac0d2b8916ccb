package vigil_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestSupervisorPromoteSecondaries: an instance with PromoteSecondaries
// sets its interface's promote_secondaries while the Supervisor holds the
// platform; an IPv4 VMAC instance sets it on its VMAC (not the parent),
// as keepalived does; an interface without either is left alone; all
// are restored when Run returns.
func TestSupervisorPromoteSecondaries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		a := supInst("VI_1", 51, 100, vipX)
		a.PromoteSecondaries = true
		b := supInst("VI_2", 52, 100, netip.MustParsePrefix("198.51.100.2/24"))
		b.Interface, b.UseVMAC = "eth1", true
		c := supInst("VI_3", 53, 100, netip.MustParsePrefix("203.0.113.3/24"))
		c.Interface = "eth2"
		m := startSup(t, hub, 1, vigil.Config{Instances: []vigil.Instance{a, b, c}}, "eth0", "eth1", "eth2")
		want := map[string]bool{"eth0": true, "eth1": false, "vrrp.52": true, "eth2": false}
		for iface, w := range want {
			if got := m.p.PromoteSecondaries(iface); got != w {
				t.Errorf("%s: promote_secondaries %v while running, want %v", iface, got, w)
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		m.run(ctx)
		synctest.Wait()
		stopAll(t, cancel, m)
		for iface := range want {
			if m.p.PromoteSecondaries(iface) {
				t.Errorf("%s: promote_secondaries still set after Run", iface)
			}
		}
	})
}

// TestValidatePromoteSecondariesVMAC: PromoteSecondaries with UseVMAC is
// invalid (keepalived refuses it: "automatically set for vmacs").
func TestValidatePromoteSecondariesVMAC(t *testing.T) {
	in := supInst("VI_1", 51, 100, vipX)
	in.UseVMAC, in.PromoteSecondaries = true, true
	err := (&vigil.Config{Instances: []vigil.Instance{in}}).Validate()
	var fe *vigil.FieldError
	if !errors.Is(err, vigil.ErrInvalid) || !errors.As(err, &fe) ||
		!strings.Contains(err.Error(), "vigil: instance VI_1: PromoteSecondaries: set with UseVMAC") {
		t.Errorf("Validate = %v, want a FieldError on PromoteSecondaries", err)
	}
}

// PromoteSecondaries is not part of an instance's identity for Validate:
// two instances of one VRID on one interface collide whatever it is.
func TestValidatePromoteSecondariesIdentity(t *testing.T) {
	a, b := supInst("VI_1", 51, 100, vipX), supInst("VI_2", 51, 100, vipX)
	b.PromoteSecondaries = true
	err := (&vigil.Config{Instances: []vigil.Instance{a, b}}).Validate()
	if err == nil || !strings.Contains(err.Error(), "is also instance VI_1's") {
		t.Errorf("Validate = %v, want VI_2's VRID taken", err)
	}
}
