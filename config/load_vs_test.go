package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
)

// vsConf is a virtual server with one real server: vsBody goes in the
// virtual server's block, rsBody in the real server's.
func vsConf(vsBody, rsBody string) string {
	return "virtual_server 192.0.2.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n" + vsBody +
		" real_server 10.0.0.1 80 {\n" + rsBody + " }\n}\n"
}

// firstVS returns the first virtual server of cfg, failing without one.
func firstVS(t *testing.T, cfg vigil.Config) vigil.VirtualServer {
	t.Helper()
	if len(cfg.VirtualServers) == 0 {
		t.Fatalf("no virtual server")
	}
	return cfg.VirtualServers[0]
}

// firstRS returns the first real server of the first virtual server.
func firstRS(t *testing.T, cfg vigil.Config) vigil.RealServer {
	t.Helper()
	vs := firstVS(t, cfg)
	if len(vs.RealServers) == 0 {
		t.Fatalf("no real server in %+v", vs)
	}
	return vs.RealServers[0]
}

// firstCheck returns the first check of the first real server.
func firstCheck(t *testing.T, cfg vigil.Config) vigil.RealServerCheck {
	t.Helper()
	rs := firstRS(t, cfg)
	if len(rs.Checks) == 0 {
		t.Fatalf("no check in %+v", rs)
	}
	return rs.Checks[0]
}

func checker[T check.Checker](t *testing.T, cfg vigil.Config) T {
	t.Helper()
	c, ok := firstCheck(t, cfg).Checker.(T)
	if !ok {
		t.Fatalf("checker %T, want %T", firstCheck(t, cfg).Checker, c)
	}
	return c
}

