//go:build linux

package vrrp_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// sinkConn is a Conn that hears nothing and counts what it sends.
type sinkConn struct {
	local netip.Addr
	sent  *atomic.Int64
}

func (c sinkConn) LocalAddr() netip.Addr { return c.local }

func (c sinkConn) ReadAdvert(ctx context.Context, _ []byte) (int, vrrp.PacketInfo, error) {
	<-ctx.Done()
	return 0, vrrp.PacketInfo{}, ctx.Err()
}

func (c sinkConn) WriteAdvert(context.Context, []byte, netip.Addr) error {
	c.sent.Add(1)
	return nil
}

func (c sinkConn) Close() error { return nil }

// BenchmarkMasters measures what a process of n master Routers (VRRPv3,
// 100 ms, precise timers as vigil.Host runs them) spends per advert on
// everything but the kernel's send: timer wake-ups, the goroutines'
// scheduling, the machine's step and the advert's encoding. The Conn
// only counts. One op is one advert; cpu-ns/op is the process's CPU time
// per advert (getrusage), ns/op is meaningless (the adverts come at the
// interval). grid is Timers.AdvertGrid. Use -benchtime Nx with N a few
// thousand, and -cpu 1,2 to compare GOMAXPROCS.
func BenchmarkMasters(b *testing.B) {
	for _, c := range []struct {
		n    int
		grid time.Duration
	}{{200, 0}, {200, 10 * time.Millisecond}, {1000, 0}, {1000, 10 * time.Millisecond}} {
		n := c.n
		b.Run(fmt.Sprintf("%d/grid=%v", n, c.grid), func(b *testing.B) {
			var sent atomic.Int64
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer func() { cancel(); wg.Wait() }()
			for i := range n {
				local := netip.AddrFrom4([4]byte{192, 0, 2, 1})
				r, err := vrrp.NewRouter(sinkConn{local: local, sent: &sent}, nil, nil, vrrp.Config{
					Name: fmt.Sprint("VI_", i), VRID: uint8(i%255 + 1), Version: vrrp.V3, Priority: 150,
					Interval: 100 * time.Millisecond, InitialState: vrrp.Master,
					VIPs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), 15)}})
				if err != nil {
					b.Fatal(err)
				}
				if err := r.SetTimers(vrrp.Timers{Precise: true, AdvertGrid: c.grid}); err != nil {
					b.Fatal(err)
				}
				wg.Go(func() { r.Run(ctx) })
			}
			// Past the first adverts of all, which come at once, and the
			// second, which moves onto the grid.
			time.Sleep(300 * time.Millisecond)
			b.ReportAllocs()
			start, cpu := sent.Load(), processCPU(b)
			b.ResetTimer()
			for sent.Load()-start < int64(b.N) {
				time.Sleep(10 * time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(processCPU(b)-cpu)/float64(sent.Load()-start), "cpu-ns/op")
		})
	}
}
