// Command quickstart shows vigil's main job: three VRRP routers elect a
// master for a virtual IP, the master crashes, a backup takes over after
// exactly the RFC's Master_Down_Interval, the old master comes back and
// preempts, and a graceful stop hands over after Skew_Time.
//
// Without root it runs on vrrptest's in-memory L2 segment; as root (with
// ip(8)) it runs over real raw sockets, VIPs and gratuitous ARP in three
// network namespaces it creates and deletes:
//
//	go run ./examples/quickstart              # -mode auto
//	go run ./examples/quickstart -mode memory # force the in-memory segment
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

func main() {
	interval := flag.Duration("advert", 100*time.Millisecond, "VRRPv3 advert interval (10ms..40.95s, whole centiseconds)")
	mode := flag.String("mode", "auto", "auto (netns when root, else memory), memory, or netns")
	flag.Parse()
	var err error
	switch *mode {
	case "auto":
		if canNetns() {
			err = runNetns(context.Background(), os.Stdout, *interval)
		} else {
			fmt.Println("(not root: running on the in-memory segment; run as root for real namespaces)")
			err = run(context.Background(), os.Stdout, *interval)
		}
	case "memory":
		err = run(context.Background(), os.Stdout, *interval)
	case "netns":
		err = runNetns(context.Background(), os.Stdout, *interval)
	default:
		err = fmt.Errorf("-mode %q: want auto, memory or netns", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

var vip = netip.MustParsePrefix("192.0.2.100/24")

// host is one router on the segment.
type host struct {
	name   string
	addr   netip.Addr
	prio   uint8
	conn   *vrrptest.Conn
	addrs  *vrrptest.Addrs
	r      *vrrp.Router
	cancel context.CancelFunc
	done   chan struct{}
}

// demo runs the hosts and reports their transitions.
type demo struct {
	w        io.Writer
	t0       time.Time
	interval time.Duration
	hub      *vrrptest.Hub
	masters  chan *host // every transition to MASTER
	mu       sync.Mutex
	wg       sync.WaitGroup
}

func (d *demo) printf(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.w, "%9.3fs  ", time.Since(d.t0).Seconds())
	fmt.Fprintf(d.w, format, args...)
}

// start runs a router for h, on a fresh link or h's old one.
func (d *demo) start(h *host) error {
	if h.conn == nil {
		c, err := d.hub.Join(h.addr)
		if err != nil {
			return err
		}
		h.conn, h.addrs = c, vrrptest.NewAddrs()
	}
	h.conn.Heal()
	r, err := vrrp.NewRouter(h.conn, h.addrs, &vrrptest.Announcer{}, vrrp.Config{
		Name: h.name, VRID: 51, Version: vrrp.V3, Priority: h.prio, Interval: d.interval,
		VIPs: []netip.Prefix{vip},
	})
	if err != nil {
		return err
	}
	h.r = r
	sub := r.Subscribe(16)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	d.wg.Go(func() {
		if err := r.Run(ctx); err != nil {
			d.printf("%s: %v\n", h.name, err)
		}
	})
	d.wg.Go(func() {
		defer close(h.done)
		for e := range sub.C() { // closed when Run returns
			d.printf("%-3s (priority %3d) %-7v -> %-7v %s\n", h.name, h.prio, e.From, e.To, e.Reason)
			if e.To == vrrp.Master {
				d.masters <- h
			}
		}
	})
	return nil
}

// crash makes h vanish without resigning: link cut first, then stopped.
func (d *demo) crash(h *host) {
	h.conn.Cut()
	h.cancel()
	<-h.done
}

// stop stops h gracefully: it sends priority 0 and removes the VIP.
func (d *demo) stop(h *host) {
	h.cancel()
	<-h.done
}

// awaitMaster waits for the next transition to MASTER.
func (d *demo) awaitMaster(limit time.Duration) (*host, error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case h := <-d.masters:
		return h, nil
	case <-t.C:
		return nil, fmt.Errorf("no master after %v", limit)
	}
}

func masterDown(prio uint8, interval time.Duration) time.Duration {
	return 3*interval + time.Duration(256-int(prio))*interval/256
}

func skew(prio uint8, interval time.Duration) time.Duration {
	return time.Duration(256-int(prio)) * interval / 256
}

func run(ctx context.Context, w io.Writer, interval time.Duration) error {
	if interval < vrrp.MinIntervalV3 || interval > vrrp.MaxIntervalV3 || interval%(10*time.Millisecond) != 0 {
		return fmt.Errorf("advert interval %v: want whole centiseconds in 10ms..40.95s", interval)
	}
	d := &demo{w: w, t0: time.Now(), interval: interval, hub: vrrptest.NewHub(1), masters: make(chan *host, 16)}
	hosts := []*host{
		{name: "r1", addr: netip.MustParseAddr("192.0.2.1"), prio: 200},
		{name: "r2", addr: netip.MustParseAddr("192.0.2.2"), prio: 150},
		{name: "r3", addr: netip.MustParseAddr("192.0.2.3"), prio: 100},
	}
	fmt.Fprintf(w, "vigil quickstart: 3 VRRPv3 routers, VRID 51, VIP %v, adverts every %v, in-memory segment\n\n", vip, interval)
	limit := 10*interval + time.Second
	defer func() {
		for _, h := range hosts {
			if h.cancel != nil {
				h.cancel()
			}
		}
		d.wg.Wait()
	}()
	for _, h := range hosts {
		if err := d.start(h); err != nil {
			return err
		}
	}
	m, err := d.awaitMaster(limit)
	if err != nil {
		return err
	}
	if m != hosts[0] {
		return fmt.Errorf("%s won the election, want r1 (highest priority)", m.name)
	}
	d.printf("elected: %s holds %v (VIP on r1=%v r2=%v r3=%v)\n\n", m.name, vip,
		hosts[0].addrs.Has(vip), hosts[1].addrs.Has(vip), hosts[2].addrs.Has(vip))

	if err := sleep(ctx, 5*interval+interval/3); err != nil {
		return err
	}
	d.printf("crash r1 (no priority 0 advert)\n")
	killed := time.Now()
	d.crash(hosts[0])
	m, err = d.awaitMaster(limit)
	if err != nil {
		return err
	}
	took := time.Since(killed)
	mdi := masterDown(m.prio, interval)
	d.printf("takeover: %s is master %v after the crash; RFC: Master_Down_Interval %v after r1's last advert (sent %v before the crash)\n\n",
		m.name, took.Round(time.Microsecond), mdi, (mdi - took).Round(time.Microsecond))
	if m != hosts[1] {
		return fmt.Errorf("%s took over, want r2", m.name)
	}

	if err := sleep(ctx, 5*interval); err != nil {
		return err
	}
	d.printf("restore r1: it preempts r2 after its own Master_Down_Interval (%v)\n", masterDown(hosts[0].prio, interval))
	if err := d.start(hosts[0]); err != nil {
		return err
	}
	if m, err = d.awaitMaster(limit); err != nil {
		return err
	}
	if m != hosts[0] {
		return fmt.Errorf("%s is master after r1 returned, want r1", m.name)
	}
	if err := sleep(ctx, 5*interval); err != nil {
		return err
	}
	d.mu.Lock()
	fmt.Fprintln(d.w)
	d.mu.Unlock()
	d.printf("stop r1 gracefully: priority 0, so r2 waits only Skew_Time (%v)\n", skew(hosts[1].prio, interval))
	stopped := time.Now()
	d.stop(hosts[0])
	if m, err = d.awaitMaster(limit); err != nil {
		return err
	}
	d.printf("handover: %s is master %v after the stop\n", m.name, time.Since(stopped).Round(time.Microsecond))
	if m != hosts[1] {
		return fmt.Errorf("%s took over after the graceful stop, want r2", m.name)
	}
	d.stop(hosts[2])
	d.stop(hosts[1])
	for _, h := range hosts {
		if h.addrs.Has(vip) {
			return errors.New(h.name + " kept the VIP after stopping")
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
