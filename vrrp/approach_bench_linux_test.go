//go:build linux

package vrrp_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// BenchmarkMassTakeover: n backups with precise timers hear their masters'
// last adverts at the same instant and then take over together (a host
// with many VRIDs whose peer died). It reports how late the takeovers are
// after their Master_Down_Interval deadlines (median and maximum) and the
// CPU the process spent per round, with the final approach on and off: the
// approach polls, so n routers polling together compete for the CPUs.
func BenchmarkMassTakeover(b *testing.B) {
	for _, n := range []int{1, 50, 200} {
		for _, lead := range []time.Duration{-1, time.Millisecond} {
			name := fmt.Sprintf("routers=%d/approach=%v", n, lead > 0)
			b.Run(name, func(b *testing.B) { benchMassTakeover(b, n, lead) })
		}
	}
}

func benchMassTakeover(b *testing.B, n int, lead time.Duration) {
	mdi := 3*10*time.Millisecond + (256-100)*10*time.Millisecond/256
	adv := vrrp.Advertisement{Version: vrrp.V3, Priority: 200, Interval: 10 * time.Millisecond,
		Addrs: []netip.Addr{vip.Addr()}}
	var late []time.Duration
	var cpu time.Duration
	for range b.N {
		type node struct {
			conn *vrrptest.Conn
			sub  *vrrp.Subscription
			pkt  []byte
		}
		nodes := make([]node, n)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for i := range nodes {
			// A segment per router: on a real one the shared socket sorts
			// adverts by VRID, so no router sees the others' adverts.
			conn, err := vrrptest.NewHub(1).Join(ourAddr)
			if err != nil {
				b.Fatal(err)
			}
			vrid := uint8(i + 1)
			cfg := vrrp.Config{VRID: vrid, Version: vrrp.V3, Priority: 100, Interval: time.Second,
				VIPs: []netip.Prefix{vip}, InitialState: vrrp.Backup}
			r, err := vrrp.NewRouter(conn, vrrptest.NewAddrs(), &vrrptest.Announcer{}, cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := r.SetTimers(vrrp.Timers{Precise: true, FinalApproach: lead}); err != nil {
				b.Fatal(err)
			}
			a := adv
			a.VRID = vrid
			pkt, err := a.Marshal(peerAddr, vrrp.GroupV4)
			if err != nil {
				b.Fatal(err)
			}
			nodes[i] = node{conn: conn, sub: r.Subscribe(4), pkt: pkt}
			wg.Go(func() { r.Run(ctx) })
			if ev := <-nodes[i].sub.C(); ev.To != vrrp.Backup {
				b.Fatalf("router %d went to %v", i, ev.To)
			}
		}
		at := time.Now()
		before := cpuTime(b)
		for _, nd := range nodes {
			nd.conn.Inject(nd.pkt, vrrp.PacketInfo{Src: peerAddr, Dst: vrrp.GroupV4, TTL: 255, Time: at})
		}
		deadline := at.Add(mdi)
		for i, nd := range nodes {
			select {
			case ev := <-nd.sub.C():
				if ev.To != vrrp.Master {
					b.Fatalf("router %d went to %v", i, ev.To)
				}
				late = append(late, ev.Time.Sub(deadline))
			case <-time.After(5 * time.Second):
				b.Fatalf("router %d did not take over", i)
			}
		}
		cpu += cpuTime(b) - before
		cancel()
		wg.Wait()
	}
	slices.Sort(late)
	if late[0] < 0 {
		b.Fatalf("a router took over %v before its deadline", -late[0])
	}
	b.ReportMetric(float64(late[len(late)/2].Microseconds()), "µs-late-median")
	b.ReportMetric(float64(late[len(late)-1].Microseconds()), "µs-late-max")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "µs-cpu/round")
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
