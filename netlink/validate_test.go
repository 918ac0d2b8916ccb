package netlink

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// TestValidate: every invalid field is reported at once, each as a
// *FieldError wrapping ErrInvalid that names the object and the field.
func TestValidate(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	for _, c := range []struct {
		name string
		err  error
		want []string
	}{
		{"addr", AddrConfig{
			Routes: []Route{{Dst: p("198.51.100.0/24"), Gw: a("2001:db8::1"), Table: -1}},
			Rules:  []Rule{{Table: 0}}}.Validate(), []string{
			"netlink: address manager: Interface: empty, want an interface name",
			"netlink: address manager: route 198.51.100.0/24 via 2001:db8::1 table -1: Gw: 2001:db8::1 is not of Dst's address family",
			"netlink: address manager: route 198.51.100.0/24 via 2001:db8::1 table -1: Table: -1 is negative",
			"netlink: address manager: rule from all lookup 0: From: neither From nor To is set",
			"netlink: address manager: rule from all lookup 0: Table: 0, want a table (1 or more)",
		}},
		{"addr label", AddrConfig{Interface: "eth0", Label: "eth0:a-very-long"}.Validate(), []string{
			`netlink: address manager on eth0: Label: "eth0:a-very-long" must start with the interface name "eth0" and be at most 15 bytes`,
		}},
		{"announcer", AnnouncerConfig{Interface: "eth0", MAC: net.HardwareAddr{1, 2},
			Timing: AnnounceTiming{Repeat: -1, Interval: -1, SecondDelay: -1}}.Validate(), []string{
			"netlink: announcer on eth0: MAC: 01:02 is not an Ethernet MAC (6 bytes)",
		}},
		{"watcher", WatcherConfig{Interface: "a-name-of-16-byt", ReceiveBufferSize: -1}.Validate(), []string{
			`netlink: watcher: Interface: "a-name-of-16-byt" is longer than 15 bytes`,
		}},
		{"vmac", VMACConfig{}.Validate(), []string{
			"netlink: vmac vrrp.0: Parent: empty, want an interface name",
			"netlink: vmac vrrp.0: VRID: 0, want 1..255",
		}},
	} {
		if c.err == nil {
			t.Errorf("%s: valid, want %d errors", c.name, len(c.want))
			continue
		}
		if got := strings.Split(c.err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
		var fe *FieldError
		if !errors.Is(c.err, ErrInvalid) || !errors.As(c.err, &fe) {
			t.Errorf("%s: %v is not a *FieldError wrapping ErrInvalid", c.name, c.err)
		}
	}
	for _, c := range []interface{ Validate() error }{
		AddrConfig{Interface: "eth0", Label: "eth0:vip", Routes: []Route{{Dst: p("198.51.100.0/24"), Gw: a("192.0.2.1")}},
			Rules: []Rule{{From: p("192.0.2.100/32"), Table: 100}}},
		AnnouncerConfig{Interface: "eth0", Timing: AnnounceTiming{SecondDelay: -1}},
		WatcherConfig{}, WatcherConfig{ResyncInterval: -1},
		VMACConfig{Parent: "eth0", VRID: 1},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// TestSentinels: every sentinel's text starts with the package name.
func TestSentinels(t *testing.T) {
	for _, err := range []error{ErrInvalid, ErrClosed, ErrRan, ErrNoInterface, ErrVMACConflict} {
		if !strings.HasPrefix(err.Error(), "netlink: ") {
			t.Errorf("%q does not start with \"netlink: \"", err)
		}
	}
}
