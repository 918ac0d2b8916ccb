package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil"
)

// bgpRest are the objects the gates of TestLoadBGP name, after its bgp
// block (so that the block's line numbers are fixed).
const bgpRest = `vrrp_script chk {
 script "/bin/true"
}
vrrp_script chk2 {
 script "/bin/true"
}
vrrp_instance VI_1 {
 interface eth0
 virtual_router_id 51
 priority 100
 track_script {
  chk
  chk2
 }
 virtual_ipaddress {
  192.0.2.100
 }
}
virtual_server_group G {
 192.0.2.11 80
 192.0.2.12 80
}
virtual_server 192.0.2.10 80 {
 lb_algo rr
 lb_kind NAT
 protocol TCP
 real_server 198.51.100.1 80 {
 }
}
virtual_server group G {
 lb_algo rr
 lb_kind NAT
 protocol TCP
 real_server 198.51.100.2 80 {
 }
}
virtual_server fwmark 7 {
 lb_algo rr
 lb_kind NAT
 real_server 198.51.100.3 80 {
 }
}
`

// TestLoadBGP maps each keyword of the bgp block, one line at a time, in
// the speaker (line 4), the neighbor (line 7) or the vip (line 10), and
// checks the vigil.BGP and the diagnostics with their positions.
func TestLoadBGP(t *testing.T) {
	base := func() vigil.BGP {
		return vigil.BGP{ASN: 64513, RouterID: netip.MustParseAddr("192.0.2.1"),
			Peers: []vigil.BGPPeer{{Address: netip.MustParseAddr("192.0.2.254"), ASN: 64512}},
			VIPs:  []vigil.BGPVIP{{Prefix: netip.MustParsePrefix("203.0.113.10/32")}}}
	}
	type e = wantErr
	const sp, pe, vi = 4, 7, 10 // the line of each place
	for _, tc := range []struct {
		name  string
		where int
		line  string
		edit  func(b *vigil.BGP)
		errs  []e // col 0: computed from the word in msg's quotes
	}{
		{"nothing", sp, "", func(*vigil.BGP) {}, nil},
		{"listen_port", sp, "listen_port 1179", func(b *vigil.BGP) { b.ListenPort = 1179 }, nil},
		{"listen_port 0", sp, "listen_port 0", func(*vigil.BGP) {}, []e{{`invalid number "0" (1..65535)`, sp, 14}}},
		{"router_id v6", sp, "router_id 2001:db8::1", func(*vigil.BGP) {}, []e{{"2001:db8::1 is not an IPv4 address", sp, 12}}},
		{"router_id bad", sp, "router_id x", func(*vigil.BGP) {}, []e{{`invalid IP address "x"`, sp, 12}}},
		{"asn 4-byte", sp, "asn 4200000000", func(b *vigil.BGP) { b.ASN = 4200000000 }, nil},
		{"asn 0", sp, "asn 0", func(*vigil.BGP) {}, []e{{`invalid number "0" (1..4294967295)`, sp, 6}}},
		{"asn too big", sp, "asn 4294967296", func(*vigil.BGP) {}, []e{{`invalid number "4294967296"`, sp, 6}}},
		{"asn missing", sp, "asn", func(*vigil.BGP) {}, []e{{"asn: missing argument", sp, 2}}},
		{"graceful_restart", sp, "graceful_restart", func(b *vigil.BGP) { b.GracefulRestart.Enabled = true }, nil},
		{"graceful_restart secs", sp, "graceful_restart 60", func(b *vigil.BGP) {
			b.GracefulRestart = vigil.BGPGracefulRestart{Enabled: true, RestartTime: time.Minute}
		}, nil},
		{"graceful_restart too long", sp, "graceful_restart 4096", func(*vigil.BGP) {}, []e{{`invalid number "4096" (1..4095)`, sp, 19}}},
		{"drain_time", sp, "drain_time 2.5", func(b *vigil.BGP) { b.Drain.Time = 2500 * time.Millisecond }, nil},
		{"drain_time 0", sp, "drain_time 0", func(b *vigil.BGP) { b.Drain.Time = -1 }, nil},
		{"drain_time negative", sp, "drain_time -1", func(*vigil.BGP) {}, []e{{`invalid time "-1"`, sp, 13}}},
		{"drain_med", sp, "drain_med 500", func(b *vigil.BGP) { b.Drain.MED = 500 }, nil},
		{"unknown", sp, "asm 1", func(*vigil.BGP) {}, []e{{`bgp: unknown keyword "asm" ignored (did you mean "asn"?)`, sp, 2}}},
		{"second peer", sp, "neighbor 2001:db8::fe {\n remote_as 64512\n}", func(b *vigil.BGP) {
			b.Peers = append([]vigil.BGPPeer{{Address: netip.MustParseAddr("2001:db8::fe"), ASN: 64512}}, b.Peers...)
		}, nil},
		{"peer without remote_as", sp, "neighbor 192.0.2.253 {\n}", func(*vigil.BGP) {}, []e{{"neighbor 192.0.2.253: no remote_as: ignored", sp, 2}}},
		{"peer twice", sp, "neighbor 192.0.2.254 {\n remote_as 1\n}", func(b *vigil.BGP) {
			b.Peers = append([]vigil.BGPPeer{{Address: netip.MustParseAddr("192.0.2.254"), ASN: 1}}, b.Peers...)
		}, []e{{"bgp peer 192.0.2.254: Address: listed twice", 7, 2}}},
		{"second block", sp, "", func(*vigil.BGP) {}, nil},

		{"remote_as", pe, "remote_as 65000", func(b *vigil.BGP) { b.Peers[0].ASN = 65000 }, nil},
		{"password", pe, "password s3cret", func(b *vigil.BGP) { b.Peers[0].Password = "s3cret" }, nil},
		{"password with a space", pe, "password s3cret more", func(b *vigil.BGP) { b.Peers[0].Password = "s3cret" },
			[]e{{"password: extra argument ignored (not shown: part of a secret)", pe, 18}}},
		{"password too long", pe, "password " + strings.Repeat("x", 81), func(*vigil.BGP) {}, []e{{"password: 81 bytes, at most 80", pe, 11}}},
		{"hold_time", pe, "hold_time 9", func(b *vigil.BGP) { b.Peers[0].HoldTime = 9 * time.Second }, nil},
		{"hold_time 2", pe, "hold_time 2", func(*vigil.BGP) {}, []e{{`invalid number "2" (3..65535)`, pe, 12}}},
		{"keepalive", pe, "keepalive 3", func(b *vigil.BGP) { b.Peers[0].KeepaliveInterval = 3 * time.Second }, nil},
		{"keepalive not below hold", pe, "keepalive 90", func(b *vigil.BGP) { b.Peers[0].KeepaliveInterval = 90 * time.Second },
			[]e{{"bgp peer 192.0.2.254: KeepaliveInterval: 1m30s is not less than the hold time 1m30s", 5, 2}}},
		{"connect_retry", pe, "connect_retry 1", func(b *vigil.BGP) { b.Peers[0].ConnectRetry = time.Second }, nil},
		{"multihop", pe, "multihop", func(b *vigil.BGP) { b.Peers[0].Multihop = 255 }, nil},
		{"multihop ttl", pe, "multihop 2", func(b *vigil.BGP) { b.Peers[0].Multihop = 2 }, nil},
		{"multihop 0", pe, "multihop 0", func(b *vigil.BGP) { b.Peers[0].Multihop = 255 }, []e{{`invalid number "0" (1..255)`, pe, 11}}},
		{"local_address", pe, "local_address 192.0.2.1", func(b *vigil.BGP) { b.Peers[0].LocalAddress = netip.MustParseAddr("192.0.2.1") }, nil},
		{"local_address family", pe, "local_address 2001:db8::1", func(b *vigil.BGP) { b.Peers[0].LocalAddress = netip.MustParseAddr("2001:db8::1") },
			[]e{{"bgp peer 192.0.2.254: LocalAddress: 2001:db8::1 is not of the peer's family", 5, 2}}},
		{"port", pe, "port 1179", func(b *vigil.BGP) { b.Peers[0].Port = 1179 }, nil},
		{"passive needs listen_port", pe, "passive", func(b *vigil.BGP) { b.Peers[0].Passive = true },
			[]e{{"bgp peer 192.0.2.254: Passive: a passive peer needs ListenPort", 5, 2}}},
		{"passive with an argument", pe, "passive yes", func(b *vigil.BGP) { b.Peers[0].Passive = true }, []e{{`passive: extra argument "yes" ignored`, pe, 10}, {"Passive: a passive peer needs ListenPort", 5, 2}}},

		{"next_hop", vi, "next_hop 192.0.2.1", func(b *vigil.BGP) { b.VIPs[0].NextHop = netip.MustParseAddr("192.0.2.1") }, nil},
		{"community", vi, "community 64513:100 65535:65281", func(b *vigil.BGP) { b.VIPs[0].Communities = []vigil.BGPCommunity{64513<<16 | 100, 0xffffff01} }, nil},
		{"community bad", vi, "community 1:2 70000:1", func(b *vigil.BGP) { b.VIPs[0].Communities = []vigil.BGPCommunity{1<<16 | 2} },
			[]e{{`community: "70000:1" is not AS:VALUE`, vi, 16}}},
		{"large_community", vi, "large_community 4200000000:1:2", func(b *vigil.BGP) {
			b.VIPs[0].LargeCommunities = []vigil.BGPLargeCommunity{{ASN: 4200000000, Local1: 1, Local2: 2}}
		}, nil},
		{"large_community bad", vi, "large_community 1:2", func(*vigil.BGP) {}, []e{{`large_community: "1:2" is not ASN:V1:V2`, vi, 18}}},
		{"med", vi, "med 10", func(b *vigil.BGP) { b.VIPs[0].MED = 10 }, nil},
		{"local_pref", vi, "local_pref 200", func(b *vigil.BGP) { b.VIPs[0].LocalPref = 200 }, nil},
		{"instance", vi, "instance VI_1", func(b *vigil.BGP) { b.VIPs[0].Instance = "VI_1" }, nil},
		{"instance unknown", vi, "instance VI_9", func(b *vigil.BGP) { b.VIPs[0].Instance = "VI_9" },
			[]e{{`bgp vip 203.0.113.10/32: Instance: no instance named "VI_9"`, 9, 2}}},
		{"instance twice", vi, "instance VI_1\n instance VI_2", func(b *vigil.BGP) { b.VIPs[0].Instance = "VI_1" },
			[]e{{"the gate already follows instance VI_1: VI_2 ignored", vi + 1, 11}}},
		{"track", vi, "track chk chk2\n track chk", func(b *vigil.BGP) { b.VIPs[0].Trackers = []string{"chk", "chk2", "chk"} }, nil},
		{"track unknown", vi, "track nochk", func(b *vigil.BGP) { b.VIPs[0].Trackers = []string{"nochk"} },
			[]e{{`bgp vip 203.0.113.10/32: Trackers[0]: no tracker named "nochk"`, 9, 2}}},
		{"virtual_server", vi, "virtual_server 192.0.2.10 80", func(b *vigil.BGP) { b.VIPs[0].VirtualServers = []string{"tcp 192.0.2.10:80"} }, nil},
		{"virtual_server tcp", vi, "virtual_server 192.0.2.10 80 TCP", func(b *vigil.BGP) { b.VIPs[0].VirtualServers = []string{"tcp 192.0.2.10:80"} }, nil},
		{"virtual_server udp unknown", vi, "virtual_server 192.0.2.10 80 udp", func(b *vigil.BGP) { b.VIPs[0].VirtualServers = []string{"udp 192.0.2.10:80"} },
			[]e{{`VirtualServers[0]: no virtual server named "udp 192.0.2.10:80"`, 9, 2}}},
		{"virtual_server bad protocol", vi, "virtual_server 192.0.2.10 80 icmp", func(*vigil.BGP) {}, []e{{`"icmp" is not tcp, udp or sctp`, vi, 31}}},
		{"virtual_server bad port", vi, "virtual_server 192.0.2.10 x", func(*vigil.BGP) {}, []e{{`invalid number "x" (0..65535)`, vi, 28}}},
		{"virtual_server fwmark", vi, "virtual_server fwmark 7", func(b *vigil.BGP) { b.VIPs[0].VirtualServers = []string{"fwmark 7"} }, nil},
		{"virtual_server fwmark 0", vi, "virtual_server fwmark 0", func(*vigil.BGP) {}, []e{{`invalid fwmark "0"`, vi, 24}}},
		{"virtual_server group", vi, "virtual_server group G", func(b *vigil.BGP) {
			b.VIPs[0].VirtualServers = []string{"tcp 192.0.2.11:80", "tcp 192.0.2.12:80"}
		}, nil},
		{"virtual_server group unknown", vi, "virtual_server group H", func(b *vigil.BGP) { b.VIPs[0].VirtualServers = []string{"group H"} },
			[]e{{`no virtual server named "group H"`, 9, 2}}},
		{"vip host bits", sp, "vip 203.0.113.1/24 {\n}", func(b *vigil.BGP) {
			b.VIPs = append([]vigil.BGPVIP{{Prefix: netip.MustParsePrefix("203.0.113.1/24")}}, b.VIPs...)
		}, []e{{"bgp vip 203.0.113.1/24: Prefix: host bits set (did you mean 203.0.113.0/24?)", sp, 2}}},
		{"vip without block", sp, "vip 198.51.100.7", func(b *vigil.BGP) {
			b.VIPs = append([]vigil.BGPVIP{{Prefix: netip.MustParsePrefix("198.51.100.7/32")}}, b.VIPs...)
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := map[int]string{sp: "", pe: "", vi: ""}
			in[tc.where] = " " + tc.line
			text := "bgp {\n router_id 192.0.2.1\n asn 64513\n" + in[sp] + "\n neighbor 192.0.2.254 {\n  remote_as 64512\n" + in[pe] +
				"\n }\n vip 203.0.113.10/32 {\n" + in[vi] + "\n }\n}\n" + bgpRest
			if tc.name == "second block" {
				text += "bgp {\n}\n"
			}
			cfg, errs := loadString(t, text)
			want := base()
			tc.edit(&want)
			if cfg.BGP == nil {
				t.Fatalf("no BGP; errors %v", errs)
			}
			if !reflect.DeepEqual(*cfg.BGP, want) {
				t.Errorf("BGP\n%+v\nwant\n%+v", *cfg.BGP, want)
			}
			if tc.name == "second block" {
				checkErrs(t, errs, []e{{"bgp: second bgp block ignored", strings.Count(text, "\n") - 1, 1}})
				return
			}
			checkErrs(t, errs, tc.errs)
			if len(errs) != len(tc.errs) {
				t.Errorf("errors %v, want %d", errs, len(tc.errs))
			}
		})
	}
}

// TestLoadNoBGP: a file without a bgp block leaves Config.BGP nil.
func TestLoadNoBGP(t *testing.T) {
	cfg, errs := loadString(t, bgpRest)
	if cfg.BGP != nil || len(errs) != 0 {
		t.Errorf("BGP %+v, errors %v", cfg.BGP, errs)
	}
}

// TestLoadBGPKeepsScript: a vrrp_script only a vip tracks is kept (no
// instance tracks it, which would make keepalived drop it).
func TestLoadBGPKeepsScript(t *testing.T) {
	cfg, errs := loadString(t, "vrrp_script only_bgp {\n script \"/bin/true\"\n}\n"+
		"bgp {\n router_id 192.0.2.1\n asn 1\n neighbor 192.0.2.254 {\n  remote_as 2\n }\n vip 203.0.113.10 {\n  track only_bgp\n }\n}\n")
	checkErrs(t, errs, nil)
	if len(cfg.Trackers) != 1 || cfg.Trackers[0].Name != "only_bgp" {
		t.Errorf("Trackers %+v", cfg.Trackers)
	}
}
