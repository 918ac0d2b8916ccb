//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/vrrp"
)

// canNetns reports whether the real-namespace mode can run here.
func canNetns() bool {
	_, err := exec.LookPath("ip")
	return os.Geteuid() == 0 && err == nil
}

// netHost is one namespace running a vigil.Host.
type netHost struct {
	name   string
	prio   uint8
	ns     *nstest.Host
	r      *vrrp.Router
	cancel context.CancelFunc
	done   chan error
}

// runNetns is the demonstration over real raw sockets, VIPs and gratuitous
// ARP, in three network namespaces on a bridge.
func runNetns(ctx context.Context, w io.Writer, interval time.Duration) error {
	seg, err := nstest.Build(3)
	if seg != nil {
		defer seg.Close()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "vigil quickstart: 3 VRRPv3 routers in network namespaces %s-h{1,2,3} on a bridge, VRID 51, VIP %v, adverts every %v\n\n",
		seg.Switch[:len(seg.Switch)-3], vip, interval)
	t0 := time.Now()
	var mu sync.Mutex
	printf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%9.3fs  ", time.Since(t0).Seconds())
		fmt.Fprintf(w, format, args...)
	}
	masters := make(chan *netHost, 32)
	var wg sync.WaitGroup
	start := func(h *netHost) error {
		host, err := vigil.NewHost(vigil.HostConfig{Netns: h.ns.Path(), Instances: []vigil.InstanceConfig{{
			VRRP:      vrrp.Config{Name: h.name, VRID: 51, Version: vrrp.V3, Priority: h.prio, Interval: interval, VIPs: []netip.Prefix{vip}},
			Interface: h.ns.Link,
		}}})
		if err != nil {
			return err
		}
		h.r = host.Routers()[0]
		sub := h.r.Subscribe(16)
		hctx, cancel := context.WithCancel(ctx)
		h.cancel, h.done = cancel, make(chan error, 1)
		wg.Go(func() { h.done <- host.Run(hctx) })
		wg.Go(func() {
			for e := range sub.C() { // closed when the router's Run returns
				printf("%-3s (priority %3d) %-7v -> %-7v %s\n", h.name, h.prio, e.From, e.To, e.Reason)
				if e.To == vrrp.Master {
					masters <- h
				}
			}
		})
		return nil
	}
	stop := func(h *netHost) error {
		if h.cancel == nil {
			return nil
		}
		h.cancel()
		h.cancel = nil
		return <-h.done
	}
	hosts := []*netHost{{name: "r1", prio: 200, ns: seg.Hosts[0]}, {name: "r2", prio: 150, ns: seg.Hosts[1]}, {name: "r3", prio: 100, ns: seg.Hosts[2]}}
	defer func() {
		for _, h := range hosts {
			stop(h)
		}
		wg.Wait()
	}()
	limit := 10*interval + 2*time.Second
	await := func() (*netHost, error) {
		select {
		case h := <-masters:
			return h, nil
		case <-time.After(limit):
			return nil, fmt.Errorf("no master after %v", limit)
		}
	}
	hasVIP := func(h *netHost) bool { ok, _ := h.ns.HasAddr(vip.Addr()); return ok }
	for _, h := range hosts {
		if err := start(h); err != nil {
			return err
		}
	}
	m, err := await()
	if err != nil {
		return err
	}
	if m != hosts[0] {
		return fmt.Errorf("%s won the election, want r1", m.name)
	}
	printf("elected: %s holds %v (ip addr: r1=%v r2=%v r3=%v)\n\n", m.name, vip, hasVIP(hosts[0]), hasVIP(hosts[1]), hasVIP(hosts[2]))

	time.Sleep(5*interval + interval/3)
	printf("crash r1: its link goes down, so not even its priority 0 reaches the segment\n")
	cut := time.Now()
	if err := hosts[0].ns.SetLink(false); err != nil {
		return err
	}
	if m, err = await(); err != nil {
		return err
	}
	took := time.Since(cut)
	deadline := time.Now().Add(limit)
	for !hasVIP(m) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	printf("takeover: %s is master %v after the crash and holds the VIP (%v); RFC: Master_Down_Interval %v after r1's last advert\n\n",
		m.name, took.Round(time.Microsecond), hasVIP(m), masterDown(m.prio, interval))
	if m != hosts[1] {
		return fmt.Errorf("%s took over, want r2", m.name)
	}
	time.Sleep(5 * interval)
	printf("restore r1's link: it comes back as backup and preempts r2 after its Master_Down_Interval (%v)\n", masterDown(hosts[0].prio, interval))
	if err := hosts[0].ns.SetLink(true); err != nil {
		return err
	}
	if m, err = await(); err != nil {
		return err
	}
	if m != hosts[0] {
		return fmt.Errorf("%s is master after r1 returned, want r1", m.name)
	}
	time.Sleep(5 * interval)
	mu.Lock()
	fmt.Fprintln(w)
	mu.Unlock()
	printf("stop r1 gracefully: priority 0, so r2 waits only Skew_Time (%v)\n", skew(hosts[1].prio, interval))
	stopped := time.Now()
	if err := stop(hosts[0]); err != nil {
		return err
	}
	if m, err = await(); err != nil {
		return err
	}
	printf("handover: %s is master %v after the stop (VIP on r1=%v r2=%v)\n", m.name, time.Since(stopped).Round(time.Microsecond), hasVIP(hosts[0]), hasVIP(m))
	if m != hosts[1] {
		return fmt.Errorf("%s took over after the graceful stop, want r2", m.name)
	}
	return nil
}
