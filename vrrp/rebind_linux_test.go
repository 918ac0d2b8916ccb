//go:build linux

package vrrp_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/vrrp"
)

// TestSocketRebind: host 2's interface is deleted and created again (a
// new index). Its raw socket was bound to the old index: multicast
// adverts from host 1 no longer reach it, and its own sends fail. A send
// rebinds the socket by itself; Rebind (what the Host calls when its
// watcher sees the interface added) makes the receive side work again
// even before anything is sent. Both families.
func TestSocketRebind(t *testing.T) {
	nstest.Require(t)
	for _, v6 := range []bool{false, true} {
		t.Run(fmt.Sprintf("ipv6=%v", v6), func(t *testing.T) {
			seg := nstest.NewSegment(t, 2)
			h1, h2 := seg.Hosts[0], seg.Hosts[1]
			s1, s2 := listenIn(t, h1, v6), listenIn(t, h2, v6)
			c1, err := s1.Conn(7, vrrp.ConnConfig{})
			if err != nil {
				t.Fatal(err)
			}
			c2, err := s2.Conn(7, vrrp.ConnConfig{})
			if err != nil {
				t.Fatal(err)
			}
			group := vrrp.GroupV4
			if v6 {
				group = vrrp.GroupV6
			}
			advert := func(src netip.Addr) []byte {
				a := vrrp.Advertisement{Version: vrrp.V3, VRID: 7, Priority: 100, Interval: time.Second,
					Addrs: []netip.Addr{netip.MustParseAddr(map[bool]string{false: "192.0.2.100", true: "2001:db8::100"}[v6])}}
				b, err := a.AppendMarshal(nil, src, group)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			// receives reports whether c takes an advert sent by from
			// within 300 ms.
			receives := func(from, to *vrrp.SocketConn) bool {
				t.Helper()
				if err := from.WriteAdvert(t.Context(), advert(from.LocalAddr()), group); err != nil {
					t.Fatalf("send: %v", err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
				defer cancel()
				buf := make([]byte, 1500)
				_, _, err := to.ReadAdvert(ctx, buf)
				return err == nil
			}
			if !receives(c1, c2) || !receives(c2, c1) {
				t.Fatal("adverts do not pass before the re-creation")
			}

			if err := h2.Recreate(nil); err != nil {
				t.Fatal(err)
			}
			if v6 {
				waitLinkLocal(t, h2)
			}
			if receives(c1, c2) {
				t.Fatal("host 2 still receives on its old binding: the test does not show the defect")
			}
			if err := s2.Rebind(); err != nil {
				t.Fatal(err)
			}
			if !receives(c1, c2) {
				t.Error("after Rebind host 2 does not receive host 1's adverts")
			}
			if st := s2.Stats(); st.Rebinds != 1 {
				t.Errorf("Rebinds %d, want 1", st.Rebinds)
			}
			if err := s2.Rebind(); err != nil || s2.Stats().Rebinds != 1 {
				t.Errorf("Rebind without a new index: %v, %d rebinds, want nil and still 1", err, s2.Stats().Rebinds)
			}

			// The send path rebinds by itself.
			if err := h2.Recreate(nil); err != nil {
				t.Fatal(err)
			}
			if v6 {
				waitLinkLocal(t, h2)
			}
			if !receives(c2, c1) {
				t.Error("after a second re-creation host 2's advert did not reach host 1")
			}
			if !receives(c1, c2) {
				t.Error("after the send rebound the socket, host 2 does not receive")
			}
			if st := s2.Stats(); st.Rebinds != 2 {
				t.Errorf("Rebinds %d after the send, want 2", st.Rebinds)
			}
		})
	}
}

// waitLinkLocal waits until h's link-local address is usable again.
func waitLinkLocal(t *testing.T, h *nstest.Host) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := h.Exec("ip", "-6", "addr", "show", "dev", h.Link, "scope", "link")
		if len(out) > 0 && !strings.Contains(out, "tentative") && strings.Contains(out, "inet6") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no usable link-local address: %s", h.Name, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestListenNetns: a socket opened by namespace path, from a thread in
// another namespace, lives in that namespace and learns its interface's
// address there; a path that is not a namespace fails with it named.
func TestListenNetns(t *testing.T) {
	nstest.Require(t)
	seg := nstest.NewSegment(t, 2)
	h1, h2 := seg.Hosts[0], seg.Hosts[1]
	s, err := vrrp.Listen(vrrp.SocketConfig{Interface: "eth0", Netns: h1.Path()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.PrimaryAddr(); got != h1.Addr4.Addr() {
		t.Errorf("primary %v, want h1's %v", got, h1.Addr4.Addr())
	}
	c1, err := s.Conn(9, vrrp.ConnConfig{})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := listenIn(t, h2, false).Conn(9, vrrp.ConnConfig{})
	if err != nil {
		t.Fatal(err)
	}
	a := vrrp.Advertisement{Version: vrrp.V3, VRID: 9, Priority: 100, Interval: time.Second,
		Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	b, err := a.AppendMarshal(nil, c2.LocalAddr(), vrrp.GroupV4)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.WriteAdvert(t.Context(), b, vrrp.GroupV4); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if _, info, err := c1.ReadAdvert(ctx, make([]byte, 1500)); err != nil || info.Src != h2.Addr4.Addr() {
		t.Errorf("h1's socket read %v from %v, want h2's advert", err, info.Src)
	}
	if _, err := vrrp.Listen(vrrp.SocketConfig{Interface: "eth0", Netns: "/proc/self/status"}); err == nil ||
		!strings.Contains(err.Error(), "/proc/self/status") || !strings.HasPrefix(err.Error(), "vrrp: ") {
		t.Errorf("a file that is not a namespace: %v", err)
	}
}
