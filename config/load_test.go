package config

import (
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vrrp"
)

// fakeUsers resolves any user to uid 1000 and records nothing: tests
// do not depend on the host's users.
func fakeUsers(name, group string, supp bool) (*notify.User, error) {
	return &notify.User{UID: 1000, GID: 1000}, nil
}

func loadSample(t *testing.T, name string, opts Options) (vigil.Config, []*Error) {
	t.Helper()
	cfg, warns, err := LoadFile(filepath.Join("testdata", "samples", name), LoadOptions{Read: opts, LookupUser: fakeUsers})
	if err != nil {
		t.Fatalf("LoadFile(%s): %v", name, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return cfg, warns
}

func loadString(t *testing.T, text string) (vigil.Config, ErrorList) {
	t.Helper()
	tr, err := Read(fstest.MapFS{"k.conf": {Data: []byte(text)}}, "k.conf", Options{})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return Load(tr, LoadOptions{LookupUser: fakeUsers})
}

func instance(t *testing.T, cfg vigil.Config, name string) vigil.Instance {
	t.Helper()
	for _, in := range cfg.Instances {
		if in.VRRP.Name == name {
			return in
		}
	}
	t.Fatalf("no instance %s in %v", name, names(cfg))
	return vigil.Instance{}
}

func names(cfg vigil.Config) []string {
	var n []string
	for _, in := range cfg.Instances {
		n = append(n, in.VRRP.Name)
	}
	return n
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func hasMsg(errs []*Error, sub string) *Error {
	for _, e := range errs {
		if strings.Contains(e.Error(), sub) {
			return e
		}
	}
	return nil
}

func TestLoadSampleVRRP(t *testing.T) {
	cfg, warns := loadSample(t, "keepalived.conf.vrrp", Options{})
	if got, want := names(cfg), []string{"VI_1", "VI_2", "VI_3", "VI_4"}; !slices.Equal(got, want) {
		t.Fatalf("instances %v, want %v", got, want)
	}
	if cfg.Global.RouterID != "LVS_DEVEL" {
		t.Errorf("RouterID %q", cfg.Global.RouterID)
	}
	vi1 := instance(t, cfg, "VI_1")
	if v := vi1.VRRP; v.VRID != 51 || v.Priority != 100 || v.InitialState != vrrp.Master ||
		v.Interval != time.Second || v.Version != vrrp.V2 || v.AuthType != vrrp.AuthSimple || v.AuthPass != "1111" {
		t.Errorf("VI_1 = %+v", v)
	}
	if vi1.Interface != "eth0" || vi1.Label != "eth0:1" || vi1.GARP.SecondDelay != 10*time.Second {
		t.Errorf("VI_1 interface %q label %q GARP %+v", vi1.Interface, vi1.Label, vi1.GARP)
	}
	if want := prefixes("192.168.200.16/32", "192.168.200.17/32", "192.168.200.18/32"); !slices.Equal(vi1.VRRP.VIPs, want) {
		t.Errorf("VI_1 VIPs %v, want %v", vi1.VRRP.VIPs, want)
	}
	vi2 := instance(t, cfg, "VI_2")
	if v := vi2.VRRP; v.VRID != 50 || v.Priority != 50 || v.InitialState != vrrp.Backup || v.AuthType != vrrp.AuthNone {
		t.Errorf("VI_2 = %+v", v)
	}
	for _, sub := range []string{
		"notification_email", "smtp_alert ignored: not supported", "192.168.200.18 given twice",
	} {
		if hasMsg(warns, sub) == nil {
			t.Errorf("no warning %q in %v", sub, warns)
		}
	}
	if e := hasMsg(warns, "given twice"); e != nil && (e.Pos.Line != 32 || e.Severity != SeverityWarning) {
		t.Errorf("duplicate VIP warning at %v (%v), want line 32", e.Pos, e.Severity)
	}
}

func TestLoadSampleSync(t *testing.T) {
	cfg, _ := loadSample(t, "keepalived.conf.vrrp.sync", Options{})
	if len(cfg.Instances) != 9 || len(cfg.SyncGroups) != 2 {
		t.Fatalf("%d instances, %d sync groups", len(cfg.Instances), len(cfg.SyncGroups))
	}
	g1, g2 := cfg.SyncGroups[0], cfg.SyncGroups[1]
	if g1.Name != "G1" || !slices.Equal(g1.Members, []string{"VI_1", "VI_2", "VI_5", "VI_6", "VI_7", "VI_8", "VI_9"}) {
		t.Errorf("G1 = %v %v", g1.Name, g1.Members)
	}
	if g2.Name != "G2" || !slices.Equal(g2.Members, []string{"VI_3", "VI_4"}) {
		t.Errorf("G2 = %v %v", g2.Name, g2.Members)
	}
	if g1.Notify.Master == nil || !slices.Equal(g1.Notify.Master.Args, []string{"/usr/local/bin/vrrp.mast", "arg1", "arg2"}) {
		t.Errorf("G1 notify_master %+v", g1.Notify.Master)
	}
	if g1.Notify.Backup == nil || g1.Notify.Fault == nil || g1.Notify.Any != nil {
		t.Errorf("G1 notify %+v", g1.Notify)
	}
	vi4 := instance(t, cfg, "VI_4")
	if vi4.VRRP.VRID != 54 || vi4.Interface != "eth1" || !slices.Equal(vi4.VRRP.VIPs, prefixes("192.168.201.19/28")) {
		t.Errorf("VI_4 = %+v", vi4)
	}
}

func TestLoadSampleScripts(t *testing.T) {
	cfg, _ := loadSample(t, "keepalived.conf.vrrp.scripts", Options{})
	vi1 := instance(t, cfg, "VI_1")
	if n := vi1.Notify.Backup; n == nil || !slices.Equal(n.Args, []string{"/usr/local/bin/vrrp.sh", "BACKUP", "VI_1"}) || n.User != nil {
		t.Errorf("VI_1 notify_backup %+v", n)
	}
	if vi2 := instance(t, cfg, "VI_2"); vi2.VRRP.Priority != 150 || !slices.Equal(vi2.VRRP.VIPs, prefixes("192.168.200.100/27")) {
		t.Errorf("VI_2 = %+v", vi2.VRRP)
	}
	if len(cfg.SyncGroups) != 1 || !slices.Equal(cfg.SyncGroups[0].Members, []string{"VI_2", "VI_3"}) {
		t.Errorf("sync groups %+v", cfg.SyncGroups)
	}
}

func TestLoadSampleTrackInterface(t *testing.T) {
	cfg, warns := loadSample(t, "keepalived.conf.track_interface", Options{})
	vi1 := instance(t, cfg, "VI_1")
	if vi1.Interface != "eth0.1" || vi1.VRRP.Priority != 100 {
		t.Errorf("VI_1 = %q %+v", vi1.Interface, vi1.VRRP)
	}
	if want := []vigil.TrackInterface{{Interface: "eth0"}, {Interface: "eth1"}}; !slices.Equal(vi1.TrackInterfaces, want) {
		t.Errorf("track_interface %+v, want %+v", vi1.TrackInterfaces, want)
	}
	// VIPs on other interfaces (dev eth1, dev eth2) are not supported.
	if !slices.Equal(vi1.VRRP.VIPs, prefixes("192.168.200.16/32")) {
		t.Errorf("VIPs %v", vi1.VRRP.VIPs)
	}
	if hasMsg(warns, "dev eth1) not supported") == nil {
		t.Errorf("no dev warning in %v", warns)
	}
	gw := netip.MustParseAddr("192.168.200.254")
	wantStatic := []netlink.Route{
		{Dst: netip.MustParsePrefix("192.168.210.0/24"), Gw: gw, Interface: "eth0"},
		{Dst: netip.MustParsePrefix("192.168.211.0/24"), Gw: gw, Interface: "eth0"},
		{Dst: netip.MustParsePrefix("192.168.212.0/24"), Interface: "eth3"},
		{Dst: netip.MustParsePrefix("192.168.213.0/24"), Interface: "eth1"},
	}
	if !slices.EqualFunc(cfg.Static.Routes, wantStatic, netlink.Route.Equal) {
		t.Errorf("static routes %v, want %v", cfg.Static.Routes, wantStatic)
	}
	wantVirtual := []netlink.Route{
		{Dst: netip.MustParsePrefix("192.168.110.0/24"), Gw: gw, Interface: "eth1"},
		{Dst: netip.MustParsePrefix("192.168.111.0/24"), Interface: "eth2"},
		{Dst: netip.MustParsePrefix("192.168.112.0/24"), Gw: netip.MustParseAddr("192.168.100.254")},
	}
	if !slices.EqualFunc(vi1.Routes, wantVirtual, netlink.Route.Equal) {
		t.Errorf("virtual routes %v, want %v", vi1.Routes, wantVirtual)
	}
}

func TestLoadSampleStatic(t *testing.T) {
	cfg, warns := loadSample(t, "keepalived.conf.vrrp.static_ipaddress", Options{})
	link := netlink.AddrOptions{Scope: netlink.ScopeLink}
	want := []vigil.StaticAddress{
		{Interface: "eth0", Prefix: netip.MustParsePrefix("192.168.200.16/32"), Options: link},
		{Interface: "eth1", Prefix: netip.MustParsePrefix("192.168.200.17/32"), Options: link},
		{Interface: "eth2", Prefix: netip.MustParsePrefix("192.168.200.18/32")},
	}
	if !slices.Equal(cfg.Static.Addresses, want) {
		t.Errorf("static %+v, want %+v", cfg.Static.Addresses, want)
	}
	if e := hasMsg(warns, "scope"); e != nil {
		t.Errorf("scope warning %v", e)
	}
	if vi1 := instance(t, cfg, "VI_1"); !slices.Equal(vi1.VRRP.VIPs, prefixes("192.168.200.20/32")) {
		t.Errorf("VIPs %v", vi1.VRRP.VIPs)
	}
}

func TestLoadSampleIPv6(t *testing.T) {
	cfg, _ := loadSample(t, "keepalived.conf.IPv6", Options{})
	if len(cfg.Instances) != 0 || len(cfg.VirtualServers) != 1 || len(cfg.VirtualServerGroups) != 1 {
		t.Fatalf("instances %v, virtual servers %v, groups %v", cfg.Instances, cfg.VirtualServers, cfg.VirtualServerGroups)
	}
	// The virtual server is checked with the other samples' in
	// TestLoadVSSamples; the group is used by none.
	if g := cfg.VirtualServerGroups[0]; g.Name != "IPv6_group" || len(g.Services) != 9 {
		t.Errorf("group %+v", g)
	}
}

func TestLoadSampleConditional(t *testing.T) {
	for _, tc := range []struct {
		id     string
		prio   uint8
		script string
	}{{"high", 170, "/etc/keepalived/scripts/check_high_VI_0.sh"}, {"low", 85, "/etc/keepalived/scripts/check_low_VI_0.sh"}} {
		t.Run(tc.id, func(t *testing.T) {
			cfg, _ := loadSample(t, "keepalived.conf.conditional_conf", Options{ConfigID: tc.id})
			vi0 := instance(t, cfg, "VI_0")
			v := vi0.VRRP
			if v.VRID != 1 || v.Priority != tc.prio || v.Version != vrrp.V3 || v.Interval != 12*time.Second ||
				v.InitialState != vrrp.Backup || !vi0.UseVMAC || !slices.Equal(v.VIPs, prefixes("10.1.0.254/32")) {
				t.Errorf("VI_0 = %+v vmac %v", v, vi0.UseVMAC)
			}
			if want := []vigil.Track{{Tracker: "check_VI_0"}}; !slices.Equal(vi0.Track, want) {
				t.Errorf("track %+v", vi0.Track)
			}
			if want := []vigil.TrackInterface{{Interface: "eth3"}, {Interface: "eth2", Weight: 20}}; !slices.Equal(vi0.TrackInterfaces, want) {
				t.Errorf("track_interface %+v", vi0.TrackInterfaces)
			}
			if len(cfg.Trackers) != 1 {
				t.Fatalf("trackers %+v", cfg.Trackers)
			}
			tr := cfg.Trackers[0]
			ex, _ := tr.Check.Checker.(*check.Exec)
			if tr.Name != "check_VI_0" || ex == nil || ex.Path != tc.script || tr.Weight != 0 {
				t.Errorf("tracker %+v %+v", tr, ex)
			}
			if p := tr.Check.Policy; p.Interval != time.Second || p.Timeout != 10*time.Second || p.Rise != 3 || p.Fall != 3 {
				t.Errorf("policy %+v", p)
			}
		})
	}
}

func TestLoadDefaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		check func(t *testing.T, cfg vigil.Config)
	}{
		{"priority 100, BACKUP, v2, 1 s", "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1/24\n }\n}\n",
			func(t *testing.T, cfg vigil.Config) {
				v := cfg.Instances[0].VRRP
				if v.Priority != 100 || v.InitialState != vrrp.Backup || v.Version != vrrp.V2 || v.Interval != time.Second || v.NoPreempt {
					t.Errorf("%+v", v)
				}
			}},
		{"state MASTER without priority is 255", "vrrp_instance A {\n state MASTER\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n",
			func(t *testing.T, cfg vigil.Config) {
				if v := cfg.Instances[0].VRRP; v.Priority != 255 || v.InitialState != vrrp.Master {
					t.Errorf("%+v", v)
				}
			}},
		{"priority 255 without state is MASTER", "vrrp_instance A {\n priority 255\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n",
			func(t *testing.T, cfg vigil.Config) {
				if v := cfg.Instances[0].VRRP; v.Priority != 255 || v.InitialState != vrrp.Master {
					t.Errorf("%+v", v)
				}
			}},
		{"IPv6 is version 3, vrrp_version 3 global", "global_defs {\n vrrp_version 3\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n advert_int 0.5\n virtual_ipaddress {\n fe80::1/64\n }\n}\nvrrp_instance B {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n",
			func(t *testing.T, cfg vigil.Config) {
				a, b := cfg.Instances[0].VRRP, cfg.Instances[1].VRRP
				if a.Version != vrrp.V3 || a.Interval != 500*time.Millisecond || a.VIPs[0] != netip.MustParsePrefix("fe80::1/64") || b.Version != vrrp.V3 {
					t.Errorf("%+v %+v", a, b)
				}
			}},
		{"vrrp_script, track_file, track_process defaults and weights", `
vrrp_script s {
  script "/bin/check 'a b' c" root
}
vrrp_script t {
  script /bin/t
  interval 2
  weight -20 reverse
  init_fail
  user nobody :nogroup
}
track_file f {
  file /run/f
}
vrrp_track_process p {
  process haproxy -f x
  quorum_max 0
  delay 1.5
}
vrrp_instance A {
  interface eth0
  virtual_router_id 1
  nopreempt
  preempt_delay 2.5
  unicast_src_ip 192.0.2.2
  unicast_peer {
    192.0.2.3
  }
  virtual_ipaddress {
    192.0.2.1
  }
  track_script {
    s
    t weight 10
  }
  track_file {
    f weight -3 reverse
  }
  track_process {
    p
  }
  notify_master "/bin/n 'x y'" alice :adm
  notify /bin/any
  notify_deleted
}
`, func(t *testing.T, cfg vigil.Config) {
			if len(cfg.Trackers) != 4 {
				t.Fatalf("trackers %+v", cfg.Trackers)
			}
			s, tt, f, p := cfg.Trackers[0], cfg.Trackers[1], cfg.Trackers[2], cfg.Trackers[3]
			if ex := s.Check.Checker.(*check.Exec); ex.Path != "/bin/check" || !slices.Equal(ex.Args, []string{"a b", "c"}) ||
				s.Check.Policy.Interval != time.Second || s.Check.Policy.Timeout != time.Second || s.Weight != 0 {
				t.Errorf("s = %+v %+v", s, ex)
			}
			if ex := tt.Check.Checker.(*check.Exec); ex.User != "nobody" || ex.Group != "nogroup" || tt.Weight != -20 || !tt.Reverse ||
				!tt.Check.Policy.Alpha || tt.Check.Policy.Interval != 2*time.Second || tt.Check.Policy.Timeout != 2*time.Second {
				t.Errorf("t = %+v %+v", tt, ex)
			}
			if f.Weight != 1 || f.File.Path != "/run/f" {
				t.Errorf("f = %+v", f)
			}
			if sp := p.Process; sp.Process != "haproxy" || !slices.Equal(sp.Params, []string{"-f", "x"}) || sp.QuorumMax != -1 ||
				sp.Quorum != -1 || sp.ForkDelay != 1500*time.Millisecond || sp.TerminateDelay != 1500*time.Millisecond {
				t.Errorf("p = %+v", sp)
			}
			in := cfg.Instances[0]
			want := []vigil.Track{{Tracker: "s"}, {Tracker: "t", Weight: 10, WeightSet: true}, {Tracker: "f", Weight: -3, Reverse: true, WeightSet: true}, {Tracker: "p"}}
			if !slices.Equal(in.Track, want) {
				t.Errorf("track %+v, want %+v", in.Track, want)
			}
			if v := in.VRRP; !v.NoPreempt || v.PreemptDelay != 2500*time.Millisecond || !slices.Equal(v.Peers, []netip.Addr{netip.MustParseAddr("192.0.2.3")}) ||
				in.UnicastSrc != netip.MustParseAddr("192.0.2.2") {
				t.Errorf("A = %+v", in)
			}
			if n := in.Notify.Master; n == nil || !slices.Equal(n.Args, []string{"/bin/n", "x y"}) || n.User == nil || n.User.UID != 1000 {
				t.Errorf("notify_master %+v", n)
			}
			if in.Notify.Any == nil || !in.Notify.SendDeleted || in.Notify.Deleted != nil {
				t.Errorf("notify %+v", in.Notify)
			}
		}},
		{"global GARP and FIFOs", `
global_defs {
  vrrp_garp_master_delay 0
  vrrp_garp_master_repeat 3
  vrrp_garp_interval 0.001
  vrrp_notify_fifo /run/fifo
  vrrp_notify_fifo_script /bin/reader
  script_user keepalived_script
  enable_script_security
  vrrp_notify_priority_changes
}
vrrp_instance A {
  interface eth0
  virtual_router_id 1
  garp_master_refresh 60
  virtual_ipaddress {
    192.0.2.1
  }
}
vrrp_instance B {
  interface eth0
  virtual_router_id 2
  virtual_ipaddress {
    192.0.2.2
  }
}
`, func(t *testing.T, cfg vigil.Config) {
			g := cfg.Global
			if g.GARP.SecondDelay != -1 || g.GARP.Repeat != 3 || g.GARP.Interval != time.Millisecond {
				t.Errorf("global GARP %+v", g.GARP)
			}
			if a := cfg.Instances[0].GARP; a.SecondDelay != -1 || a.Repeat != 3 || a.RefreshInterval != time.Minute {
				t.Errorf("A GARP %+v", a)
			}
			if b := cfg.Instances[1].GARP; b != (netlink.AnnounceTiming{}) {
				t.Errorf("B GARP %+v (the zero value takes the global one)", b)
			}
			if f := g.VRRPNotifyFIFO; f == nil || f.Path != "/run/fifo" || f.Script == nil || f.Script.Args[0] != "/bin/reader" {
				t.Errorf("FIFO %+v", f)
			}
			if g.ScriptUser == nil || !g.ScriptSecurity.Enabled || !g.NotifyPriorityChanges || g.NotifyFIFO != nil {
				t.Errorf("global %+v", g)
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

func TestLoadErrors(t *testing.T) {
	const inst = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n"
	for _, tc := range []struct {
		name      string
		text      string
		line, col int
		sev       Severity
		msg       string
	}{
		{"bad priority", inst + " priority 300\n}\n", 7, 11, SeverityError, `priority: invalid number "300" (1..255)`},
		{"priority 0", inst + "   priority 0\n}\n", 7, 13, SeverityError, `invalid number "0"`},
		{"priority missing argument", inst + " priority\n}\n", 7, 2, SeverityFatal, "priority: missing argument"},
		{"priority extra argument", inst + " priority 10 20\n}\n", 7, 14, SeverityError, `extra argument "20"`},
		{"unknown keyword", inst + " priorty 10\n}\n", 7, 2, SeverityWarning, `unknown keyword "priorty" ignored (did you mean "priority"?)`},
		{"unknown keyword with block", inst + " foo {\n bar\n }\n}\n", 7, 2, SeverityWarning, `unknown keyword "foo" ignored with its block`},
		{"no VRID", "vrrp_instance A {\n interface eth0\n}\n", 1, 1, SeverityFatal, "virtual_router_id missing"},
		{"bad VIP", inst + " virtual_ipaddress {\n 192.0.2.300\n }\n}\n", 8, 2, SeverityError, `invalid address "192.0.2.300"`},
		{"VIP option", "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1 scope lnk\n }\n}\n", 5, 18, SeverityError, `invalid scope "lnk"`},
		{"bad state", inst + " state SLAVE\n}\n", 7, 8, SeverityError, `"SLAVE" is not MASTER or BACKUP`},
		{"undefined script", inst + " track_script {\n nope\n }\n}\n", 8, 2, SeverityError, "vrrp_script nope is not defined"},
		{"script weight range", "vrrp_script s {\n script /bin/s\n weight 300\n}\n" + inst + " track_script {\n s\n }\n}\n", 3, 9, SeverityError, `invalid number "300" (-253..253)`},
		{"unused script", "vrrp_script s {\n script /bin/s\n}\n", 1, 1, SeverityWarning, "vrrp_script s is not used"},
		{"unmatched quote in a script", inst + " notify_master \"/bin/x 'a\"\n}\n", 7, 16, SeverityError, "notify_master: invalid script"},
		{"virtual_server", "virtual_server 192.0.2.1 80 {\n delay_loop 6\n}\n", 1, 1, SeverityWarning, "virtual_server 192.0.2.1 80 has no real servers: ignored"},
		{"sync group unknown member", inst + "}\nvrrp_sync_group G {\n group {\n A\n B\n }\n}\n", 11, 2, SeverityError, "no vrrp_instance B"},
		{"Validate at the instance", inst + "}\nvrrp_instance B {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.2\n }\n}\n", 8, 1, SeverityFatal, "instance B: VRRP.VRID: VRID 1 on eth0"},
		{"v3 without VIPs", "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n version 3\n}\n", 1, 1, SeverityFatal, "no virtual_ipaddress with VRRP version 3"},
		{"vrrp_garp_interval 0", "global_defs {\n vrrp_garp_interval 0\n}\n", 2, 21, SeverityError, "vrrp_garp_interval 0: keepalived rejects it too"},
		{"block where none belongs", inst + " priority 10 {\n }\n}\n", 7, 14, SeverityError, "priority takes no block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := loadString(t, tc.text)
			e := hasMsg(errs, tc.msg)
			if e == nil {
				t.Fatalf("no %q in\n%v", tc.msg, errs)
			}
			if e.Pos.Line != tc.line || e.Pos.Col != tc.col || e.Severity != tc.sev || e.Pos.File != "k.conf" {
				t.Errorf("%v: at %d:%d %v, want %d:%d %v", e, e.Pos.Line, e.Pos.Col, e.Severity, tc.line, tc.col, tc.sev)
			}
		})
	}
}

func TestLoadSampleLocalcheck(t *testing.T) {
	cfg, _ := loadSample(t, "keepalived.conf.vrrp.localcheck", Options{})
	byName := map[string]vigil.Tracker{}
	for _, tr := range cfg.Trackers {
		byName[tr.Name] = tr
	}
	tr, ok := byName["chk_http_port"]
	if !ok {
		t.Fatalf("no chk_http_port in %+v", cfg.Trackers)
	}
	ex := tr.Check.Checker.(*check.Exec)
	if ex.Path != "/bin/sh" || !slices.Equal(ex.Args, []string{"-c", "</dev/tcp/127.0.0.1/80"}) || tr.Weight != -2 ||
		tr.Check.Policy.Interval != time.Second || tr.Check.Policy.Timeout != time.Second {
		t.Errorf("chk_http_port = %+v %+v", tr, ex)
	}
	if in := cfg.Instances[0]; len(in.Track) != 5 || in.Track[1] != (vigil.Track{Tracker: "chk_haproxy", Weight: 2, WeightSet: true}) {
		t.Errorf("%s tracks %+v", in.VRRP.Name, in.Track)
	}
	for _, in := range cfg.Instances {
		for _, tk := range in.Track {
			if _, ok := byName[tk.Tracker]; !ok {
				t.Errorf("instance %s tracks missing %s", in.VRRP.Name, tk.Tracker)
			}
		}
	}
}

func TestLoadValidateUnnamed(t *testing.T) {
	_, errs := loadString(t, "global_defs {\n default_interface \"\"\n}\nstatic_ipaddress {\n 192.0.2.1\n}\n")
	e := hasMsg(errs, "static address #0: Interface: empty")
	if e == nil || e.Pos.Line != 5 || e.Severity != SeverityFatal {
		t.Errorf("got %v in %v", e, errs)
	}
}

// An auth_pass with a space in it (two words: keepalived takes the first)
// gets the extra-argument error without the word: the message goes to
// logs, and the word is part of the secret.
func TestExtraArgumentOfSecretNotQuoted(t *testing.T) {
	cfg, errs := loadString(t, "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n"+
		" authentication {\n  auth_type PASS\n  auth_pass 1111 tailword\n }\n virtual_ipaddress {\n  192.0.2.100/24\n }\n}\n")
	if got := instance(t, cfg, "VI_1").VRRP.AuthPass; got != "1111" {
		t.Errorf("auth_pass %q, want the first word", got)
	}
	found := false
	for _, e := range errs {
		if strings.Contains(e.Msg, "tailword") {
			t.Errorf("a message quotes part of the secret: %v", e)
		}
		if strings.Contains(e.Msg, "auth_pass: extra argument ignored") && e.Pos.Line == 7 {
			found = true
		}
	}
	if !found {
		t.Errorf("no extra-argument error at line 7: %v", errs)
	}
}
