//go:build linux

package vrrp_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/vrrp"
)

// BenchmarkSend measures a master's send path per advert over a real raw
// socket in network namespaces (root only): SocketConn.WriteAdvert of a
// VRRPv3 advert to 224.0.0.18 (v4) or ff02::12 (v6) on a veth into a
// bridge with one other host. cpu-ns/op is the process's CPU time per
// advert, most of it the kernel's: sendmsg(2) also carries the frame
// across the veth and the bridge to the other host's interface.
func BenchmarkSend(b *testing.B) {
	seg := nstest.NewSegment(b, 2)
	h := seg.Hosts[0]
	for _, v6 := range []bool{false, true} {
		name, src, dst := "v4", h.Addr4.Addr(), vrrp.GroupV4
		if v6 {
			name, src, dst = "v6", h.LinkLocal, vrrp.GroupV6
		}
		b.Run(name, func(b *testing.B) {
			var sock *vrrp.Socket
			if err := h.Do(func() (err error) {
				sock, err = vrrp.Listen(vrrp.SocketConfig{Interface: h.Link, IPv6: v6})
				return err
			}); err != nil {
				b.Fatal(err)
			}
			defer sock.Close()
			c, err := sock.Conn(1, vrrp.ConnConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			a := vrrp.Advertisement{Version: vrrp.V3, VRID: 1, Priority: 150, Interval: 100 * time.Millisecond,
				Addrs: []netip.Addr{netip.AddrFrom4([4]byte{198, 18, 0, 1})}}
			if v6 {
				a.Addrs = []netip.Addr{netip.MustParseAddr("2001:db8::100")}
			}
			pkt, err := a.Marshal(src, dst)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			cpu := processCPU(b)
			for b.Loop() {
				if err := c.WriteAdvert(ctx, pkt, dst); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// TestWriteAdvertNoAllocs: a master's send allocates nothing (a closure
// made per send once cost 40 bytes of garbage per advert: a collection
// every second or two at 1,000 masters, and the idle heap it leaves).
func TestWriteAdvertNoAllocs(t *testing.T) {
	seg := nstest.NewSegment(t, 2)
	h := seg.Hosts[0]
	for _, v6 := range []bool{false, true} {
		src, dst, vip := h.Addr4.Addr(), vrrp.GroupV4, netip.MustParseAddr("198.18.0.1")
		if v6 {
			src, dst, vip = h.LinkLocal, vrrp.GroupV6, netip.MustParseAddr("2001:db8::100")
		}
		var sock *vrrp.Socket
		if err := h.Do(func() (err error) {
			sock, err = vrrp.Listen(vrrp.SocketConfig{Interface: h.Link, IPv6: v6})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer sock.Close()
		c, err := sock.Conn(1, vrrp.ConnConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		a := vrrp.Advertisement{Version: vrrp.V3, VRID: 1, Priority: 150, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{vip}}
		pkt, err := a.Marshal(src, dst)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var werr error
		if n := testing.AllocsPerRun(200, func() { werr = errors.Join(werr, c.WriteAdvert(ctx, pkt, dst)) }); n != 0 || werr != nil {
			t.Errorf("v6 %v: %.1f allocations per WriteAdvert (err %v), want 0", v6, n, werr)
		}
	}
}
