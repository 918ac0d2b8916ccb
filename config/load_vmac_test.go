package config

import "testing"

func TestLoadVMACPrefix(t *testing.T) {
	for _, tc := range []struct {
		name, global, want string
		errs               []wantErr
	}{
		{"none", "", "", nil},
		{"set", " vmac_prefix vr", "vr", nil},
		{"first counts", " vmac_prefix vr\n vmac_prefix vx", "vr", []wantErr{{"given already at", 3, 2}}},
		{"slash", " vmac_prefix a/b", "", []wantErr{{"an interface name has no", 2, 14}}},
		{"colon", " vmac_prefix a:b", "", []wantErr{{"an interface name has no", 2, 14}}},
		{"missing", " vmac_prefix", "", []wantErr{{"vmac_prefix", 2, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, errs := loadString(t, instText(tc.global, " use_vmac\n"))
			if len(cfg.Instances) != 1 {
				t.Fatalf("%d instances: %v", len(cfg.Instances), errs)
			}
			if got := cfg.Instances[0].VMACPrefix; got != tc.want {
				t.Errorf("VMACPrefix %q, want %q", got, tc.want)
			}
			checkErrs(t, errs, tc.errs)
		})
	}
}

func TestLoadVMACXmitBase(t *testing.T) {
	for _, tc := range []struct {
		name, global, body string
		want               bool
		errs               []wantErr
	}{
		{"none", "", " use_vmac\n", false, nil},
		{"set", "", " use_vmac\n vmac_xmit_base\n", true, nil},
		{"without use_vmac", "", " vmac_xmit_base\n", false, []wantErr{{"only valid with use_vmac", 7, 2}}},
		{"strict", " vrrp_strict", " use_vmac\n vmac_xmit_base\n", false, []wantErr{{"incompatible with strict mode", 8, 2}}},
		{"argument", "", " use_vmac\n vmac_xmit_base yes\n", true, []wantErr{{"extra argument", 8, 17}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, errs := loadString(t, instText(tc.global, tc.body))
			if len(cfg.Instances) != 1 {
				t.Fatalf("%d instances: %v", len(cfg.Instances), errs)
			}
			if got := cfg.Instances[0].VMACXmitBase; got != tc.want {
				t.Errorf("VMACXmitBase %v, want %v", got, tc.want)
			}
			checkErrs(t, errs, tc.errs)
		})
	}
}

func TestLoadPromoteSecondaries(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       bool
		errs       []wantErr
	}{
		{"none", "", false, nil},
		{"set", " promote_secondaries\n", true, nil},
		{"vmac", " use_vmac\n promote_secondaries\n", false, []wantErr{{"automatically set for vmacs", 8, 2}}},
		{"argument", " promote_secondaries yes\n", true, []wantErr{{"extra argument", 7, 22}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, errs := loadString(t, instText("", tc.body))
			if len(cfg.Instances) != 1 {
				t.Fatalf("%d instances: %v", len(cfg.Instances), errs)
			}
			if got := cfg.Instances[0].PromoteSecondaries; got != tc.want {
				t.Errorf("PromoteSecondaries %v, want %v", got, tc.want)
			}
			checkErrs(t, errs, tc.errs)
		})
	}
}
