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

// sender opens a SocketConn on h's interface (VRID 1) and returns it with
// a VRRPv3 advert for it and its destination (224.0.0.18 or ff02::12);
// both are closed at the end of tb.
func sender(tb testing.TB, h *nstest.Host, v6 bool) (c *vrrp.SocketConn, pkt []byte, dst netip.Addr) {
	tb.Helper()
	src, dst, vip := h.Addr4.Addr(), vrrp.GroupV4, netip.MustParseAddr("198.18.0.1")
	if v6 {
		src, dst, vip = h.LinkLocal, vrrp.GroupV6, netip.MustParseAddr("2001:db8::100")
	}
	var sock *vrrp.Socket
	if err := h.Do(func() (err error) {
		sock, err = vrrp.Listen(vrrp.SocketConfig{Interface: h.Link, IPv6: v6})
		return err
	}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sock.Close() })
	c, err := sock.Conn(1, vrrp.ConnConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	a := vrrp.Advertisement{Version: vrrp.V3, VRID: 1, Priority: 150, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{vip}}
	pkt, err = a.Marshal(src, dst)
	if err != nil {
		tb.Fatal(err)
	}
	return c, pkt, dst
}

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
		name := "v4"
		if v6 {
			name = "v6"
		}
		b.Run(name, func(b *testing.B) {
			c, pkt, dst := sender(b, h, v6)
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
		c, pkt, dst := sender(t, h, v6)
		ctx := context.Background()
		var werr error
		if n := testing.AllocsPerRun(200, func() { werr = errors.Join(werr, c.WriteAdvert(ctx, pkt, dst)) }); n != 0 || werr != nil {
			t.Errorf("v6 %v: %.1f allocations per WriteAdvert (err %v), want 0", v6, n, werr)
		}
	}
}