func TestLoadVSKeywords(t *testing.T) {
	ap := netip.MustParseAddrPort
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name  string
		text  string
		check func(t *testing.T, cfg vigil.Config)
	}{
		// Defaults.
		{"defaults", "virtual_server 192.0.2.1 80 {\n real_server 10.0.0.1 {\n TCP_CHECK {\n }\n }\n}\n", func(t *testing.T, cfg vigil.Config) {
			vs := firstVS(t, cfg)
			want := ipvs.Service{ServiceKey: ipvs.ServiceKey{Protocol: ipvs.UDP, Addr: a("192.0.2.1"), Port: 80}, Scheduler: ipvs.WeightedLeastConnection}
			if vs.Service != want || vs.Quorum != 0 || vs.Hysteresis != 0 {
				t.Errorf("service %+v, want %+v", vs.Service, want)
			}
			rs := firstRS(t, cfg)
			if rs.Addr != a("10.0.0.1") || rs.Port != 80 || rs.Forward != ipvs.Masquerade || rs.Weight != 1 || rs.InhibitOnFailure || rs.Alpha {
				t.Errorf("real server %+v", rs.RealServer)
			}
			c := firstCheck(t, cfg)
			if tc, ok := c.Checker.(*check.TCP); !ok || tc.Addr != ap("10.0.0.1:80") {
				t.Errorf("checker %+v", c.Checker)
			}
			if want := (check.Policy{Interval: time.Minute, Timeout: 5 * time.Second, Retries: 1, RetryDelay: time.Second}); c.Policy != want {
				t.Errorf("policy %+v, want %+v", c.Policy, want)
			}
		}},
		{"HTTP_GET defaults", vsConf("", "HTTP_GET {\n url {\n path /x\n }\n }\n"), func(t *testing.T, cfg vigil.Config) {
			h := checker[*check.HTTP](t, cfg)
			if h.Addr != ap("10.0.0.1:80") || h.Path != "/x" || h.Status != nil || h.TLS != nil || h.Host != "" {
				t.Errorf("%+v", h)
			}
			if p := firstCheck(t, cfg).Policy; p.RetryDelay != 3*time.Second || p.Retries != 1 {
				t.Errorf("policy %+v", p)
			}
		}},
		{"DNS_CHECK defaults", vsConf("", "DNS_CHECK {\n }\n"), func(t *testing.T, cfg vigil.Config) {
			d := checker[*check.DNS](t, cfg)
			if d.Server != ap("10.0.0.1:80") || d.Type != 6 || d.Name != "" {
				t.Errorf("%+v", d)
			}
			if p := firstCheck(t, cfg).Policy; p.Retries != 3 || p.RetryDelay != time.Minute {
				t.Errorf("policy %+v", p)
			}
		}},
		{"MISC_CHECK defaults", vsConf(" delay_loop 7\n", "MISC_CHECK {\n misc_path \"/bin/c a\"\n }\n"), func(t *testing.T, cfg vigil.Config) {
			e := checker[*check.Exec](t, cfg)
			if e.Path != "/bin/c" || !slices.Equal(e.Args, []string{"a"}) || e.Dynamic {
				t.Errorf("%+v", e)
			}
			if p := firstCheck(t, cfg).Policy; p.Retries != 0 || p.Timeout != 7*time.Second || p.Interval != 7*time.Second {
				t.Errorf("policy %+v", p)
			}
		}},
		{"SMTP_CHECK defaults", vsConf("", "SMTP_CHECK {\n }\n"), func(t *testing.T, cfg vigil.Config) {
			if s := checker[*check.SMTP](t, cfg); s.HELO != "smtpchecker.keepalived.org" || s.Addr != ap("10.0.0.1:80") {
				t.Errorf("%+v", s)
			}
		}},
		// virtual_server keywords.
		{"fwmark", "virtual_server fwmark 7 {\n real_server 10.0.0.1 80 {\n }\n}\n", func(t *testing.T, cfg vigil.Config) {
			if k := firstVS(t, cfg).Service.ServiceKey; k != (ipvs.ServiceKey{FWMark: 7}) {
				t.Errorf("%+v", k)
			}
		}},
		{"fwmark ipv6 from real server", "virtual_server fwmark 7 {\n lb_kind DR\n real_server 2001:db8::1 80 {\n }\n}\n", func(t *testing.T, cfg vigil.Config) {
			if vs := firstVS(t, cfg); vs.Service.ServiceKey != (ipvs.ServiceKey{FWMark: 7, Family6: true}) || vs.RealServers[0].Port != 0 {
				t.Errorf("%+v %+v", vs.Service, vs.RealServers[0].RealServer)
			}
		}},
		{"ip_family", "virtual_server fwmark 7 {\n ip_family inet6\n lb_kind TUN\n real_server 10.0.0.1 {\n }\n}\n", func(t *testing.T, cfg vigil.Config) {
			if vs := firstVS(t, cfg); !vs.Service.Family6 {
				t.Errorf("%+v", vs.Service)
			}
		}},
		{"lvs_sched", vsConf(" lvs_sched sh\n sh-port\n sh-fallback\n", ""), func(t *testing.T, cfg vigil.Config) {
			if s := firstVS(t, cfg).Service; s.Scheduler != ipvs.SourceHashing || s.SchedFlags != ipvs.FlagPort|ipvs.FlagFallback {
				t.Errorf("%+v", s)
			}
		}},
		{"mh flags", vsConf(" lb_algo mh\n mh-port\n flag-1\n", ""), func(t *testing.T, cfg vigil.Config) {
			if s := firstVS(t, cfg).Service; s.Scheduler != ipvs.MaglevHashing || s.SchedFlags != ipvs.FlagPort|ipvs.FlagFallback {
				t.Errorf("%+v", s)
			}
		}},
		{"lvs_method DR", vsConf(" lvs_method DR\n", ""), func(t *testing.T, cfg vigil.Config) {
			if rs := firstRS(t, cfg); rs.Forward != ipvs.Route {
				t.Errorf("%+v", rs.RealServer)
			}
		}},
		{"lb_kind TUN gue", vsConf(" lb_kind TUN type gue port 6080 csum\n", ""), func(t *testing.T, cfg vigil.Config) {
			if rs := firstRS(t, cfg); rs.Forward != ipvs.Tunnel || rs.TunnelType != ipvs.GUE || rs.TunnelPort != 6080 || !rs.TunnelChecksum {
				t.Errorf("%+v", rs.RealServer)
			}
		}},
		{"protocol", "virtual_server 192.0.2.1 53 {\n protocol sctp\n real_server 10.0.0.1 {\n }\n}\n", func(t *testing.T, cfg vigil.Config) {
			if p := firstVS(t, cfg).Service.Protocol; p != ipvs.SCTP {
				t.Errorf("%v", p)
			}
		}},
		{"persistence_timeout", vsConf(" persistence_timeout 50\n", ""), func(t *testing.T, cfg vigil.Config) {
			if p := firstVS(t, cfg).Service.Persistence; p != 50*time.Second {
				t.Errorf("%v", p)
			}
		}},
		{"persistence_timeout bare", vsConf(" persistence_timeout\n", ""), func(t *testing.T, cfg vigil.Config) {
			if p := firstVS(t, cfg).Service.Persistence; p != 360*time.Second {
				t.Errorf("%v", p)
			}
		}},
		{"port 0 is persistent", "virtual_server 192.0.2.1 0 {\n protocol TCP\n real_server 10.0.0.1 {\n }\n}\n", func(t *testing.T, cfg vigil.Config) {
			if s := firstVS(t, cfg).Service; s.Persistence != 360*time.Second || s.Port != 0 {
				t.Errorf("%+v", s)
			}
		}},
		{"persistence_granularity", vsConf(" persistence_granularity 255.255.255.0\n", ""), func(t *testing.T, cfg vigil.Config) {
			if s := firstVS(t, cfg).Service; s.PersistenceMask != 24 || s.Persistence != 360*time.Second {
				t.Errorf("%+v", s)
			}
		}},
		{"ops", "virtual_server 192.0.2.1 53 {\n protocol UDP\n ops\n real_server 10.0.0.1 {\n }\n}\n", func(t *testing.T, cfg vigil.Config) {
			if s := firstVS(t, cfg).Service; !s.OnePacket {
				t.Errorf("%+v", s)
			}
		}},
		{"quorum hysteresis omega alpha", vsConf(" quorum 2\n hysteresis 1\n omega\n alpha\n", " weight 3\n TCP_CHECK {\n }\n"), func(t *testing.T, cfg vigil.Config) {
			vs := firstVS(t, cfg)
			if vs.Quorum != 2 || vs.Hysteresis != 1 || !vs.Omega || !vs.RealServers[0].Alpha || !vs.RealServers[0].Checks[0].Policy.Alpha {
				t.Errorf("%+v", vs)
			}
		}},
		{"quorum reduced to the weights", vsConf(" quorum 5\n", " weight 3\n"), func(t *testing.T, cfg vigil.Config) {
			if q := firstVS(t, cfg).Quorum; q != 3 {
				t.Errorf("quorum %d", q)
			}
		}},
		{"quorum_up quorum_down", vsConf(" quorum_up \"/bin/up a\"\n quorum_down /bin/down\n", ""), func(t *testing.T, cfg vigil.Config) {
			vs := firstVS(t, cfg)
			if vs.QuorumUp == nil || !slices.Equal(vs.QuorumUp.Args, []string{"/bin/up", "a"}) || vs.QuorumDown == nil || vs.QuorumDown.Args[0] != "/bin/down" {
				t.Errorf("%+v %+v", vs.QuorumUp, vs.QuorumDown)
			}
		}},
		{"ha_suspend", vsConf(" ha_suspend\n", ""), func(t *testing.T, cfg vigil.Config) {
			if !firstVS(t, cfg).HASuspend {
				t.Error("no HASuspend")
			}
		}},
		{"inhibit_on_failure", vsConf(" inhibit_on_failure\n", ""), func(t *testing.T, cfg vigil.Config) {
			if !firstRS(t, cfg).InhibitOnFailure {
				t.Error("no InhibitOnFailure")
			}
		}},
		{"weight", vsConf(" weight 5\n", ""), func(t *testing.T, cfg vigil.Config) {
			if w := firstRS(t, cfg).Weight; w != 5 {
				t.Errorf("weight %d", w)
			}
		}},
		{"sorry_server", vsConf(" sorry_server 10.0.0.9\n sorry_server_inhibit\n sorry_server_lvs_method DR\n", ""), func(t *testing.T, cfg vigil.Config) {
			vs := firstVS(t, cfg)
			want := ipvs.Destination{DestinationKey: ipvs.DestinationKey{Addr: a("10.0.0.9"), Port: 80}, Forward: ipvs.Route, Weight: 1}
			if vs.SorryServer == nil || *vs.SorryServer != want || !vs.SorryInhibit {
				t.Errorf("%+v %v", vs.SorryServer, vs.SorryInhibit)
			}
		}},
		{"virtual server timing", vsConf(" delay_loop 6\n connect_timeout 2\n retry 4\n delay_before_retry 0.5\n warmup 0\n", " TCP_CHECK {\n }\n"), func(t *testing.T, cfg vigil.Config) {
			want := check.Policy{Interval: 6 * time.Second, Timeout: 2 * time.Second, Retries: 4, RetryDelay: 500 * time.Millisecond, Warmup: -1}
			if p := firstCheck(t, cfg).Policy; p != want {
				t.Errorf("%+v, want %+v", p, want)
			}
		}},
		{"virtualhost", vsConf(" virtualhost www.example.com\n", " HTTP_GET {\n url {\n path /\n }\n }\n"), func(t *testing.T, cfg vigil.Config) {
			if h := checker[*check.HTTP](t, cfg); h.Host != "www.example.com" {
				t.Errorf("%+v", h)
			}
		}},
		// real_server keywords.
		{"real server port from the service", vsConf("", ""), func(t *testing.T, cfg vigil.Config) {
			if rs := firstRS(t, cfg); rs.Port != 80 {
				t.Errorf("%+v", rs.RealServer)
			}
		}},
		{"real server keywords", vsConf(" delay_loop 6\n", " weight 0\n lvs_method TUN\n uthreshold 100\n lthreshold 10\n inhibit_on_failure yes\n alpha\n delay_loop 3\n connect_timeout 4\n retry 2\n delay_before_retry 2\n warmup 5\n notify_up /bin/up\n notify_down \"/bin/down x\"\n TCP_CHECK {\n }\n"), func(t *testing.T, cfg vigil.Config) {
			rs := firstRS(t, cfg)
			if rs.Weight != 0 || rs.Forward != ipvs.Tunnel || rs.UpperThreshold != 100 || rs.LowerThreshold != 10 || !rs.InhibitOnFailure || !rs.Alpha {
				t.Errorf("%+v", rs.RealServer)
			}
			if rs.NotifyUp == nil || rs.NotifyDown == nil || !slices.Equal(rs.NotifyDown.Args, []string{"/bin/down", "x"}) {
				t.Errorf("notify %+v %+v", rs.NotifyUp, rs.NotifyDown)
			}
			want := check.Policy{Interval: 3 * time.Second, Timeout: 4 * time.Second, Retries: 2, RetryDelay: 2 * time.Second, Warmup: 5 * time.Second, Alpha: true}
			if p := rs.Checks[0].Policy; p != want {
				t.Errorf("%+v, want %+v", p, want)
			}
		}},
		// Checker keywords.
		{"checker keywords", vsConf(" delay_loop 6\n", " TCP_CHECK {\n connect_ip 10.0.0.2\n connect_port 8080\n bindto 10.0.0.100\n connect_timeout 1\n retry 0\n delay_before_retry 4\n warmup 2\n delay_loop 9\n alpha no\n }\n"), func(t *testing.T, cfg vigil.Config) {
			c := firstCheck(t, cfg)
			if tc := c.Checker.(*check.TCP); tc.Addr != ap("10.0.0.2:8080") || tc.Bind != a("10.0.0.100") {
				t.Errorf("%+v", tc)
			}
			want := check.Policy{Interval: 9 * time.Second, Timeout: time.Second, Retries: 0, RetryDelay: 4 * time.Second, Warmup: 2 * time.Second}
			if c.Policy != want {
				t.Errorf("%+v, want %+v", c.Policy, want)
			}
		}},
		{"HTTP_GET url keywords", vsConf("", " HTTP_GET {\n virtualhost chk.example\n nb_get_retry 5\n url {\n path /a\n digest 9b3a0c85a887a256d6939da88aabd8cd\n status_code 200 300-399\n }\n url {\n path /b\n virtualhost url.example\n regex \"^ok\"\n }\n }\n"), func(t *testing.T, cfg vigil.Config) {
			rs := firstRS(t, cfg)
			if len(rs.Checks) != 2 {
				t.Fatalf("%d checks", len(rs.Checks))
			}
			h1, h2 := rs.Checks[0].Checker.(*check.HTTP), rs.Checks[1].Checker.(*check.HTTP)
			if h1.Path != "/a" || h1.Host != "chk.example" || fmt.Sprintf("%x", h1.Digest) != "9b3a0c85a887a256d6939da88aabd8cd" ||
				!slices.Equal(h1.Status, []check.StatusRange{{Min: 200, Max: 200}, {Min: 300, Max: 399}}) || rs.Checks[0].Policy.Retries != 5 {
				t.Errorf("%+v %+v", h1, rs.Checks[0].Policy)
			}
			if h2.Path != "/b" || h2.Host != "url.example" || h2.Regexp == nil || h2.Regexp.String() != "^ok" {
				t.Errorf("%+v", h2)
			}
		}},
		{"SSL_GET", "SSL {\n certificate /c.pem\n key /k.pem\n}\n" + vsConf("", " SSL_GET {\n virtualhost www.example\n enable_sni\n url {\n path /\n }\n }\n"), func(t *testing.T, cfg vigil.Config) {
			h := checker[*check.HTTP](t, cfg)
			if h.TLS == nil || !h.TLS.InsecureSkipVerify || h.TLS.ServerName != "www.example" || h.TLS.GetClientCertificate == nil {
				t.Errorf("%+v", h.TLS)
			}
		}},
		{"SSL_GET sni_name", vsConf("", " SSL_GET {\n sni_name sni.example\n url {\n path /\n }\n }\n"), func(t *testing.T, cfg vigil.Config) {
			if h := checker[*check.HTTP](t, cfg); h.TLS == nil || h.TLS.ServerName != "sni.example" {
				t.Errorf("%+v", h.TLS)
			}
		}},
		{"MISC_CHECK keywords", vsConf("", " MISC_CHECK {\n misc_path /bin/c\n misc_timeout 3\n misc_dynamic\n user nobody :nogroup\n retry 2\n }\n"), func(t *testing.T, cfg vigil.Config) {
			e := checker[*check.Exec](t, cfg)
			if !e.Dynamic || e.User != "nobody" || e.Group != "nogroup" {
				t.Errorf("%+v", e)
			}
			if p := firstCheck(t, cfg).Policy; p.Timeout != 3*time.Second || p.Retries != 2 {
				t.Errorf("%+v", p)
			}
		}},
		{"SMTP_CHECK keywords", vsConf("", " SMTP_CHECK {\n helo_name mx.example\n connect_port 25\n }\n"), func(t *testing.T, cfg vigil.Config) {
			if s := checker[*check.SMTP](t, cfg); s.HELO != "mx.example" || s.Addr != ap("10.0.0.1:25") {
				t.Errorf("%+v", s)
			}
		}},
		{"SMTP_CHECK host", vsConf("", " SMTP_CHECK {\n host {\n connect_ip 10.0.0.5\n connect_port 587\n }\n host {\n connect_ip 10.0.0.6\n }\n }\n"), func(t *testing.T, cfg vigil.Config) {
			rs := firstRS(t, cfg)
			if len(rs.Checks) != 2 || rs.Checks[0].Checker.(*check.SMTP).Addr != ap("10.0.0.5:587") || rs.Checks[1].Checker.(*check.SMTP).Addr != ap("10.0.0.6:80") {
				t.Errorf("%+v", rs.Checks)
			}
		}},
		{"DNS_CHECK keywords", vsConf("", " DNS_CHECK {\n type aaaa\n name example.com\n connect_port 53\n }\n"), func(t *testing.T, cfg vigil.Config) {
			if d := checker[*check.DNS](t, cfg); d.Type != 28 || d.Name != "example.com" || d.Server != ap("10.0.0.1:53") {
				t.Errorf("%+v", d)
			}
		}},
		{"PING_CHECK", vsConf("", " PING_CHECK {\n connect_ip 10.0.0.7\n }\n"), func(t *testing.T, cfg vigil.Config) {
			if p := checker[*check.ICMP](t, cfg); p.Addr != a("10.0.0.7") || p.Privileged {
				t.Errorf("%+v", p)
			}
		}},
		{"UDP_CHECK", vsConf("", " UDP_CHECK {\n payload 0a0B c\n require_reply 4f4b\n }\n"), func(t *testing.T, cfg vigil.Config) {
			if u := checker[*check.UDP](t, cfg); string(u.Payload) != "\x0a\x0b\x0c" || !u.RequireReply || string(u.Expect) != "OK" {
				t.Errorf("%+v", u)
			}
		}},
		{"UDP_CHECK reply lengths", vsConf("", " UDP_CHECK {\n require_reply 4f4b\n min_reply_length 2\n max_reply_length 300\n }\n"), func(t *testing.T, cfg vigil.Config) {
			if u := checker[*check.UDP](t, cfg); u.MinReply != 2 || u.MaxReply != 300 {
				t.Errorf("%+v", u)
			}
		}},
		// bind_if on every checker that connects.
		{"bind_if", vsConf("", " TCP_CHECK {\n bind_if eth1\n }\n HTTP_GET {\n bind_if eth1\n url {\n path /\n }\n }\n"+
			" SSL_GET {\n bind_if eth1\n url {\n path /\n }\n }\n SMTP_CHECK {\n bind_if eth1\n }\n DNS_CHECK {\n bind_if eth1\n }\n"+
			" PING_CHECK {\n bind_if eth1\n }\n UDP_CHECK {\n bind_if eth1\n }\n"), func(t *testing.T, cfg vigil.Config) {
			checks := firstRS(t, cfg).Checks
			if len(checks) != 7 {
				t.Fatalf("%d checks, want 7", len(checks))
			}
			for _, c := range checks {
				var iface string
				switch ch := c.Checker.(type) {
				case *check.TCP:
					iface = ch.Interface
				case *check.HTTP:
					iface = ch.Interface
				case *check.SMTP:
					iface = ch.Interface
				case *check.DNS:
					iface = ch.Interface
				case *check.ICMP:
					iface = ch.Interface
				case *check.UDP:
					iface = ch.Interface
				}
				if iface != "eth1" {
					t.Errorf("%T: Interface %q, want eth1", c.Checker, iface)
				}
			}
		}},
		{"SMTP_CHECK host bind_if", vsConf("", " SMTP_CHECK {\n host {\n connect_ip 10.0.0.9\n bind_if eth2\n }\n }\n"), func(t *testing.T, cfg vigil.Config) {
			if m := checker[*check.SMTP](t, cfg); m.Interface != "eth2" || m.Addr.Addr() != a("10.0.0.9") {
				t.Errorf("%+v", m)
			}
		}},
		{"log_all_failures", vsConf("", " TCP_CHECK {\n log_all_failures\n }\n MISC_CHECK {\n misc_path /bin/true\n log_all_failures yes\n }\n TCP_CHECK {\n log_all_failures off\n }\n TCP_CHECK {\n }\n"), func(t *testing.T, cfg vigil.Config) {
			checks := firstRS(t, cfg).Checks
			if len(checks) != 4 || !checks[0].Policy.LogFailures || !checks[1].Policy.LogFailures || checks[2].Policy.LogFailures || checks[3].Policy.LogFailures {
				t.Errorf("%+v", checks)
			}
		}},
		{"http_protocol", vsConf("", " HTTP_GET {\n url {\n path /\n }\n }\n HTTP_GET {\n http_protocol 1.0\n url {\n path /\n }\n }\n"+
			" SSL_GET {\n http_protocol 1.0C\n url {\n path /\n }\n }\n HTTP_GET {\n http_protocol 1.0c\n url {\n path /\n }\n }\n HTTP_GET {\n http_protocol 1.1\n url {\n path /\n }\n }\n"), func(t *testing.T, cfg vigil.Config) {
			var got []check.HTTPVersion
			for _, c := range firstRS(t, cfg).Checks {
				got = append(got, c.Checker.(*check.HTTP).Version)
			}
			if want := []check.HTTPVersion{check.HTTP11, check.HTTP10, check.HTTP10Close, check.HTTP10Close, check.HTTP11}; !slices.Equal(got, want) {
				t.Errorf("versions %v, want %v", got, want)
			}
		}},
		{"fast_recovery", vsConf("", " HTTP_GET {\n fast_recovery\n url {\n path /\n }\n }\n HTTP_GET {\n fast_recovery\n warmup 2\n url {\n path /\n }\n }\n HTTP_GET {\n url {\n path /\n }\n }\n"), func(t *testing.T, cfg vigil.Config) {
			checks := firstRS(t, cfg).Checks
			if len(checks) != 3 || checks[0].Policy.Warmup != -1 || checks[1].Policy.Warmup != 2*time.Second || checks[2].Policy.Warmup != 0 {
				t.Errorf("%+v", checks)
			}
		}},
		{"FILE_CHECK", "track_file f {\n file /run/w\n weight 2\n}\n" + vsConf("", " FILE_CHECK {\n track_file f\n }\n FILE_CHECK {\n track_file f\n weight -3 reverse\n }\n"), func(t *testing.T, cfg vigil.Config) {
			rs := firstRS(t, cfg)
			f1, f2 := rs.Checks[0].Checker.(*check.File), rs.Checks[1].Checker.(*check.File)
			if *f1 != (check.File{Path: "/run/w", Weight: 2}) || *f2 != (check.File{Path: "/run/w", Weight: -3, Reverse: true}) {
				t.Errorf("%+v %+v", f1, f2)
			}
		}},
		// virtual_server_group.
		{"virtual_server_group", "virtual_server_group G {\n 192.0.2.1 80\n 192.0.2.10-12 80\n 192.0.2.20/31 443\n 2001:db8::1-3 80\n fwmark 3\n fwmark 4 inet6\n}\n" +
			"virtual_server group G {\n protocol TCP\n lb_kind TUN\n real_server 10.0.0.1 {\n }\n}\n", func(t *testing.T, cfg vigil.Config) {
			if len(cfg.VirtualServerGroups) != 1 {
				t.Fatalf("%+v", cfg.VirtualServerGroups)
			}
			var got []string
			for _, k := range cfg.VirtualServerGroups[0].Services {
				got = append(got, k.String())
			}
			want := []string{"tcp 192.0.2.1:80", "tcp 192.0.2.10:80", "tcp 192.0.2.11:80", "tcp 192.0.2.12:80", "tcp 192.0.2.20:443", "tcp 192.0.2.21:443",
				"tcp [2001:db8::1]:80", "tcp [2001:db8::2]:80", "tcp [2001:db8::3]:80", "fwmark 3", "fwmark 4 ipv6"}
			if !slices.Equal(got, want) {
				t.Errorf("services %v\nwant %v", got, want)
			}
			if vs := firstVS(t, cfg); vs.Group != "G" || vs.Service.Protocol != ipvs.TCP {
				t.Errorf("%+v", vs)
			}
		}},
		{"group after its virtual server", "virtual_server group G {\n protocol SCTP\n real_server 10.0.0.1 80 {\n }\n}\nvirtual_server_group G {\n 192.0.2.1\n}\n", func(t *testing.T, cfg vigil.Config) {
			g := cfg.VirtualServerGroups[0]
			if k := g.Services[0]; k.Protocol != ipvs.SCTP || k.Port != 0 {
				t.Errorf("%+v", g)
			}
			if p := firstVS(t, cfg).Service.Persistence; p != 360*time.Second {
				t.Errorf("persistence %v", p)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, errs := loadString(t, tc.text)
			for _, e := range errs {
				if e.Severity != SeverityWarning {
					t.Errorf("unexpected %v", e)
				}
			}
			tc.check(t, cfg)
		})
	}
}

