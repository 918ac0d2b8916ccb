package config

import (
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vigil-ha/vigil"
)

func TestLoadSyncDaemon(t *testing.T) {
	const inst = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n virtual_ipaddress {\n 192.0.2.100\n }\n}\n"
	sd := func(d vigil.SyncDaemon) *vigil.SyncDaemon { return &d }
	// col is the column of the n-th (from 1) word w in the global line.
	col := func(global, w string, n int) int {
		i := -1
		for range n {
			i += 1 + strings.Index(global[i+1:], w)
		}
		return i + 1
	}
	for _, tc := range []struct {
		name, global string
		want         *vigil.SyncDaemon
		errs         func(g string) []wantErr
	}{
		{"instance", " lvs_sync_daemon eth1 inst VI_1", sd(vigil.SyncDaemon{Instance: "VI_1", Interface: "eth1"}), nil},
		{"every option", " lvs_sync_daemon eth1 inst VI_1 id 7 maxlen 1400 port 9000 ttl 3 group 239.1.2.3",
			sd(vigil.SyncDaemon{Instance: "VI_1", Interface: "eth1", SyncID: 7, MaxLen: 1400, Port: 9000, TTL: 3, Group: netip.MustParseAddr("239.1.2.3")}), nil},
		{"IPv6 group", " lvs_sync_daemon eth1 VI_1 group ff02::8",
			sd(vigil.SyncDaemon{Instance: "VI_1", Interface: "eth1", Group: netip.MustParseAddr("ff02::8")}), nil},
		{"id 0 is none", " lvs_sync_daemon eth1 VI_1 id 0", sd(vigil.SyncDaemon{Instance: "VI_1", Interface: "eth1", SyncID: -1}), nil},
		{"old form", " lvs_sync_daemon eth1 VI_1 9", sd(vigil.SyncDaemon{Instance: "VI_1", Interface: "eth1", SyncID: 9}),
			func(g string) []wantErr { return []wantErr{{`please use keyword "id"`, 2, col(g, "9", 1)}} }},
		{"bad values are skipped", " lvs_sync_daemon eth1 VI_1 id 256 maxlen 0 port 70000 ttl 0 group 192.0.2.1",
			sd(vigil.SyncDaemon{Instance: "VI_1", Interface: "eth1"}), func(g string) []wantErr {
				return []wantErr{{`invalid number "256" (0..255)`, 2, col(g, "256", 1)},
					{`invalid number "0" (1..65507)`, 2, col(g, " 0 ", 1) + 1},
					{`invalid number "70000" (1..65535)`, 2, col(g, "70000", 1)},
					{`invalid number "0" (1..255)`, 2, col(g, " 0 ", 2) + 1},
					{"group address 192.0.2.1 is not multicast", 2, col(g, "192.0.2.1", 1)}}
			}},
		{"no value", " lvs_sync_daemon eth1 VI_1 ttl", sd(vigil.SyncDaemon{Instance: "VI_1", Interface: "eth1"}),
			func(g string) []wantErr { return []wantErr{{"no value for ttl", 2, col(g, "ttl", 1)}} }},
		{"unknown option", " lvs_sync_daemon eth1 VI_1 7 fast", sd(vigil.SyncDaemon{Instance: "VI_1", Interface: "eth1", SyncID: 7}),
			func(g string) []wantErr { return []wantErr{{`unknown option "fast"`, 2, col(g, "fast", 1)}} }},
		{"interface too long", " lvs_sync_daemon abcdefghijklmnop VI_1", nil,
			func(g string) []wantErr { return []wantErr{{"too long", 2, col(g, "abcdefghijklmnop", 1)}} }},
		{"no instance", " lvs_sync_daemon eth1", nil,
			func(string) []wantErr { return []wantErr{{"no vrrp instance given", 2, 2}} }},
		{"unknown instance", " lvs_sync_daemon eth1 VI_9", nil,
			func(string) []wantErr { return []wantErr{{"cannot find vrrp instance VI_9", 2, 2}} }},
		{"given twice", " lvs_sync_daemon eth1 VI_1\n lvs_sync_daemon eth2 VI_1", sd(vigil.SyncDaemon{Instance: "VI_1", Interface: "eth1"}),
			func(string) []wantErr { return []wantErr{{"already been specified as eth1 VI_1", 3, 2}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "global_defs {\n" + tc.global + "\n}\n" + inst
			tr, err := Read(fstest.MapFS{"k.conf": {Data: []byte(text)}}, "k.conf", Options{})
			if err != nil {
				t.Fatal(err)
			}
			cfg, errs := Load(tr, LoadOptions{LookupUser: fakeUsers})
			got := cfg.Global.SyncDaemon
			switch {
			case (got == nil) != (tc.want == nil):
				t.Errorf("SyncDaemon %+v, want %+v", got, tc.want)
			case got != nil && *got != *tc.want:
				t.Errorf("SyncDaemon %+v, want %+v", *got, *tc.want)
			}
			var want []wantErr
			if tc.errs != nil {
				want = tc.errs(tc.global)
			}
			checkErrs(t, errs, want)
		})
	}
}
