package vigiltest_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/vigiltest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newPlatform(t *testing.T, hub *vrrptest.Hub, i byte) *vigiltest.Platform {
	t.Helper()
	p, err := vigiltest.New(vigiltest.Config{Hub: hub, Addr4: netip.AddrFrom4([4]byte{192, 0, 2, i}),
		Addr6: netip.AddrFrom16([16]byte{0xfe, 0x80, 15: i}), Interfaces: []string{"eth0", "eth1"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPlatform: instances get Conns from the host's address of their
// family; a VMAC interface follows its parent; events and the snapshot
// say what the test did; an interface down cuts its Conns.
func TestPlatform(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		p, q := newPlatform(t, hub, 1), newPlatform(t, hub, 2)
		v6 := vigil.InstanceConfig{Interface: "eth0", UseVMAC: true, VRRP: vrrp.Config{Name: "v6", VRID: 7,
			VIPs: []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")}}}
		io, err := p.Instance(v6)
		if err != nil {
			t.Fatal(err)
		}
		if io.Interface != "vrrp.7" || io.Conn.LocalAddr() != netip.MustParseAddr("fe80::1") || io.Timers.Precise {
			t.Errorf("IPv6 VMAC instance: interface %q, source %v, timers %+v", io.Interface, io.Conn.LocalAddr(), io.Timers)
		}
		// A reload opens an instance of the same name again, then
		// releases the old one: Conn names the newest.
		io2, err := p.Instance(v6)
		if err != nil {
			t.Fatal(err)
		}
		if err := io.Release(); err != nil {
			t.Fatal(err)
		}
		if p.Conn("v6") != io2.Conn {
			t.Error("Conn does not name the instance opened last")
		}
		if err := io2.Release(); err != nil || p.Conn("v6") != nil {
			t.Errorf("after Release: %v, Conn %v", err, p.Conn("v6"))
		}
		io, err = p.Instance(v6)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Instance(vigil.InstanceConfig{Interface: "eth9", VRRP: vrrp.Config{Name: "x"}}); err == nil {
			t.Error("an unknown interface accepted")
		}
		peer, err := q.Instance(vigil.InstanceConfig{Interface: "eth0", VRRP: vrrp.Config{Name: "v6", VRID: 7,
			VIPs: []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")}}})
		if err != nil {
			t.Fatal(err)
		}
		ev := p.Subscribe(16)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		synctest.Wait()
		var kinds []string
		drain := func() {
			for {
				select {
				case e := <-ev.C():
					kinds = append(kinds, e.Kind.String()+" "+e.Interface)
				default:
					return
				}
			}
		}
		drain()
		want := []string{"interface-added eth0", "interface-added eth1", "interface-added vrrp.7", "synced "}
		if !equal(kinds, want) {
			t.Errorf("initial events %q, want %q", kinds, want)
		}
		if err := p.SetInterface("eth0", false); err != nil {
			t.Fatal(err)
		}
		kinds = nil
		drain()
		if want := []string{"interface-down eth0", "interface-down vrrp.7"}; !equal(kinds, want) {
			t.Errorf("after eth0 down: %q, want %q", kinds, want)
		}
		// eth0 is down: p's Conn neither sends nor receives.
		if err := peer.Conn.WriteAdvert(t.Context(), []byte{0x31, 7}, vrrp.GroupV6); err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithTimeout(t.Context(), time.Second)
		if _, _, err := io.Conn.ReadAdvert(rctx, make([]byte, 64)); err == nil {
			t.Error("an advert reached an instance whose interface is down")
		}
		rcancel()
		if err := p.SetInterface("eth0", true); err != nil {
			t.Fatal(err)
		}
		drain()
		if err := peer.Conn.WriteAdvert(t.Context(), []byte{0x31, 7}, vrrp.GroupV6); err != nil {
			t.Fatal(err)
		}
		if _, _, err := io.Conn.ReadAdvert(t.Context(), make([]byte, 64)); err != nil {
			t.Errorf("eth0 up again: %v", err)
		}
		if err := p.SetInterface("eth0", false); err != nil {
			t.Fatal(err)
		}
		if err := p.RemoveAddr("eth0", netip.MustParsePrefix("192.0.2.9/24")); err == nil {
			t.Error("removing an address that is not there accepted")
		}
		if snap := p.Snapshot(); len(snap) != 4 || snap[0].Up || snap[2].Up || !snap[1].Up || snap[3].Kind != netlink.Synced {
			t.Errorf("snapshot %v", snap)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		n := 0
		for range ev.C() { // closed after what is still queued
			n++
		}
		if n != 2 {
			t.Errorf("%d events queued at the end, want the 2 of the last interface-down", n)
		}
		if err := p.Close(); err != nil {
			t.Error(err)
		}
		q.Close()
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