// wantDiag fails unless errs has msg at line:col with severity sev.
func wantDiag(t *testing.T, errs ErrorList, msg string, line, col int, sev Severity) {
	t.Helper()
	e := hasMsg(errs, msg)
	if e == nil {
		t.Fatalf("no %q in\n%v", msg, errs)
	}
	if e.Pos.Line != line || e.Pos.Col != col || e.Severity != sev || e.Pos.File != "k.conf" {
		t.Errorf("%v: at %d:%d %v, want %d:%d %v", e, e.Pos.Line, e.Pos.Col, e.Severity, line, col, sev)
	}
}

func TestLoadVSErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		text      string
		line, col int
		sev       Severity
		msg       string
	}{
		// Defaults keepalived warns about.
		{"no protocol", "virtual_server 192.0.2.1 80 {\n real_server 10.0.0.1 {\n }\n}\n", 1, 1, SeverityWarning, "no protocol set: defaulting to UDP"},
		{"no scheduler", "virtual_server 192.0.2.1 80 {\n real_server 10.0.0.1 {\n }\n}\n", 1, 1, SeverityWarning, "no scheduler set: defaulting to wlc"},
		{"no method", "virtual_server 192.0.2.1 80 {\n real_server 10.0.0.1 {\n }\n}\n", 1, 1, SeverityWarning, "no forwarding method set: defaulting to NAT"},
		{"no real servers", "virtual_server 192.0.2.1 80 {\n protocol TCP\n}\n", 1, 1, SeverityWarning, "has no real servers: ignored"},
		{"DR port reset", "virtual_server 192.0.2.1 80 {\n lb_kind DR\n real_server 10.0.0.1 81 {\n }\n}\n", 3, 2, SeverityWarning, "ports of the virtual server and real server do not match: resetting"},
		{"duplicate real server", "virtual_server 192.0.2.1 80 {\n real_server 10.0.0.1 {\n }\n real_server 10.0.0.1 80 {\n }\n}\n", 4, 2, SeverityWarning, "real server 10.0.0.1:80 is duplicated: ignored"},
		{"hysteresis", vsConf(" quorum 1\n hysteresis 1\n", ""), 1, 1, SeverityWarning, "hysteresis 1 >= quorum 1: setting hysteresis to 0"},
		{"fwmark protocol", "virtual_server fwmark 1 {\n protocol TCP\n real_server 10.0.0.1 {\n }\n}\n", 1, 1, SeverityWarning, "protocol specified for fwmark: ignored"},
		{"ignored keyword", vsConf(" smtp_alert\n", ""), 5, 2, SeverityWarning, "smtp_alert ignored: not supported"},
		{"ignored checker keyword", vsConf("", " TCP_CHECK {\n bind_port 1000\n }\n"), 7, 2, SeverityWarning, "bind_port ignored: not supported"},
		{"unknown keyword", vsConf(" lb_algoo rr\n", ""), 5, 2, SeverityWarning, `unknown keyword "lb_algoo" ignored (did you mean "lb_algo"?)`},
		{"nb_get_retry deprecated", vsConf("", " HTTP_GET {\n nb_get_retry 2\n url {\n path /\n }\n }\n"), 7, 2, SeverityWarning, "nb_get_retry is deprecated"},
		// Bad arguments.
		{"bad address", "virtual_server 192.0.2.300 80 {\n}\n", 1, 16, SeverityError, `invalid IP address "192.0.2.300"`},
		{"bad port", "virtual_server 192.0.2.1 70000 {\n}\n", 1, 26, SeverityError, `invalid number "70000" (0..65535)`},
		{"bad fwmark", "virtual_server fwmark x {\n}\n", 1, 23, SeverityError, `invalid number "x"`},
		{"missing argument", "virtual_server {\n}\n", 1, 1, SeverityFatal, "virtual_server: missing argument"},
		{"missing block", "virtual_server 192.0.2.1 80\n", 1, 1, SeverityError, "virtual_server: missing '{'"},
		{"bad scheduler", vsConf(" lb_algo xx\n", ""), 5, 10, SeverityError, `lb_algo: invalid scheduler "xx"`},
		{"bad method", vsConf(" lb_kind FOO\n", ""), 5, 10, SeverityError, `lb_kind: unknown method "FOO"`},
		{"gue without port", vsConf(" lb_kind TUN type gue\n", ""), 5, 2, SeverityError, "gue tunnels require a port"},
		{"bad protocol", vsConf(" protocol ICMP\n", ""), 5, 11, SeverityError, `unknown protocol "ICMP"`},
		{"bad persistence", vsConf(" persistence_timeout 0\n", ""), 5, 22, SeverityError, `persistence_timeout: invalid number "0"`},
		{"bad granularity", vsConf(" persistence_granularity 255.0.255.0\n", ""), 5, 26, SeverityError, "is not a netmask"},
		{"sh-port before lvs_sched", vsConf(" sh-port\n lvs_sched sh\n", ""), 5, 2, SeverityError, "sh-port only applies to the sh scheduler"},
		{"bad delay_loop", vsConf(" delay_loop 0\n", ""), 5, 13, SeverityError, `delay_loop: invalid time "0"`},
		{"bad retry", vsConf(" retry 0\n", ""), 5, 8, SeverityError, `retry: invalid number "0"`},
		{"bad quorum", vsConf(" quorum -1\n", ""), 5, 9, SeverityError, `quorum: invalid number "-1"`},
		{"bad real server", vsConf("", "") + "virtual_server 192.0.2.2 80 {\n real_server 10.0.0.x {\n }\n}\n", 9, 14, SeverityError, `invalid IP address "10.0.0.x"`},
		{"bad weight", vsConf("", " weight 70000\n"), 6, 9, SeverityError, `weight: invalid number "70000" (0..65535)`},
		{"bad inhibit", vsConf("", " inhibit_on_failure maybe\n"), 6, 21, SeverityError, `"maybe" is not true/on/yes`},
		{"family mismatch", vsConf("", "") + "virtual_server 192.0.2.2 80 {\n real_server 2001:db8::1 {\n }\n}\n", 9, 2, SeverityError, "address family of the virtual server and real server 2001:db8::1 do not match"},
		{"bad connect_port", vsConf("", " TCP_CHECK {\n connect_port 0\n }\n"), 7, 15, SeverityError, `connect_port: invalid number "0" (1..65535)`},
		{"bad connect_ip", vsConf("", " TCP_CHECK {\n connect_ip nope\n }\n"), 7, 13, SeverityError, `invalid IP address "nope"`},
		{"bindto family", vsConf("", " TCP_CHECK {\n connect_ip 10.0.0.2\n bindto 2001:db8::1\n }\n"), 8, 9, SeverityError, "does not match the family of connect_ip"},
		{"no port to check", "virtual_server fwmark 1 {\n real_server 10.0.0.1 {\n TCP_CHECK {\n }\n }\n}\n", 3, 2, SeverityError, "TCP_CHECK: no port to check"},
		{"HTTP_GET without url", vsConf("", " HTTP_GET {\n }\n"), 6, 2, SeverityError, "HTTP_GET: no url: ignored"},
		{"url without path", vsConf("", " HTTP_GET {\n url {\n }\n }\n"), 7, 2, SeverityError, "url: no path"},
		{"bad digest", vsConf("", " HTTP_GET {\n url {\n path /\n digest abc\n }\n }\n"), 9, 9, SeverityError, `digest: "abc" is not 32 hex digits`},
		{"bad status_code", vsConf("", " HTTP_GET {\n url {\n path /\n status_code 200 700\n }\n }\n"), 9, 18, SeverityError, `invalid HTTP status code "700"`},
		{"bad regex", vsConf("", " HTTP_GET {\n url {\n path /\n regex \"(\"\n }\n }\n"), 9, 8, SeverityError, "regex: error parsing regexp"},
		{"MISC_CHECK without path", vsConf("", " MISC_CHECK {\n }\n"), 6, 2, SeverityError, "MISC_CHECK: no misc_path"},
		{"bad DNS type", vsConf("", " DNS_CHECK {\n type PTRX\n }\n"), 7, 7, SeverityError, `unknown DNS type "PTRX"`},
		{"bad DNS name", vsConf("", " DNS_CHECK {\n name a..b\n }\n"), 7, 7, SeverityError, "has an empty label"},
		{"bad UDP payload", vsConf("", " UDP_CHECK {\n payload zz\n }\n"), 7, 10, SeverityError, `invalid hex string "zz"`},
		{"UDP reply wildcard", vsConf("", " UDP_CHECK {\n require_reply 4X\n }\n"), 7, 16, SeverityError, "wildcards in \"4X\" not supported"},
		{"FILE_CHECK undefined", vsConf("", " FILE_CHECK {\n track_file nope\n }\n"), 7, 13, SeverityError, "no track_file nope defined before"},
		{"bad group entry", "virtual_server_group G {\n 192.0.2.5-3\n}\n", 2, 2, SeverityError, "address range end not greater than its start"},
		{"huge group range", "virtual_server_group G {\n 10.0.0.0/8 80\n}\n", 2, 2, SeverityError, "range of more than 65536 addresses not supported"},
		{"empty group", "virtual_server_group G {\n}\n", 1, 1, SeverityWarning, "has no entries"},
		{"SSL half", "SSL {\n certificate /c\n}\n", 1, 1, SeverityError, "certificate and key go together"},
		{"bind_if too long", vsConf("", " TCP_CHECK {\n bind_if sixteen-letters0\n }\n"), 7, 10, SeverityError, `interface name "sixteen-letters0" is too long`},
		{"http_protocol unknown", vsConf("", " HTTP_GET {\n http_protocol 0.9\n url {\n path /\n }\n }\n"), 7, 16, SeverityError, `http_protocol: unknown version "0.9"`},
		{"max_reply_length 0", vsConf("", " UDP_CHECK {\n max_reply_length 0\n }\n"), 7, 19, SeverityError, "max_reply_length: invalid number"},
		{"min > max reply length", vsConf("", " UDP_CHECK {\n min_reply_length 9\n max_reply_length 8\n }\n"), 6, 2, SeverityWarning, "min_reply_length 9 > max_reply_length 8"},
		{"ha_suspend on fwmark", "virtual_server fwmark 1 {\n ha_suspend\n real_server 10.0.0.1 80 {\n }\n}\n", 2, 2, SeverityError, "cannot use ha_suspend with fwmarks"},
		{"Validate at the virtual server", vsConf("", "") + vsConf("", ""), 8, 1, SeverityFatal, "virtual server tcp 192.0.2.1:80: Service: service tcp 192.0.2.1:80 is also a service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := loadString(t, tc.text)
			wantDiag(t, errs, tc.msg, tc.line, tc.col, tc.sev)
		})
	}
}

