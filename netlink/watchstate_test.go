package netlink

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func kinds(evs []Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.String())
	}
	return out
}

func checkEvents(t *testing.T, got []Event, want ...string) {
	t.Helper()
	if g := kinds(got); !slices.Equal(g, want) {
		t.Errorf("events\n got %q\nwant %q", g, want)
	}
}

func key(i int, p string) addrKey { return addrKey{index: i, prefix: netip.MustParsePrefix(p)} }

// TestWatchStateSync: a listing against the previous view yields exactly
// the differences, in a stable order, then Synced.
func TestWatchStateSync(t *testing.T) {
	s := newWatchState("")
	evs := s.sync(
		[]snapIface{{1, "lo", true}, {2, "eth0", true}},
		[]snapAddr{{key(2, "192.0.2.1/24"), FlagPermanent}, {key(2, "2001:db8::1/64"), FlagPermanent | FlagNoDAD}})
	checkEvents(t, evs,
		"interface-added lo(1) up=true (sync)", "interface-added eth0(2) up=true (sync)",
		"addr-added eth0(2) 192.0.2.1/24 [permanent] (sync)",
		"addr-added eth0(2) 2001:db8::1/64 [nodad|permanent] (sync)", "synced (sync)")

	// The same listing again: nothing changed.
	evs = s.sync([]snapIface{{1, "lo", true}, {2, "eth0", true}},
		[]snapAddr{{key(2, "192.0.2.1/24"), FlagPermanent}, {key(2, "2001:db8::1/64"), FlagPermanent | FlagNoDAD}})
	checkEvents(t, evs, "synced (sync)")

	// While unsubscribed: eth0 went down, one address went, one came with
	// DAD failed, and a link appeared and another vanished.
	s.iface(nil, 3, "eth1", true, true, false)
	s.addr(nil, key(3, "198.51.100.1/24"), "eth1", 0, true, false)
	evs = s.sync([]snapIface{{1, "lo", true}, {2, "eth0", false}, {4, "eth2", false}},
		[]snapAddr{{key(2, "2001:db8::1/64"), FlagPermanent | FlagNoDAD}, {key(2, "2001:db8::5/64"), FlagTentative | FlagDADFailed}})
	checkEvents(t, evs,
		"interface-down eth0(2) up=false (sync)", "interface-added eth2(4) up=false (sync)",
		"addr-removed eth0(2) 192.0.2.1/24 [permanent] (sync)",
		"addr-removed eth1(3) 198.51.100.1/24 (sync)",
		"addr-added eth0(2) 2001:db8::5/64 [dadfailed|tentative] (sync)",
		"addr-dad-failed eth0(2) 2001:db8::5/64 [dadfailed|tentative] (sync)",
		"interface-removed eth1(3) (sync)", "synced (sync)")
}

// TestWatchStateNotifications: notifications produce events only on real
// transitions, and the link filter hides other links.
func TestWatchStateNotifications(t *testing.T) {
	s := newWatchState("eth0")
	var evs []Event
	evs = s.iface(evs, 1, "lo", true, true, false)
	evs = s.iface(evs, 2, "eth0", false, true, false)
	evs = s.iface(evs, 2, "eth0", false, true, false) // no change
	evs = s.iface(evs, 2, "eth0", true, true, false)
	evs = s.addr(evs, key(1, "127.0.0.1/8"), "lo", 0, true, false)
	evs = s.addr(evs, key(2, "2001:db8::7/64"), "eth0", FlagTentative, true, false)
	evs = s.addr(evs, key(2, "2001:db8::7/64"), "", FlagTentative|FlagDADFailed, true, false)
	evs = s.addr(evs, key(2, "2001:db8::7/64"), "", FlagTentative|FlagDADFailed, true, false) // repeated: once only
	evs = s.addr(evs, key(2, "2001:db8::7/64"), "", 0, false, false)
	evs = s.addr(evs, key(2, "2001:db8::8/64"), "", 0, false, false) // unknown: nothing
	evs = s.iface(evs, 2, "", false, false, false)
	evs = s.iface(evs, 1, "", false, false, false)
	checkEvents(t, evs,
		"interface-added eth0(2) up=false", "interface-up eth0(2) up=true",
		"addr-added eth0(2) 2001:db8::7/64 [tentative]",
		"addr-dad-failed eth0(2) 2001:db8::7/64 [dadfailed|tentative]",
		"addr-removed eth0(2) 2001:db8::7/64 [dadfailed|tentative]",
		"interface-removed eth0(2)")
}

