package config

import (
	"testing"
	"testing/fstest"
)

// FuzzLoad maps arbitrary input with Load and checks that it never
// panics and places every problem in the file, Validate's included
// (their objects come from statements).
func FuzzLoad(f *testing.F) {
	addSamples(f)
	for _, s := range []string{
		"vrrp_instance {\n}\nvrrp_instance A\nvrrp_instance A {\n priority\n virtual_ipaddress\n track_script {\n x weight\n }\n}\n",
		"vrrp_script s {\n script \"\"\n}\nvrrp_script s {\n script \"a 'b\" c d e f\n}\n",
		"vrrp_sync_group G {\n group {\n }\n}\nvrrp_sync_group {\n}\n",
		"global_defs {\n script_user\n notify_fifo_script x\n vrrp_garp_interval 0\n}\n",
		"virtual_server group G {\n real_server 10.0.0.1 {\n HTTP_GET {\n url {\n }\n }\n }\n}\nvirtual_server_group G {\n 10.0.0.1-0\n fwmark\n ::1-ffff 0\n}\n",
		"virtual_server fwmark 1 {\n lb_kind TUN type\n sorry_server_inhibit\n real_server ::1 {\n SMTP_CHECK {\n host {\n }\n }\n }\n}\n",
		"virtual_server 1.2.3.4 0 {\n quorum 9\n hysteresis 9\n real_server 1.2.3.5 {\n weight 0\n UDP_CHECK {\n payload\n require_reply x\n }\n FILE_CHECK {\n weight 1\n }\n }\n}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, _ := Read(fstest.MapFS{"k.conf": {Data: data}}, "k.conf", Options{MaxWork: 5000})
		_, errs := Load(tr, LoadOptions{LookupUser: fakeUsers})
		for _, e := range errs {
			if e.Pos.File != "k.conf" || e.Pos.Line < 1 {
				t.Errorf("error without a position: %v", e)
			}
		}
	})
}
