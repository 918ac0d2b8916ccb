package vigil_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil"
)

func TestVMACName(t *testing.T) {
	for _, c := range []struct {
		prefix string
		vrid   uint8
		want   string
	}{
		{"", 51, "vrrp.51"},
		{"vr", 7, "vr.7"},
		{"abcdefghijk", 255, "abcdefghijk.255"},  // 15 bytes: kept
		{"abcdefghijkl", 255, "abcdefghijk.255"}, // 16: prefix cut
		{"abcdefghijklmnopqrstuvwxyz", 1, "abcdefghijklm.1"},
	} {
		ic := supInst("VI_1", c.vrid, 100).InstanceConfig
		ic.VMACPrefix = c.prefix
		if got := ic.VMACName(); got != c.want {
			t.Errorf("prefix %q VRID %d: %q, want %q", c.prefix, c.vrid, got, c.want)
		}
	}
}

func TestVMACPrefixValidate(t *testing.T) {
	for _, p := range []string{"a/b", "a:b", "a b"} {
		in := supInst("VI_1", 51, 100, vipX)
		in.VMACPrefix = p
		err := (&vigil.Config{Instances: []vigil.Instance{in}}).Validate()
		var fe *vigil.FieldError
		if !errors.Is(err, vigil.ErrInvalid) || !errors.As(err, &fe) || fe.Field != "VMACPrefix" || !strings.Contains(err.Error(), "instance VI_1") {
			t.Errorf("VMACPrefix %q: %v", p, err)
		}
	}
}

func TestVMACXmitBaseValidate(t *testing.T) {
	in := supInst("VI_1", 51, 100, vipX)
	in.VMACXmitBase = true
	err := (&vigil.Config{Instances: []vigil.Instance{in}}).Validate()
	var fe *vigil.FieldError
	if !errors.As(err, &fe) || fe.Field != "VMACXmitBase" {
		t.Errorf("VMACXmitBase without UseVMAC: %v", err)
	}
	in.UseVMAC = true
	if err := (&vigil.Config{Instances: []vigil.Instance{in}}).Validate(); err != nil {
		t.Errorf("with UseVMAC: %v", err)
	}
}
