package notify

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// The expected strings below follow keepalived's format strings, copied
// from its sources at 9cbce3e2 (v2.4.3-30):
//
//	vrrp_notify.c notify_fifo:      "%s \"%s\" %s %d\n"
//	ipwrapper.c notify_fifo_vs:     "VS %s %s\n"
//	ipwrapper.c notify_fifo_rs:     "RS %s %s %s\n"
//	check_data.c format_vs:         "[%s]:%d" (group), "FWM %u", inet_sockaddrtotrio
//	utils.c inet_sockaddrtotrio_r:  "[%s]:%s:%d"
//
// and from the examples of the reference inventory (§4.2) and
// doc/samples/sample_notify_fifo.sh.

func TestVRRPLines(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{InstanceLine("VI_1", Master, 100), "INSTANCE \"VI_1\" MASTER 100\n"},
		{InstanceLine("VI_1", Backup, 90), "INSTANCE \"VI_1\" BACKUP 90\n"},
		{InstanceLine("VI_1", Fault, 0), "INSTANCE \"VI_1\" FAULT 0\n"},
		{InstanceLine("VI_1", Stop, 255), "INSTANCE \"VI_1\" STOP 255\n"},
		{InstanceLine("VI_1", Deleted, 100), "INSTANCE \"VI_1\" DELETED 100\n"},
		{InstanceLine("VI_1", MasterRxLowerPri, 100), "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 100\n"},
		{InstanceLine("VI_1", MasterPriority, 90), "INSTANCE \"VI_1\" MASTER_PRIORITY 90\n"},
		{InstanceLine("VI_1", BackupPriority, 90), "INSTANCE \"VI_1\" BACKUP_PRIORITY 90\n"},
		{InstanceLine("VI_1", StateUnknown, 1), "INSTANCE \"VI_1\" {UNKNOWN} 1\n"},
		{InstanceLine("VI_1", State(42), 1), "INSTANCE \"VI_1\" {UNKNOWN} 1\n"},
		{InstanceLine("VI_1", State(-1), 1), "INSTANCE \"VI_1\" {UNKNOWN} 1\n"},
		// Names are written as they are.
		{InstanceLine(`a"b`, Master, 1), "INSTANCE \"a\"b\" MASTER 1\n"},
		{InstanceLine("", Master, 1), "INSTANCE \"\" MASTER 1\n"},
		{GroupLine("G1", Fault), "GROUP \"G1\" FAULT 0\n"},
		{GroupLine("G1", Backup), "GROUP \"G1\" BACKUP 0\n"},
		{GroupLine("G1", Master), "GROUP \"G1\" MASTER 0\n"},
		{GroupLine("G1", Stop), "GROUP \"G1\" STOP 0\n"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestScriptArgs(t *testing.T) {
	tests := []struct {
		got, want []string
	}{
		{InstanceArgs("VI_1", Master, 100), []string{"INSTANCE", "VI_1", "MASTER", "100"}},
		{InstanceArgs("VI_1", Backup, 50), []string{"INSTANCE", "VI_1", "BACKUP", "50"}},
		{InstanceArgs("VI_1", Fault, 0), []string{"INSTANCE", "VI_1", "FAULT", "0"}},
		{InstanceArgs("VI_1", Stop, 100), []string{"INSTANCE", "VI_1", "STOP", "100"}},
		{InstanceArgs("VI_1", Deleted, 100), []string{"INSTANCE", "VI_1", "DELETED", "100"}},
		// notify_script_exec's switch knows only the five states.
		{InstanceArgs("VI_1", MasterRxLowerPri, 100), []string{"INSTANCE", "VI_1", "{UNKNOWN}", "100"}},
		{InstanceArgs("VI_1", MasterPriority, 100), []string{"INSTANCE", "VI_1", "{UNKNOWN}", "100"}},
		{InstanceArgs("VI_1", StateUnknown, 100), []string{"INSTANCE", "VI_1", "{UNKNOWN}", "100"}},
		{InstanceArgs("name with space", Master, 1), []string{"INSTANCE", "name with space", "MASTER", "1"}},
		{GroupArgs("G1", Master), []string{"GROUP", "G1", "MASTER", "0"}},
		{GroupArgs("G1", Stop), []string{"GROUP", "G1", "STOP", "0"}},
	}
	for _, tt := range tests {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestLVSLines(t *testing.T) {
	v4 := Service{Addr: netip.MustParseAddr("192.168.201.15"), Port: 80, Protocol: 6}
	tests := []struct {
		name, got, want string
	}{
		{"vs up", VSLine(v4, true), "VS [192.168.201.15]:tcp:80 UP\n"},
		{"vs down", VSLine(v4, false), "VS [192.168.201.15]:tcp:80 DOWN\n"},
		{"rs down", RSLine(netip.MustParseAddrPort("1.2.3.4:80"), v4, false),
			"RS [1.2.3.4]:tcp:80 [192.168.201.15]:tcp:80 DOWN\n"},
		{"rs up other port", RSLine(netip.MustParseAddrPort("192.0.2.21:8080"), Service{Addr: netip.MustParseAddr("192.0.2.10"), Port: 80, Protocol: 6}, true),
			"RS [192.0.2.21]:tcp:8080 [192.0.2.10]:tcp:80 UP\n"},
		{"udp", VSLine(Service{Addr: netip.MustParseAddr("192.0.2.10"), Port: 53, Protocol: 17}, true), "VS [192.0.2.10]:udp:53 UP\n"},
		{"sctp", VSLine(Service{Addr: netip.MustParseAddr("192.0.2.10"), Port: 3868, Protocol: 132}, true), "VS [192.0.2.10]:sctp:3868 UP\n"},
		{"no protocol", VSLine(Service{Addr: netip.MustParseAddr("192.0.2.10")}, true), "VS [192.0.2.10]:none:0 UP\n"},
		{"odd protocol", VSLine(Service{Addr: netip.MustParseAddr("192.0.2.10"), Port: 1, Protocol: 47}, true), "VS [192.0.2.10]:?:1 UP\n"},
		{"fwmark", VSLine(Service{FWMark: 1}, false), "VS FWM 1 DOWN\n"},
		{"fwmark max", VSLine(Service{FWMark: 4294967295, Protocol: 6}, true), "VS FWM 4294967295 UP\n"},
		{"fwmark rs", RSLine(netip.MustParseAddrPort("192.0.2.21:80"), Service{FWMark: 7, Protocol: 6}, true),
			"RS [192.0.2.21]:tcp:80 FWM 7 UP\n"},
		{"fwmark rs no protocol", RSLine(netip.MustParseAddrPort("192.0.2.21:0"), Service{FWMark: 7}, false),
			"RS [192.0.2.21]:none:0 FWM 7 DOWN\n"},
		{"group", VSLine(Service{Group: "VSG_1"}, true), "VS [VSG_1]:0 UP\n"},
		// A group service's port is that of its unset address.
		{"group port", VSLine(Service{Group: "VSG_1", Port: 80, Protocol: 6, FWMark: 3}, true), "VS [VSG_1]:0 UP\n"},
		{"group rs", RSLine(netip.MustParseAddrPort("[2001:db8::21]:443"), Service{Group: "web", Protocol: 6}, false),
			"RS [2001:db8::21]:tcp:443 [web]:0 DOWN\n"},
		{"ipv6", VSLine(Service{Addr: netip.MustParseAddr("2001:db8::10"), Port: 80, Protocol: 6}, true), "VS [2001:db8::10]:tcp:80 UP\n"},
		{"ipv6 zone dropped", VSLine(Service{Addr: netip.MustParseAddr("fe80::1%eth0"), Port: 80, Protocol: 6}, true), "VS [fe80::1]:tcp:80 UP\n"},
		{"ipv6 rs", RSLine(netip.MustParseAddrPort("[2001:db8:0:1:0:0:0:1]:8080"), Service{Addr: netip.MustParseAddr("2001:db8::10"), Port: 80, Protocol: 6}, true),
			"RS [2001:db8:0:1::1]:tcp:8080 [2001:db8::10]:tcp:80 UP\n"},
		{"zero address", VSLine(Service{Port: 80, Protocol: 6}, true), "VS [(none)]:tcp:80 UP\n"},
		{"zero rs", RSLine(netip.AddrPort{}, v4, true), "RS [(none)]:tcp:0 [192.168.201.15]:tcp:80 UP\n"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

// TestNtop checks the IPv6 text against glibc's inet_ntop (the wanted
// strings are what Python's socket.inet_ntop, which calls it, returns).
func TestNtop(t *testing.T) {
	tests := map[string]string{
		"::1.2.3.4":            "::1.2.3.4",
		"::0.1.0.0":            "::0.1.0.0",
		"::102:304":            "::1.2.3.4",
		"2001:db8:0:1:1:1:1:1": "2001:db8:0:1:1:1:1:1",
		"2001:0:0:1:0:0:0:1":   "2001:0:0:1::1",
		"::ffff:1.2.3.4":       "::ffff:1.2.3.4",
		"::1":                  "::1",
		"::":                   "::",
		"::2":                  "::2",
		"1::":                  "1::",
		"2001:db8::":           "2001:db8::",
		"fe80::1:0:0:1":        "fe80::1:0:0:1",
		"::ffff:0:0":           "::ffff:0.0.0.0",
		"0:0:0:0:0:1:1.2.3.4":  "::1:102:304",
		"::1:2:3:4:5:6":        "::1:2:3:4:5:6",
		"2001:DB8::A":          "2001:db8::a",
		"192.0.2.1":            "192.0.2.1",
		"0.0.0.0":              "0.0.0.0",
		"2001:db8:0:0:1:0:0:1": "2001:db8::1:0:0:1",
		"1:0:0:2:0:0:0:3":      "1:0:0:2::3",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	}
	for in, want := range tests {
		if got := ntop(netip.MustParseAddr(in)); got != want {
			t.Errorf("ntop(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestServiceTruncated: format_vs formats into char[512] with a size of
// 511, so keepalived's text stops at 510 bytes.
func TestServiceTruncated(t *testing.T) {
	name := strings.Repeat("g", 600)
	got := Service{Group: name}.String()
	want := ("[" + name + "]:0")[:510]
	if got != want {
		t.Errorf("got %d bytes, want %d", len(got), len(want))
	}
	if got := (Service{Group: strings.Repeat("g", 506)}).String(); len(got) != 510 || !strings.HasSuffix(got, "g]:0") {
		t.Errorf("a 506-byte name: got ...%q", got[len(got)-5:])
	}
	if got := (Service{Group: strings.Repeat("g", 507)}).String(); len(got) != 510 || !strings.HasSuffix(got, "g]:") {
		t.Errorf("a 507-byte name: got ...%q", got[len(got)-5:])
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{
		StateUnknown: "{UNKNOWN}", Master: "MASTER", Backup: "BACKUP", Fault: "FAULT",
		Stop: "STOP", Deleted: "DELETED", MasterRxLowerPri: "MASTER_RX_LOWER_PRI",
		MasterPriority: "MASTER_PRIORITY", BackupPriority: "BACKUP_PRIORITY",
	} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", int(s), s.String(), want)
		}
	}
}
