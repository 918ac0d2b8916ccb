package vigil_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestHostExcludedVIPs: the excluded addresses (both families) are held
// with the VIPs while master and never advertised; a removed tracked one
// is put back, a removed no_track one (excluded or VIP) is not (and the instance stays
// master); they go with the VIPs when the router stops.
func TestHostExcludedVIPs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		ex4, ex6 := netip.MustParsePrefix("198.51.100.7/24"), netip.MustParsePrefix("2001:db8::7/64")
		y := netip.MustParsePrefix("192.0.2.101/24")
		ic := inst("VI_1", 51, 200, vipX, y)
		ic.ExcludedVIPs = []netip.Prefix{ex4, ex6}
		ic.AddrOptions = map[netip.Prefix]netlink.AddrOptions{ex6: {NoTrack: true}, y: {NoTrack: true}}
		a := startMem(t, hub, 1, ic)
		peer, err := hub.Join(netip.MustParseAddr("192.0.2.9"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		a.run(ctx)
		time.Sleep(time.Second)
		addrs := a.p.Addrs("eth0")
		for _, p := range []netip.Prefix{vipX, y, ex4, ex6} {
			if !addrs.Has(p) {
				t.Errorf("%v not held as master: %v", p, addrs.Held())
			}
		}
		b := make([]byte, 1500)
		n, info, err := peer.ReadAdvert(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		adv, err := vrrp.Parse(b[:n], info.Src, info.Dst)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(adv.Addrs, []netip.Addr{vipX.Addr(), y.Addr()}) {
			t.Errorf("advertised %v, want the VIPs alone", adv.Addrs)
		}

		if err := a.p.RemoveAddr("eth0", ex4); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if !addrs.Has(ex4) {
			t.Errorf("tracked excluded %v not put back", ex4)
		}
		for _, p := range []netip.Prefix{ex6, y} {
			if err := a.p.RemoveAddr("eth0", p); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			if addrs.Has(p) {
				t.Errorf("no_track %v put back", p)
			}
		}
		if st := a.h.Routers()[0].Status().State; st != vrrp.Master {
			t.Errorf("state %v after a no_track removal, want MASTER", st)
		}
		cancel()
		<-a.done
		if held := addrs.Held(); len(held) != 0 {
			t.Errorf("held after stop: %v", held)
		}
	})
}
