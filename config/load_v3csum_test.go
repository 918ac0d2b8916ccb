package config

import "testing"

func TestLoadV3ChecksumAsV2(t *testing.T) {
	for _, tc := range []struct {
		name, global, body string
		want               bool
		errs               []wantErr
	}{
		{"none", "", "", false, nil},
		{"instance", "", " v3_checksum_as_v2\n", true, nil},
		{"instance true", "", " v3_checksum_as_v2 yes\n", true, nil},
		{"global", " v3_checksum_as_v2", "", true, nil},
		{"instance beats global", " v3_checksum_as_v2", " v3_checksum_as_v2 off\n", false, nil},
		{"instance bad", "", " v3_checksum_as_v2 maybe\n", false, []wantErr{{"is not true/on/yes", 7, 20}}},
		{"instance extra word", "", " v3_checksum_as_v2 on now\n", true, []wantErr{{"extra argument", 7, 23}}},
		{"global bad", " v3_checksum_as_v2 2", "", false, []wantErr{{"is not true/on/yes", 2, 20}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, errs := loadString(t, instText(tc.global, tc.body))
			if len(cfg.Instances) != 1 {
				t.Fatalf("%d instances: %v", len(cfg.Instances), errs)
			}
			if got := cfg.Instances[0].VRRP.V3ChecksumAsV2; got != tc.want {
				t.Errorf("V3ChecksumAsV2 %v, want %v", got, tc.want)
			}
			checkErrs(t, errs, tc.errs)
		})
	}
}
