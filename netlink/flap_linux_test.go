package netlink_test

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/netlink"
)

// TestAnnouncerAfterLinkFlap: the interface goes down and up again, then
// one GARP and one NA are announced (Repeat 1): both reach the witness.
// The kernel left ENETDOWN pending on the packet sockets when the
// interface went down; the announcer's first send takes it and is tried
// again. Then the interface is deleted and created again with a new MAC:
// the announcer reopens its sockets, in its namespace, and the frames
// carry the new MAC. The namespace is given by path, or is that of the
// thread calling NewAnnouncer (the reopen happens on another thread).
func TestAnnouncerAfterLinkFlap(t *testing.T) {
	for _, fromThread := range []bool{false, true} {
		name := "Netns path"
		if fromThread {
			name = "calling thread"
		}
		t.Run(name, func(t *testing.T) { testAnnouncerAfterLinkFlap(t, fromThread) })
	}
}

func testAnnouncerAfterLinkFlap(t *testing.T, fromThread bool) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 2)
	h1, h2 := seg.Hosts[0], seg.Hosts[1]
	v4, v6 := addr("192.0.2.100"), addr("2001:db8::100")
	cfg := netlink.AnnouncerConfig{Interface: "eth0", Timing: netlink.AnnounceTiming{Repeat: 1, SecondDelay: -1}}
	var a *netlink.Announcer
	var err error
	if fromThread {
		err = h1.Do(func() (err error) {
			a, err = netlink.NewAnnouncer(cfg)
			return err
		})
	} else {
		cfg.Netns = nsPath(h1)
		a, err = netlink.NewAnnouncer(cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	announce := func(mac net.HardwareAddr) {
		t.Helper()
		got := sniff(t, h2)
		if err := a.Announce(t.Context(), []netip.Addr{v4, v6}); err != nil {
			t.Fatal(err)
		}
		a.Wait()
		frames := waitFrames(t, got, 2)
		var garp, na [][]byte
		for _, f := range frames {
			switch {
			case len(f.b) > 13 && f.b[12] == 0x08 && f.b[13] == 0x06:
				garp = append(garp, f.b)
			case len(f.b) > 13 && f.b[12] == 0x86 && f.b[13] == 0xdd && len(f.b) > 54 && f.b[54] == 136:
				na = append(na, f.b)
			}
		}
		if len(garp) != 1 || len(na) != 1 {
			t.Fatalf("witness saw %d GARPs and %d NAs, want 1 and 1", len(garp), len(na))
		}
		checkGARP(t, garp[0], mac, v4)
		checkNA(t, na[0], mac, v6)
	}

	if err := h1.SetLink(false); err != nil {
		t.Fatal(err)
	}
	if err := h1.SetLink(true); err != nil {
		t.Fatal(err)
	}
	waitCarrier(t, h1)
	announce(h1.MAC)
	st := a.Stats()
	if st.Retries != 2 || st.Errors != 0 || st.ARPSent != 1 || st.NASent != 1 {
		t.Errorf("after the flap: stats %+v, want 2 retries (ENETDOWN pending on both sockets), no error, 1 ARP, 1 NA", st)
	}

	newMAC := net.HardwareAddr{0x02, 0, 0, 0, 0x01, 0x99}
	if err := h1.Recreate(newMAC); err != nil {
		t.Fatal(err)
	}
	announce(newMAC)
	st = a.Stats()
	if st.Reopens != 1 || st.Errors != 0 || st.ARPSent != 2 || st.NASent != 2 {
		t.Errorf("after re-creation: stats %+v, want 1 reopen, no error, 2 ARP, 2 NA", st)
	}
	if got := a.MAC(); got.String() != newMAC.String() {
		t.Errorf("MAC %v after re-creation, want %v", got, newMAC)
	}
}

// waitCarrier waits until h's eth0 is up with its carrier.
func waitCarrier(t *testing.T, h *nstest.Host) {
	t.Helper()
	eventually(t, h.Name+" eth0 up", func() (bool, string) {
		out := ip(t, h, "link", "show", "eth0")
		return strings.Contains(out, "LOWER_UP") && strings.Contains(out, "state UP"), out
	})
}

// TestAnnouncerInterfaceGoneThenBack: announcing while the interface is
// deleted fails (counted), and reopening fails with it; once the
// interface exists again, the next announcement reaches the witness: a
// failed reopen does not leave the announcer without sockets for good.
func TestAnnouncerInterfaceGoneThenBack(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 2)
	h1, h2 := seg.Hosts[0], seg.Hosts[1]
	v4 := addr("192.0.2.100")
	a, err := netlink.NewAnnouncer(netlink.AnnouncerConfig{Interface: "eth0", Netns: h1.Path(),
		Timing: netlink.AnnounceTiming{Repeat: 1, SecondDelay: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := h1.Delete(); err != nil {
		t.Fatal(err)
	}
	if err := a.Announce(t.Context(), []netip.Addr{v4}); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	if st := a.Stats(); st.Errors != 1 || st.ARPSent != 0 {
		t.Fatalf("interface gone: stats %+v, want 1 error, nothing sent", st)
	}
	if err := h1.Create(nil); err != nil {
		t.Fatal(err)
	}
	got := sniff(t, h2)
	if err := a.Announce(t.Context(), []netip.Addr{v4}); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	frames := waitFrames(t, got, 1)
	checkGARP(t, frames[0].b, h1.MAC, v4)
	if st := a.Stats(); st.ARPSent != 1 || st.Reopens != 1 {
		t.Errorf("interface back: stats %+v, want 1 ARP after 1 reopen", st)
	}
}
