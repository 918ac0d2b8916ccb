// Command embedded shows vigil embedded in a Go HTTP service: each
// service runs a vigil.Supervisor that holds a virtual IP only while the
// service's own /healthz passes (a tracker of weight 0: FAULT while it
// fails) and its dependency is reachable (a tracker of weight -60: a lower
// priority while it is not). Each logs the Supervisor's events (its
// notify callbacks) and serves the Supervisor's State as JSON on /state.
//
// Two services, A (priority 150) and B (100), share a segment. A is
// elected; A's /healthz fails and B takes over; A heals and preempts; A
// loses its dependency and B takes over again; A reaches it again and
// preempts; A stops gracefully and B takes over.
//
// Without root it runs on vigiltest's in-memory platform, the health
// checks calling the handler and the dependency simulated; as root (with
// ip(8)) each service is a process in its own network namespace, with a
// real HTTP check of its /healthz, a TCP check of a dependency in a third
// namespace, and a client there that reaches whichever service holds the
// VIP:
//
//	go run ./examples/embedded              # -mode auto
//	go run ./examples/embedded -mode memory # force the in-memory platform
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/sleep"
	"github.com/vigil-ha/vigil/vigiltest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

func main() {
	if cfg := os.Getenv(childEnv); cfg != "" {
		os.Exit(childMain(cfg)) // one service of the namespace mode
	}
	o := defaults
	flag.DurationVar(&o.Advert, "advert", o.Advert, "VRRPv3 advert interval (10ms..40.95s, whole centiseconds)")
	flag.DurationVar(&o.Check, "check", o.Check, "interval of the health and dependency checks")
	mode := flag.String("mode", "auto", "auto (netns when root, else memory), memory, or netns")
	flag.Parse()
	// Interrupted, it still stops the services and deletes the
	// namespaces.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := o.validate()
	switch {
	case err != nil:
	case *mode == "auto":
		if canNetns() {
			err = runNetns(ctx, os.Stdout, o)
		} else {
			fmt.Println("(not root: running on the in-memory platform; run as root for real namespaces)")
			_, err = run(ctx, os.Stdout, o)
		}
	case *mode == "memory":
		_, err = run(ctx, os.Stdout, o)
	case *mode == "netns":
		err = runNetns(ctx, os.Stdout, o)
	default:
		err = fmt.Errorf("-mode %q: want auto, memory or netns", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "embedded:", err)
		os.Exit(1)
	}
}

var defaults = options{Advert: 100 * time.Millisecond, Check: 200 * time.Millisecond, Fall: 2, Rise: 2}

// The two services.
var nodes = []struct {
	name string
	prio uint8
	addr netip.Addr
}{
	{"A", 150, netip.MustParseAddr("192.0.2.1")},
	{"B", 100, netip.MustParseAddr("192.0.2.2")},
}

// The dependency both services check (a database, say).
var dependency = netip.MustParseAddrPort("192.0.2.3:5432")

// cluster is where the demo's services run: in memory or in namespaces.
// Nodes are indices into nodes.
type cluster interface {
	// setHealthy makes node n's /healthz pass or fail.
	setHealthy(n int, ok bool) error
	// setDependency makes the dependency reachable from node n or not.
	setDependency(n int, ok bool) error
	// hasVIP reports whether node n holds the VIP.
	hasVIP(n int) bool
	// state is node n's GET /state.
	state(n int) (string, error)
	// client is a client's GET of /healthz at the VIP: which service
	// answers.
	client() (string, error)
	// stop stops node n gracefully and waits for it.
	stop(n int) error
}

// nodeEvent is an event of a node's Supervisor.
type nodeEvent struct {
	node int
	e    vigil.Event
}

// demo tells the story over a cluster.
type demo struct {
	w      io.Writer
	t0     time.Time
	o      options
	c      cluster
	events chan nodeEvent
	ended  chan struct{} // closed when the story ended: events are not awaited
	states []vrrp.State  // the nodes' states, as await has seen them

	mu         sync.Mutex
	transcript []string
}

func newDemo(w io.Writer, o options) *demo {
	return &demo{w: w, t0: time.Now(), o: o, events: make(chan nodeEvent, 1024), ended: make(chan struct{}), states: make([]vrrp.State, len(nodes))}
}

func (d *demo) printf(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.w, "%9.3fs  ", time.Since(d.t0).Seconds())
	fmt.Fprintf(d.w, format, args...)
}

// event is node n's notify callback: it logs the event, records it in
// the transcript (with its exact time) and hands it to the demo.
func (d *demo) event(n int, e vigil.Event) {
	at := e.Time.Sub(d.t0)
	d.mu.Lock()
	fmt.Fprintf(d.w, "%9.3fs  %s  %s\n", at.Seconds(), nodes[n].name, describe(e))
	d.transcript = append(d.transcript, fmt.Sprintf("%v %s %s", at, nodes[n].name, describe(e)))
	d.mu.Unlock()
	select {
	case d.events <- nodeEvent{n, e}:
	case <-d.ended:
	}
}

