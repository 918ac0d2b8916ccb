package config

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-ha/vigil/ipvs"
)

func TestLoadLVSAdmin(t *testing.T) {
	const s = time.Second
	// col is the column of the first word w in the global line.
	col := func(global, w string) int { return strings.Index(global, w) + 1 }
	type want struct {
		flush, onStop bool
		to            ipvs.Timeouts
	}
	for _, tc := range []struct {
		name, global string
		want         want
		errs         func(g string) []wantErr
	}{
		{"none", " router_id r", want{}, nil},
		{"lvs_flush", " lvs_flush", want{flush: true}, nil},
		{"lvs_flush argument", " lvs_flush all", want{flush: true},
			func(g string) []wantErr { return []wantErr{{`extra argument "all" ignored`, 2, col(g, "all")}} }},
		{"lvs_flush_on_stop", " lvs_flush_on_stop", want{onStop: true}, nil},
		{"lvs_flush_onstop", " lvs_flush_onstop", want{onStop: true}, nil},
		{"lvs_flush_on_stop VS", " lvs_flush_on_stop\n lvs_flush_on_stop VS", want{}, nil},
		{"lvs_flush_on_stop bad type", " lvs_flush_on_stop ALL", want{},
			func(g string) []wantErr {
				return []wantErr{{`lvs_flush_on_stop: unknown type "ALL"`, 2, col(g, "ALL")}}
			}},
		{"every timeout", " lvs_timeouts tcp 7200 tcpfin 0 udp 2678400", want{to: ipvs.Timeouts{TCP: 7200 * s, UDP: 2678400 * s}}, nil},
		{"udp alone", " lvs_timeouts udp 60", want{to: ipvs.Timeouts{UDP: 60 * s}}, nil},
		{"no option", " lvs_timeouts", want{},
			func(string) []wantErr { return []wantErr{{"lvs_timeouts requires at least one option", 2, 2}} }},
		{"option alone", " lvs_timeouts tcp", want{},
			func(string) []wantErr { return []wantErr{{"lvs_timeouts requires at least one option", 2, 2}} }},
		{"bad values are skipped", " lvs_timeouts tcp 2678401 tcpfin -1 udp x1 tcp 30", want{to: ipvs.Timeouts{TCP: 30 * s}},
			func(g string) []wantErr {
				return []wantErr{{`invalid number "2678401" (0..2678400)`, 2, col(g, "2678401")},
					{`invalid number "-1"`, 2, col(g, "-1")},
					{`invalid number "x1"`, 2, col(g, "x1")}}
			}},
		{"unknown option", " lvs_timeouts sctp 5 udp 9", want{to: ipvs.Timeouts{UDP: 9 * s}},
			func(g string) []wantErr {
				return []wantErr{{`lvs_timeouts: unknown option "sctp"`, 2, col(g, "sctp")},
					{`lvs_timeouts: unknown option "5"`, 2, col(g, "5")}}
			}},
		{"no value", " lvs_timeouts udp 9 tcpfin", want{to: ipvs.Timeouts{UDP: 9 * s}},
			func(g string) []wantErr { return []wantErr{{"lvs_timeouts: no value for tcpfin", 2, col(g, "tcpfin")}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "global_defs {\n" + tc.global + "\n}\n"
			tr, err := Read(fstest.MapFS{"k.conf": {Data: []byte(text)}}, "k.conf", Options{})
			if err != nil {
				t.Fatal(err)
			}
			cfg, errs := Load(tr, LoadOptions{LookupUser: fakeUsers})
			g := cfg.Global
			if got := (want{g.LVSFlush, g.LVSFlushOnStop, g.LVSTimeouts}); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			var w []wantErr
			if tc.errs != nil {
				w = tc.errs(tc.global)
			}
			checkErrs(t, errs, w)
		})
	}
}
