//go:build linux

package vrrp_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// BenchmarkMassTakeoverKernel is BenchmarkMassTakeover with the kernel's
// part of a takeover stood in for: the VIP add blocks its thread in a
// syscall for add (0 or 100 µs, about what a netlink add takes), holding
// its P as a syscall does until the runtime's sysmon takes it back. It
// reports, after the shared Master_Down_Interval deadline, when the
// routers announced (their first GARP/NA, right after the advert, before
// the add) and when their adds ended, median and maximum, with the final
// approach on and off. Run it with -cpu 2,4 to see the Ps' part.
func BenchmarkMassTakeoverKernel(b *testing.B) {
	for _, n := range []int{1, 200} {
		for _, add := range []time.Duration{0, 100 * time.Microsecond} {
			for _, queue := range []string{"", "mutex", "worker"} {
				if add == 0 && queue != "" {
					continue
				}
				for _, lead := range []time.Duration{-1, time.Millisecond} {
					b.Run(fmt.Sprintf("routers=%d/add=%v/queue=%q/approach=%v", n, add, queue, lead > 0),
						func(b *testing.B) { benchMassKernel(b, n, add, queue, lead) })
				}
			}
		}
	}
}

// kernelAddrs is a vrrptest.Addrs whose add blocks in syscalls for
// work, one add at a time as the kernel's RTNL lock has it (an flock of
// a shared file, waited for in the kernel, holding the P). How the
// routers reach the kernel: queue "" each on its own (as vigil's Host
// does: an AddrManager per instance), "mutex" through a Go mutex first
// (the waiters park, their Ps free), "worker" through one goroutine
// that makes the adds in turn while the routers wait parked. It sends
// when each add ended.
type kernelAddrs struct {
	*vrrptest.Addrs
	work   time.Duration
	rtnl   int // the flock'ed file
	queue  string
	gomu   *sync.Mutex
	worker chan func()
	added  chan time.Time
}

func (a kernelAddrs) kernel() {
	for unix.Flock(a.rtnl, unix.LOCK_EX) == unix.EINTR {
	}
	ts := unix.NsecToTimespec(a.work.Nanoseconds())
	for unix.Nanosleep(&ts, &ts) == unix.EINTR {
	}
	unix.Flock(a.rtnl, unix.LOCK_UN)
}

func (a kernelAddrs) AddVIPs(ctx context.Context, vips []netip.Prefix, accept bool) error {
	switch {
	case a.work == 0:
	case a.queue == "mutex":
		a.gomu.Lock()
		a.kernel()
		a.gomu.Unlock()
	case a.queue == "worker":
		done := make(chan struct{})
		a.worker <- func() { a.kernel(); close(done) }
		<-done
	default:
		a.kernel()
	}
	err := a.Addrs.AddVIPs(ctx, vips, accept)
	a.added <- time.Now()
	return err
}

// timedAnnouncer sends when each Announce was called.
type timedAnnouncer struct{ at chan time.Time }

func (t timedAnnouncer) Announce(context.Context, []netip.Addr) error {
	t.at <- time.Now()
	return nil
}

func benchMassKernel(b *testing.B, n int, add time.Duration, queue string, lead time.Duration) {
	gomu, worker := new(sync.Mutex), make(chan func())
	go func() {
		for f := range worker {
			f()
		}
	}()
	defer close(worker)
	mdi := 3*10*time.Millisecond + (256-100)*10*time.Millisecond/256
	adv := vrrp.Advertisement{Version: vrrp.V3, Priority: 200, Interval: 10 * time.Millisecond,
		Addrs: []netip.Addr{vip.Addr()}}
	var announced, added []time.Duration
	for range b.N {
		type node struct {
			conn  *vrrptest.Conn
			sub   *vrrp.Subscription
			pkt   []byte
			at    chan time.Time
			added chan time.Time
		}
		nodes := make([]node, n)
		rtnl, err := unix.Open(b.TempDir()+"/rtnl", unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for i := range nodes {
			conn, err := vrrptest.NewHub(1).Join(ourAddr)
			if err != nil {
				b.Fatal(err)
			}
			vrid := uint8(i + 1)
			cfg := vrrp.Config{VRID: vrid, Version: vrrp.V3, Priority: 100, Interval: time.Second,
				VIPs: []netip.Prefix{vip}, InitialState: vrrp.Backup}
			nd := node{conn: conn, at: make(chan time.Time, 4), added: make(chan time.Time, 4)}
			r, err := vrrp.NewRouter(conn, kernelAddrs{vrrptest.NewAddrs(), add, rtnl, queue, gomu, worker, nd.added},
				timedAnnouncer{nd.at}, cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := r.SetTimers(vrrp.Timers{Precise: true, FinalApproach: lead}); err != nil {
				b.Fatal(err)
			}
			a := adv
			a.VRID = vrid
			if nd.pkt, err = a.Marshal(peerAddr, vrrp.GroupV4); err != nil {
				b.Fatal(err)
			}
			nd.sub = r.Subscribe(4)
			nodes[i] = nd
			wg.Go(func() { r.Run(ctx) })
			if ev := <-nd.sub.C(); ev.To != vrrp.Backup {
				b.Fatalf("router %d went to %v", i, ev.To)
			}
		}
		at := time.Now()
		for _, nd := range nodes {
			nd.conn.Inject(nd.pkt, vrrp.PacketInfo{Src: peerAddr, Dst: vrrp.GroupV4, TTL: 255, Time: at})
		}
		deadline := at.Add(mdi)
		for i, nd := range nodes {
			for _, c := range []struct {
				ch  chan time.Time
				out *[]time.Duration
			}{{nd.at, &announced}, {nd.added, &added}} {
				select {
				case t := <-c.ch:
					*c.out = append(*c.out, t.Sub(deadline))
				case <-time.After(5 * time.Second):
					b.Fatalf("router %d did not take over", i)
				}
			}
		}
		cancel()
		wg.Wait()
		unix.Close(rtnl)
	}
	for _, m := range []struct {
		name string
		ds   []time.Duration
	}{{"announced", announced}, {"added", added}} {
		slices.Sort(m.ds)
		if m.ds[0] < 0 {
			b.Fatalf("a router %s %v before its deadline", m.name, -m.ds[0])
		}
		b.ReportMetric(float64(m.ds[len(m.ds)/2].Microseconds()), "µs-"+m.name+"-median")
		b.ReportMetric(float64(m.ds[len(m.ds)-1].Microseconds()), "µs-"+m.name+"-max")
	}
}
