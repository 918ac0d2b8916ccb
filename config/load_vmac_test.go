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
