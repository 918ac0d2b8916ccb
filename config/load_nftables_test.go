package config

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vigil-ha/vigil"
)

// TestLoadNFTables: nftables, nftables_priority and nftables_counters →
// Global.NFTables, with keepalived's rules (the first nftables kept, it
// resets the priority given before it) and errors at their word.
func TestLoadNFTables(t *testing.T) {
	prio := func(p int32) *int32 { return &p }
	for _, tc := range []struct {
		name, text string
		want       vigil.NFTables
		errs       []wantErr
	}{
		{"none", "global_defs {\n}\n", vigil.NFTables{}, nil},
		{"bare", "global_defs {\n nftables\n}\n", vigil.NFTables{}, nil},
		{"named", "global_defs {\n nftables ka\n nftables_priority -5\n nftables_counters\n}\n",
			vigil.NFTables{Table: "ka", Priority: prio(-5), Counters: true}, nil},
		{"priority 0", "global_defs {\n nftables_priority 0\n}\n", vigil.NFTables{Priority: prio(0)}, nil},
		{"priority before nftables is reset", "global_defs {\n nftables_priority 7\n nftables t\n}\n", vigil.NFTables{Table: "t"}, nil},
		{"twice", "global_defs {\n nftables a\n nftables b\n}\n", vigil.NFTables{Table: "a"}, []wantErr{{"already specified", 3, 2}}},
		{"too long", "global_defs {\n nftables " + strings.Repeat("x", 255) + "\n}\n", vigil.NFTables{}, []wantErr{{"too long", 2, 11}}},
		{"priority x", "global_defs {\n nftables_priority x\n}\n", vigil.NFTables{}, []wantErr{{"invalid number", 2, 20}}},
		{"priority 2^31", "global_defs {\n nftables_priority 2147483648\n}\n", vigil.NFTables{}, []wantErr{{"invalid number", 2, 20}}},
		{"priority missing", "global_defs {\n nftables_priority\n}\n", vigil.NFTables{}, []wantErr{{"missing", 2, 2}}},
		{"counters extra", "global_defs {\n nftables_counters yes\n}\n", vigil.NFTables{Counters: true}, []wantErr{{"extra argument", 2, 20}}},
		{"ifindex ignored", "global_defs {\n nftables_ifindex\n}\n", vigil.NFTables{}, []wantErr{{"interface name", 2, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Read(fstest.MapFS{"k.conf": {Data: []byte(tc.text)}}, "k.conf", Options{})
			if err != nil {
				t.Fatal(err)
			}
			cfg, errs := Load(tr, LoadOptions{LookupUser: fakeUsers})
			got := cfg.Global.NFTables
			if got.Table != tc.want.Table || got.Counters != tc.want.Counters || (got.Priority == nil) != (tc.want.Priority == nil) ||
				got.Priority != nil && *got.Priority != *tc.want.Priority {
				t.Errorf("NFTables = %+v (priority %v), want %+v", got, deref(got.Priority), tc.want)
			}
			checkErrs(t, errs, tc.errs)
		})
	}
}

func deref(p *int32) any {
	if p == nil {
		return nil
	}
	return *p
}