// TestWatchStateSnapshot: the snapshot is the current view as a first
// listing delivers it, filtered like the events, and leaves the state
// alone.
func TestWatchStateSnapshot(t *testing.T) {
	s := newWatchState("eth0")
	s.sync([]snapIface{{2, "eth0", true}, {1, "lo", true}},
		[]snapAddr{{key(2, "2001:db8::5/64"), FlagTentative | FlagDADFailed}, {key(2, "192.0.2.1/24"), FlagPermanent}, {key(1, "127.0.0.1/8"), 0}})
	s.iface(nil, 2, "eth0", false, true, false)
	want := []string{
		"interface-added eth0(2) up=false (sync)",
		"addr-added eth0(2) 192.0.2.1/24 [permanent] (sync)",
		"addr-added eth0(2) 2001:db8::5/64 [dadfailed|tentative] (sync)",
		"addr-dad-failed eth0(2) 2001:db8::5/64 [dadfailed|tentative] (sync)",
		"synced (sync)",
	}
	checkEvents(t, s.snapshot(), want...)
	checkEvents(t, s.snapshot(), want...)
	if len(s.ifaces) != 2 || len(s.addrs) != 3 {
		t.Errorf("snapshot changed the state: %d interfaces, %d addresses", len(s.ifaces), len(s.addrs))
	}
}

func TestEventStrings(t *testing.T) {
	if s := EventKind(0).String(); s != "EventKind(0)" {
		t.Errorf("zero kind: %s", s)
	}
	if s := EventKind(9).String(); s != "EventKind(9)" {
		t.Errorf("unknown kind: %s", s)
	}
	if s := (FlagSecondary | 0x100).String(); s != "secondary|0x100" {
		t.Errorf("flags: %s", s)
	}
	var names []string
	for _, r := range []RouteType{RouteUnicast, RouteBlackhole, RouteUnreachable, RouteProhibit, 9} {
		names = append(names, r.String())
	}
	if got := strings.Join(names, " "); got != "unicast blackhole unreachable prohibit RouteType(9)" {
		t.Errorf("route types: %s", got)
	}
}

func TestRouteRuleCheck(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	bad := []Route{
		{},
		{Dst: p("198.51.100.0/24"), Gw: a("2001:db8::1")},
		{Dst: p("198.51.100.0/24"), Type: RouteBlackhole, Gw: a("192.0.2.1")},
		{Dst: p("198.51.100.0/24"), Table: -1},
		{Dst: p("198.51.100.0/24"), Type: 7},
	}
	for _, r := range bad {
		if errs := r.validate("route"); len(errs) == 0 || !errors.Is(errs[0], ErrInvalid) {
			t.Errorf("route %v: %v, want ErrInvalid", r, errs)
		}
	}
	if errs := (Route{Dst: p("198.51.100.0/24"), Gw: a("192.0.2.254"), Src: a("192.0.2.100"), Table: 100}).validate("route"); errs != nil {
		t.Error(errs)
	}
	badRules := []Rule{
		{Table: 100},
		{From: p("192.0.2.100/32")},
		{From: p("192.0.2.100/32"), To: p("2001:db8::/64"), Table: 100},
		{From: p("192.0.2.100/32"), Table: 100, Priority: -1},
	}
	for _, r := range badRules {
		if errs := r.validate("rule"); len(errs) == 0 || !errors.Is(errs[0], ErrInvalid) {
			t.Errorf("rule %v: %v, want ErrInvalid", r, errs)
		}
	}
	r := Rule{To: p("2001:db8::/64"), Table: 100, Priority: 50}
	if errs := r.validate("rule"); errs != nil || r.is4() {
		t.Errorf("rule %v: %v, is4 %t", r, errs, r.is4())
	}
	if s := r.String(); s != "50: from all to 2001:db8::/64 lookup 100" {
		t.Errorf("rule string %q", s)
	}
}