// await waits until node n's instance is in state to and, if that is
// MASTER, no other node's is.
func (d *demo) await(ctx context.Context, n int, to vrrp.State) error {
	limit := 20*d.o.Advert + 4*time.Duration(max(d.o.Fall, d.o.Rise))*d.o.Check + 2*time.Second
	t := time.NewTimer(limit)
	defer t.Stop()
	done := func() bool {
		if d.states[n] != to {
			return false
		}
		for i, st := range d.states {
			if i != n && to == vrrp.Master && st == vrrp.Master {
				return false
			}
		}
		return true
	}
	for !done() {
		select {
		case ne := <-d.events:
			if ne.e.Kind == vigil.EventInstance {
				d.states[ne.node] = ne.e.To
			}
		case <-t.C:
			return fmt.Errorf("%s not %v after %v", nodes[n].name, to, limit)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// stop stops node n gracefully.
func (d *demo) stop(n int) error {
	err := d.c.stop(n)
	// Its Run returned: it is STOPPED.
	d.states[n] = vrrp.Stopped
	return err
}

// holder waits (briefly: the kernel's addresses follow the transition)
// until n alone holds the VIP, and says where the VIP is.
func (d *demo) holder(n int) (string, error) {
	deadline := time.Now().Add(time.Second)
	for {
		ok := true
		var where []string
		for i := range nodes {
			has := d.c.hasVIP(i)
			ok = ok && has == (i == n)
			where = append(where, fmt.Sprintf("%s=%v", nodes[i].name, has))
		}
		s := "VIP on " + strings.Join(where, " ")
		if ok {
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("%s: want it on %s alone", s, nodes[n].name)
		}
		time.Sleep(time.Millisecond)
	}
}

// masterDown is RFC 5798's Master_Down_Interval, skew the Skew_Time.
func masterDown(prio uint8, interval time.Duration) time.Duration {
	return 3*interval + skew(prio, interval)
}

func skew(prio uint8, interval time.Duration) time.Duration {
	return time.Duration(256-int(prio)) * interval / 256
}

// pause is the demo's pause between steps: five adverts.
func (d *demo) pause(ctx context.Context) error {
	if !sleep.For(ctx, 5*d.o.Advert) {
		return ctx.Err()
	}
	return nil
}

// story runs the demonstration over d.c, whose services are starting.
func (d *demo) story(ctx context.Context) error {
	defer close(d.ended)
	const a, b = 0, 1
	A, B := nodes[a], nodes[b]
	takeover := func(n int, what string) error {
		if err := d.await(ctx, n, vrrp.Master); err != nil {
			return err
		}
		where, err := d.holder(n)
		if err != nil {
			return err
		}
		d.printf("%s: %s holds %v (%s)\n", what, nodes[n].name, vip, where)
		got, err := d.c.client()
		if err != nil {
			return err
		}
		d.printf("a client's GET http://%v:%d/healthz: %q\n", vip.Addr(), httpPort, got)
		if want := nodes[n].name + ": ok"; got != want {
			return fmt.Errorf("the client got %q through the VIP, want %q", got, want)
		}
		return nil
	}
	step := func(format string, args ...any) error {
		if err := d.pause(ctx); err != nil {
			return err
		}
		d.mu.Lock()
		fmt.Fprintln(d.w)
		d.mu.Unlock()
		d.printf(format, args...)
		return nil
	}
	if err := takeover(a, "elected"); err != nil {
		return err
	}

	if err := step("A's /healthz starts failing: after %d failed checks (every %v) the weight-0 tracker puts A in FAULT; it resigns with priority 0 and B takes over after Skew_Time (%v)\n",
		d.o.Fall, d.o.Check, skew(B.prio, d.o.Advert)); err != nil {
		return err
	}
	if err := d.c.setHealthy(a, false); err != nil {
		return err
	}
	if err := takeover(b, "takeover"); err != nil {
		return err
	}
	st, err := d.c.state(a)
	if err != nil {
		return err
	}
	d.printf("GET /state on A: %s\n", st)

	if err := step("A's /healthz passes again: after %d passed checks A leaves FAULT for BACKUP and preempts B after its Master_Down_Interval (%v)\n",
		d.o.Rise, masterDown(A.prio, d.o.Advert)); err != nil {
		return err
	}
	if err := d.c.setHealthy(a, true); err != nil {
		return err
	}
	if err := takeover(a, "preempted"); err != nil {
		return err
	}

	if err := step("A loses its dependency %v: after %d failed checks the weight %d tracker drops A to priority %d; B ignores A's lower adverts and takes over after its Master_Down_Interval (%v)\n",
		dependency, d.o.Fall, dependencyWeight, int(A.prio)+dependencyWeight, masterDown(B.prio, d.o.Advert)); err != nil {
		return err
	}
	if err := d.c.setDependency(a, false); err != nil {
		return err
	}
	if err := takeover(b, "takeover"); err != nil {
		return err
	}

	if err := step("A reaches its dependency again: after %d passed checks it is back at priority %d and preempts B\n", d.o.Rise, A.prio); err != nil {
		return err
	}
	if err := d.c.setDependency(a, true); err != nil {
		return err
	}
	if err := takeover(a, "preempted"); err != nil {
		return err
	}

	if err := step("stop A gracefully: it sends priority 0, so B waits only Skew_Time (%v)\n", skew(B.prio, d.o.Advert)); err != nil {
		return err
	}
	if err := d.stop(a); err != nil {
		return err
	}
	if err := takeover(b, "handover"); err != nil {
		return err
	}
	d.mu.Lock()
	fmt.Fprintln(d.w)
	d.mu.Unlock()
	d.printf("stop B\n")
	if err := d.stop(b); err != nil {
		return err
	}
	for i := range nodes {
		if d.c.hasVIP(i) {
			return fmt.Errorf("%s kept the VIP after stopping", nodes[i].name)
		}
	}
	return nil
}

// memNode is a service on the in-memory platform.
type memNode struct {
	svc    *service
	p      *vigiltest.Platform
	noDep  atomic.Bool // the dependency is unreachable
	cancel context.CancelFunc
	done   chan error
}

// memCluster runs the services on vigiltest platforms sharing one
// vrrptest.Hub.
type memCluster struct{ nodes []*memNode }

func (c *memCluster) setHealthy(n int, ok bool) error {
	c.nodes[n].svc.unhealthy.Store(!ok)
	return nil
}

func (c *memCluster) setDependency(n int, ok bool) error {
	c.nodes[n].noDep.Store(!ok)
	return nil
}

func (c *memCluster) hasVIP(n int) bool { return c.nodes[n].p.Addrs("eth0").Has(vip) }

func (c *memCluster) state(n int) (string, error) {
	rec := httptest.NewRecorder()
	c.nodes[n].svc.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/state", nil))
	if rec.Code != http.StatusOK {
		return "", fmt.Errorf("GET /state on %s: %d", nodes[n].name, rec.Code)
	}
	return strings.TrimSpace(rec.Body.String()), nil
}

// client calls the /healthz handler of the node holding the VIP.
func (c *memCluster) client() (string, error) {
	for i, m := range c.nodes {
		if c.hasVIP(i) {
			rec := httptest.NewRecorder()
			m.svc.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			return strings.TrimSpace(rec.Body.String()), nil
		}
	}
	return "", errors.New("no node holds the VIP")
}

func (c *memCluster) stop(n int) error {
	m := c.nodes[n]
	if m.cancel == nil {
		return nil
	}
	m.cancel()
	m.cancel = nil
	return <-m.done
}

// run is the demonstration on the in-memory platform. It returns the
// transcript: every event of both Supervisors with its time since the
// start.
func run(ctx context.Context, w io.Writer, o options) ([]string, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	d := newDemo(w, o)
	c := &memCluster{}
	d.c = c
	fmt.Fprintf(w, "vigil embedded: HTTP services A (priority %d) and B (priority %d) embedding a vigil.Supervisor, VRID %d, VIP %v, adverts every %v;\n",
		nodes[0].prio, nodes[1].prio, vrid, vip, o.Advert)
	fmt.Fprintf(w, "trackers every %v (fall %d, rise %d): healthz (weight 0) calls the /healthz handler, dependency (weight %d) is simulated; in-memory platform\n\n",
		o.Check, o.Fall, o.Rise, dependencyWeight)
	var wg sync.WaitGroup
	// Stop what runs (the story stops both on success) and let the
	// notify callbacks finish before the transcript is read.
	finish := func() {
		for i := range c.nodes {
			c.stop(i)
		}
		wg.Wait()
	}
	defer finish()
	hub := vrrptest.NewHub(1)
	for i, nd := range nodes {
		m := &memNode{svc: newService(nd.name), done: make(chan error, 1)}
		dep := check.CheckerFunc(func(context.Context) error {
			if m.noDep.Load() {
				return fmt.Errorf("dial tcp %v: no route to host (simulated)", dependency)
			}
			return nil
		})
		p, err := vigiltest.New(vigiltest.Config{Hub: hub, Addr4: nd.addr})
		if err != nil {
			return nil, err
		}
		s, err := vigil.New(p, config(nd.prio, "eth0", o, m.svc.inMemoryHealth(), dep))
		if err != nil {
			return nil, err
		}
		m.p, m.svc.sup = p, s
		sub := s.Subscribe(256)
		wg.Go(func() { notify(sub, func(e vigil.Event) { d.event(i, e) }) })
		rctx, cancel := context.WithCancel(ctx)
		m.cancel = cancel
		wg.Go(func() { m.done <- s.Run(rctx) })
		c.nodes = append(c.nodes, m)
	}
	err := d.story(ctx)
	finish()
	return d.transcript, err
}