// vsSummary describes the important fields of cfg's virtual servers, one
// line per service and per real server: "SERVICE SCHED [persist=D]
// [group=G] [quorum=Q/H] [sorry=ADDR FWD]" then "  RS FWD wW [inhibit]
// [alpha]: CHECKS", each check as its String() and interval.
func vsSummary(cfg vigil.Config) []string {
	var out []string
	for _, vs := range cfg.VirtualServers {
		s := vs.Service
		line := s.ServiceKey.String() + " " + s.Scheduler.String()
		if vs.Group != "" {
			line = "group " + vs.Group + " " + s.Protocol.String() + " " + s.Scheduler.String()
		}
		if s.Persistence != 0 {
			line += fmt.Sprintf(" persist=%v", s.Persistence)
		}
		if vs.Quorum != 0 || vs.Hysteresis != 0 {
			line += fmt.Sprintf(" quorum=%d/%d", vs.Quorum, vs.Hysteresis)
		}
		if vs.SorryServer != nil {
			line += fmt.Sprintf(" sorry=%v %v", vs.SorryServer.DestinationKey, vs.SorryServer.Forward)
		}
		out = append(out, line)
		for _, rs := range vs.RealServers {
			line := fmt.Sprintf("  %v %v w%d", rs.DestinationKey, rs.Forward, rs.Weight)
			if rs.InhibitOnFailure {
				line += " inhibit"
			}
			if rs.Alpha {
				line += " alpha"
			}
			var cs []string
			for _, c := range rs.Checks {
				cs = append(cs, fmt.Sprintf("%v/%v", c.Checker, c.Policy.Interval))
			}
			out = append(out, line+": "+strings.Join(cs, ", "))
		}
	}
	for _, g := range cfg.VirtualServerGroups {
		var ks []string
		for _, k := range g.Services {
			ks = append(ks, k.String())
		}
		out = append(out, "vsg "+g.Name+": "+strings.Join(ks, ", "))
	}
	return out
}

