package vrrp_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var vip = netip.MustParsePrefix("192.0.2.100/24")

// node is one simulated host running one router.
type node struct {
	t      *testing.T
	name   string
	conn   *vrrptest.Conn
	addrs  *vrrptest.Addrs
	ann    *vrrptest.Announcer
	r      *vrrp.Router
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	events []vrrp.Event
}

// sim is a segment of nodes inside a synctest bubble; t0 is the bubble's start.
type sim struct {
	t   *testing.T
	hub *vrrptest.Hub
	t0  time.Time
}

func newSim(t *testing.T) *sim {
	return &sim{t: t, hub: vrrptest.NewHub(1), t0: time.Now()}
}

func baseConfig(name string, prio uint8) vrrp.Config {
	return vrrp.Config{Name: name, VRID: 51, Version: vrrp.V2, Priority: prio, Interval: time.Second,
		VIPs: []netip.Prefix{vip}}
}

// join attaches a host with address addr to the segment.
func (s *sim) join(addr string) *vrrptest.Conn {
	c, err := s.hub.Join(netip.MustParseAddr(addr))
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// start runs a router for cfg on conn.
func (s *sim) start(cfg vrrp.Config, conn *vrrptest.Conn) *node {
	s.t.Helper()
	n := &node{t: s.t, name: cfg.Name, conn: conn, addrs: vrrptest.NewAddrs(), ann: &vrrptest.Announcer{}, done: make(chan struct{})}
	r, err := vrrp.NewRouter(conn, n.addrs, n.ann, cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	n.r = r
	runNode(s.t, n)
	return n
}

// runNode runs n's router and records its events until Run returns.
func runNode(t *testing.T, n *node) {
	sub := n.r.Subscribe(64)
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() {
		if err := n.r.Run(ctx); err != nil {
			t.Errorf("%s: Run: %v", n.name, err)
		}
	}()
	go func() {
		defer close(n.done)
		for e := range sub.C() { // closed when Run returns
			n.record(e)
		}
	}()
}

func (n *node) record(e vrrp.Event) {
	n.mu.Lock()
	n.events = append(n.events, e)
	n.mu.Unlock()
}

// stop shuts the router down gracefully and waits for Run to return.
func (n *node) stop() {
	n.cancel()
	<-n.done
}

// crash makes the router vanish without a word: its link is cut first, so
// the priority 0 of its shutdown reaches nobody.
func (n *node) crash() {
	n.conn.Cut()
	n.stop()
}

// becameAt returns the times of the node's transitions into state to.
func (n *node) becameAt(s *sim, to vrrp.State) []time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []time.Duration
	for _, e := range n.events {
		if e.To == to {
			out = append(out, e.Time.Sub(s.t0))
		}
	}
	return out
}

func (n *node) history(s *sim) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out string
	for _, e := range n.events {
		out += fmt.Sprintf(" %v:%v->%v(%v)", e.Time.Sub(s.t0), e.From, e.To, e.Reason)
	}
	return n.name + out
}

// sleepUntil advances virtual time to t0+d and lets everything settle.
func (s *sim) sleepUntil(d time.Duration) {
	time.Sleep(time.Until(s.t0.Add(d)))
	synctest.Wait()
}

func wantState(t *testing.T, s *sim, n *node, want vrrp.State) {
	t.Helper()
	if got := n.r.State(); got != want {
		t.Fatalf("%s: state %v, want %v; history: %s", n.name, got, want, n.history(s))
	}
}

func wantBecame(t *testing.T, s *sim, n *node, to vrrp.State, want ...time.Duration) {
	t.Helper()
	got := n.becameAt(s, to)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: became %v at %v, want %v; history: %s", n.name, to, got, want, n.history(s))
	}
}

const (
	// Master_Down_Interval and Skew_Time for v2, 1 s adverts.
	down100 = 3609375 * time.Microsecond   // priority 100
	down150 = 3414062500 * time.Nanosecond // priority 150
	down200 = 3218750 * time.Microsecond   // priority 200
	skew100 = 609375 * time.Microsecond
	skew150 = 414062500 * time.Nanosecond
)

var (
	vip2 = netip.MustParsePrefix("192.0.2.101/24")
	vip3 = netip.MustParsePrefix("192.0.2.102/24")
)

// heard is one advert a sniffer received.
type heard struct {
	at  time.Duration // since the sim's start
	src netip.Addr
	adv vrrp.Advertisement
}

func (h heard) String() string {
	return fmt.Sprintf("%v:%v:prio %d/%v/%v", h.at, h.src, h.adv.Priority, h.adv.Interval, h.adv.Addrs)
}

// sniffer is a host on the segment that only listens.
type sniffer struct {
	s      *sim
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	all    []heard
}

// sniff joins the segment with addr and records every advert it receives.
func (s *sim) sniff(addr string) *sniffer {
	c := s.join(addr)
	ctx, cancel := context.WithCancel(context.Background())
	sn := &sniffer{s: s, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(sn.done)
		b := make([]byte, 1500)
		for {
			n, info, err := c.ReadAdvert(ctx, b)
			if err != nil {
				return
			}
			a, err := vrrp.Parse(b[:n], info.Src, info.Dst)
			if err != nil {
				s.t.Errorf("sniffer: %v", err)
				continue
			}
			sn.mu.Lock()
			sn.all = append(sn.all, heard{at: time.Since(s.t0), src: info.Src, adv: *a})
			sn.mu.Unlock()
		}
	}()
	return sn
}

func (sn *sniffer) stop() { sn.cancel(); <-sn.done }

// from returns the adverts src sent in [from, to).
func (sn *sniffer) from(src string, from, to time.Duration) []heard {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	var out []heard
	for _, h := range sn.all {
		if h.src == netip.MustParseAddr(src) && h.at >= from && h.at < to {
			out = append(out, h)
		}
	}
	return out
}

// opsAfter returns n's address operations at or after d, as "+[...]" for
// an add (with "!" when not accepting) and "-[...]" for a removal.
func (n *node) opsAfter(s *sim, d time.Duration) string {
	var out []string
	for _, op := range n.addrs.Ops() {
		if op.Time.Sub(s.t0) < d {
			continue
		}
		sign := "-"
		if op.Add {
			sign = "+"
			if !op.Accept {
				sign = "+!"
			}
		}
		out = append(out, fmt.Sprint(sign, op.VIPs))
	}
	return strings.Join(out, " ")
}

// announcedAfter returns the addresses n announced at or after d.
func (n *node) announcedAfter(s *sim, d time.Duration) string {
	var out []string
	for _, an := range n.ann.All() {
		if an.Time.Sub(s.t0) >= d {
			out = append(out, fmt.Sprint(an.Addrs))
		}
	}
	return strings.Join(out, " ")
}

func prefixAddrs(ps []netip.Prefix) []netip.Addr {
	out := make([]netip.Addr, len(ps))
	for i, p := range ps {
		out[i] = p.Addr()
	}
	return out
}