// TestLoadVSSamples loads keepalived's samples with virtual servers: no
// problem above a warning, Validate passes, and the services, real
// servers and checks are keepalived's.
func TestLoadVSSamples(t *testing.T) {
	for _, tc := range []struct {
		sample string
		want   []string
	}{
		{"HTTP_GET.port", []string{
			"tcp 192.168.200.100:443 rr persist=50s",
			"  192.168.201.100:443 masq w1: https://192.168.201.100:444//6s",
		}},
		{"IPv6", []string{
			"tcp [ae00::1]:80 rr persist=50s",
			"  [ae00::10]:25 masq w1: smtp [ae00::10]:25/6s",
			"vsg IPv6_group: udp [ae00::2]:80, udp [ae00::3]:80, udp [ae00::4]:80, udp [ae00::5]:80, udp [ae00::6]:80, udp [ae00::7]:80, udp [ae00::8]:80, udp [ae00::9]:80, udp [ae00::1]:80",
		}},
		{"PING_CHECK", []string{
			"udp 10.10.10.2:1358 rr persist=50s",
			"  192.168.200.6:1358 masq w1: icmp 192.168.200.6/6s",
		}},
		{"SMTP_CHECK", []string{
			"tcp 192.168.200.100:25 rr",
			"  172.16.1.10:25 masq w1: smtp 172.16.1.10:25/1m0s",
			"  172.16.1.11:25 masq w1: smtp 172.16.1.11:25/1m0s, smtp 172.16.1.11:25/1m0s, smtp 192.168.155.10:25/1m0s, smtp 64.233.167.99:25/1m0s",
			"  172.16.1.12:25 masq w1: smtp 172.16.1.12:25/1m0s, smtp 172.16.1.12:25/1m0s, smtp 192.168.155.11:25/1m0s, smtp 64.233.167.100:587/1m0s",
		}},
		{"SSL_GET", []string{
			"tcp 192.168.200.100:443 rr persist=50s",
			"  192.168.201.100:443 masq w1: https://192.168.201.100:443//6s, https://192.168.201.100:443/mrtg//6s",
			"tcp 192.168.200.100:80 rr persist=50s",
			"  192.168.201.100:80 masq w1: http://192.168.201.100:80//6s, http://192.168.201.100:80/mrtg//6s",
		}},
		{"UDP_CHECK", []string{
			"udp 10.10.10.2:1358 rr persist=50s",
			"  192.168.200.6:1358 masq w1: udp 192.168.200.6:1358/6s",
		}},
		{"fwmark", []string{
			"fwmark 1 rr persist=15m0s",
			"  192.168.201.100:0 masq w1: tcp 192.168.201.100:80/6s",
			"  192.168.201.101:0 masq w1: tcp 192.168.201.101:80/6s",
		}},
		{"inhibit", []string{
			"tcp 10.10.10.2:1358 rr persist=50s",
			"  192.168.200.2:1358 masq w1 inhibit: http://192.168.200.2:1358/testurl3/test.jsp/6s",
		}},
		{"misc_check", []string{
			"tcp 10.10.10.2:1358 rr persist=50s",
			"  192.168.200.6:1358 masq w1: exec /usr/local/bin/script.sh/6s",
		}},
		{"misc_check_arg", []string{
			"tcp 10.10.10.2:1358 rr persist=50s",
			"  192.168.200.6:1358 masq w1: exec /usr/local/bin/script.sh arg1 arg2/6s",
		}},
		{"quorum", []string{
			"tcp 10.0.1.1:80 wrr persist=15m0s quorum=7/2",
			"  10.0.0.1:8080 masq w1 alpha: tcp 10.0.0.1:80/6s",
			"  10.0.0.2:8080 masq w1 alpha: tcp 10.0.0.2:80/6s",
			"  10.0.0.3:8080 masq w1 alpha: tcp 10.0.0.3:80/6s",
			"  10.0.0.4:8080 masq w1 alpha: tcp 10.0.0.4:80/6s",
			"  10.0.0.5:8080 masq w1 alpha: tcp 10.0.0.5:80/6s",
			"  10.0.0.6:8080 masq w1 alpha: tcp 10.0.0.6:80/6s",
			"  10.0.0.7:8080 masq w1 alpha: tcp 10.0.0.7:80/6s",
			"  10.0.0.8:8080 masq w1 alpha: tcp 10.0.0.8:80/6s",
			"  10.0.0.9:8080 masq w1 alpha: tcp 10.0.0.9:80/6s",
			"  10.0.0.10:8080 masq w1 alpha: tcp 10.0.0.10:80/6s",
		}},
		{"sample", []string{
			"tcp 10.10.10.2:1358 rr persist=50s sorry=192.168.200.200:1358 masq",
			"  192.168.200.2:1358 masq w1: http://192.168.200.2:1358/testurl3/test.jsp/6s",
		}},
		{"status_code", []string{
			"tcp 192.168.200.100:443 rr persist=50s",
			"  192.168.201.100:443 masq w1: https://192.168.201.100:443//6s, https://192.168.201.100:443/mrtg//6s",
		}},
		{"virtual_server_group", []string{
			"group VSG_1 tcp rr persist=50s",
			"  192.168.200.1:1358 masq w1: http://192.168.200.1:1358/testurl3/test.jsp/6s",
			"  192.168.200.2:1358 masq w1: http://192.168.200.2:1358/testurl3/test.jsp/6s",
			"vsg VSG_1: tcp 10.0.0.1:8080, tcp 10.0.0.2:80, tcp 192.168.200.1:1358, tcp 192.168.200.3:80, tcp 192.168.200.4:80, tcp 192.168.200.5:80, tcp 192.168.200.6:80, tcp 192.168.200.7:80, tcp 192.168.200.8:80, tcp 192.168.200.9:80, tcp 192.168.200.10:80, fwmark 1, fwmark 2",
		}},
		{"virtualhost", []string{
			"tcp 192.168.200.100:80 rr persist=50s",
			"  192.168.201.100:80 masq w1: https://www.firewall.loc/ at 192.168.201.100:80/6s, https://www.firewall.loc/mrtg/ at 192.168.201.100:80/6s",
		}},
	} {
		t.Run(tc.sample, func(t *testing.T) {
			cfg, _ := loadSample(t, "keepalived.conf."+tc.sample, Options{})
			got := vsSummary(cfg)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestLoadVSSampleStatusCode(t *testing.T) {
	cfg, _ := loadSample(t, "keepalived.conf.status_code", Options{})
	rs := firstRS(t, cfg)
	if len(rs.Checks) != 2 {
		t.Fatalf("checks %+v", rs.Checks)
	}
	h1, h2 := rs.Checks[0].Checker.(*check.HTTP), rs.Checks[1].Checker.(*check.HTTP)
	want1 := []check.StatusRange{{Min: 200, Max: 299}, {Min: 400, Max: 499}, {Min: 503, Max: 503}, {Min: 505, Max: 505}}
	if !slices.Equal(h1.Status, want1) || h1.Digest != nil {
		t.Errorf("url 1: %+v", h1)
	}
	if !slices.Equal(h2.Status, []check.StatusRange{{Min: 200, Max: 200}}) || fmt.Sprintf("%x", h2.Digest) != "9b3a0c85a887a256d6939da88aabd8cd" {
		t.Errorf("url 2: %+v", h2)
	}
}

// vsBenchConf is 300 virtual servers of 100 real servers with
// TCP_CHECK each.
func vsBenchConf() fstest.MapFS {
	var sb strings.Builder
	for v := range 300 {
		fmt.Fprintf(&sb, "virtual_server 192.0.%d.%d 80 {\n delay_loop 6\n lb_algo wrr\n lb_kind DR\n protocol TCP\n", v/250, v%250+1)
		for r := range 100 {
			fmt.Fprintf(&sb, " real_server 10.%d.%d.%d 80 {\n  weight 2\n  TCP_CHECK {\n   connect_timeout 3\n   retry 2\n  }\n }\n", v/250, v%250, r+1)
		}
		sb.WriteString("}\n")
	}
	return fstest.MapFS{"k.conf": {Data: []byte(sb.String())}}
}

// BenchmarkLoadVirtualServers reads and loads vsBenchConf.
func BenchmarkLoadVirtualServers(b *testing.B) {
	fsys := vsBenchConf()
	b.ReportAllocs()
	for b.Loop() {
		tr, err := Read(fsys, "k.conf", Options{})
		if err != nil {
			b.Fatal(err)
		}
		cfg, errs := Load(tr, LoadOptions{LookupUser: fakeUsers})
		if len(errs) != 0 || len(cfg.VirtualServers) != 300 {
			b.Fatalf("%d virtual servers, %v", len(cfg.VirtualServers), errs)
		}
	}
}

// BenchmarkLoadOnlyVirtualServers loads vsBenchConf read once: Load
// (with Validate) alone.
func BenchmarkLoadOnlyVirtualServers(b *testing.B) {
	tr, err := Read(vsBenchConf(), "k.conf", Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		cfg, errs := Load(tr, LoadOptions{LookupUser: fakeUsers})
		if len(errs) != 0 || len(cfg.VirtualServers) != 300 {
			b.Fatalf("%d virtual servers, %v", len(cfg.VirtualServers), errs)
		}
	}
}
