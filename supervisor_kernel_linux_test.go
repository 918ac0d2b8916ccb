//go:build linux

package vigil_test

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/vigiltest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// The Supervisor's real-kernel tier: Supervisors whose Config has only
// virtual servers, on a platform whose IPVS is the kernel's, with real
// servers listening on 127.0.0.x and `ipvsadm -Ln` as the witness. They run
// in the VM of tools/ipvsvm (tools/ipvsvm/run --pkg . -- -run Kernel),
// never on the host, whose IPVS table they would change.

// kernelWait bounds how long the kernel may take to show a change: a check
// round is 250 ms and a Sync a few ms natively; the rest is room for a VM
// emulated by TCG on a loaded machine.
const kernelWait = 30 * time.Second

// needVM skips t unless it runs in the VM of tools/ipvsvm.
func needVM(tb testing.TB) {
	tb.Helper()
	if os.Getenv("IPVSVM") != "1" {
		tb.Skip("runs in the VM, against its kernel's IPVS: tools/ipvsvm/run --pkg . -- -run Kernel")
	}
}

// countingIPVS is an IPVS backend that counts and records its writes:
// one per single write, one per change of a batch (Apply).
type countingIPVS struct {
	ipvs.Backend
	mu     sync.Mutex
	writes []string // the writes since the last take, as "op key"
	// applied, if set, is called with each change written without error,
	// the time the write began and the time it returned.
	applied func(ch ipvs.Change, began, returned time.Time)
	closed  atomic.Bool
}

// countingBatcher is a countingIPVS over a Batcher: Syncers batch through
// it as they would through the backend itself.
type countingBatcher struct {
	*countingIPVS
	bt ipvs.Batcher
}

// counted wraps b; the result is a Batcher when b is one.
func counted(b ipvs.Backend) (ipvs.Backend, *countingIPVS) {
	c := &countingIPVS{Backend: b}
	if bt, ok := b.(ipvs.Batcher); ok {
		return &countingBatcher{countingIPVS: c, bt: bt}, c
	}
	return c, c
}

func (c *countingIPVS) record(changes ...ipvs.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range changes {
		c.writes = append(c.writes, ch.String())
	}
}

// done tells the applied hook, if any, that changes reached the table,
// in a write that began at began.
func (c *countingIPVS) done(changes []ipvs.Change, errs []error, began time.Time) {
	if c.applied == nil {
		return
	}
	now := time.Now()
	for i, ch := range changes {
		if errs[i] == nil {
			c.applied(ch, began, now)
		}
	}
}

// take returns the writes recorded since the last take and forgets them.
func (c *countingIPVS) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.writes
	c.writes = nil
	return w
}

func (b *countingBatcher) Apply(ctx context.Context, changes []ipvs.Change) []error {
	b.record(changes...)
	began := time.Now()
	errs := b.bt.Apply(ctx, changes)
	b.done(changes, errs, began)
	return errs
}

// one records ch, writes it with write and tells the applied hook.
func (c *countingIPVS) one(ch ipvs.Change, write func() error) error {
	c.record(ch)
	began := time.Now()
	err := write()
	c.done([]ipvs.Change{ch}, []error{err}, began)
	return err
}

func (c *countingIPVS) CreateService(ctx context.Context, s ipvs.Service) error {
	ch := ipvs.Change{Op: ipvs.OpCreateService, Service: s}
	return c.one(ch, func() error { return c.Backend.CreateService(ctx, s) })
}

func (c *countingIPVS) UpdateService(ctx context.Context, s ipvs.Service) error {
	ch := ipvs.Change{Op: ipvs.OpUpdateService, Service: s}
	return c.one(ch, func() error { return c.Backend.UpdateService(ctx, s) })
}

func (c *countingIPVS) DeleteService(ctx context.Context, k ipvs.ServiceKey) error {
	ch := ipvs.Change{Op: ipvs.OpDeleteService, Service: ipvs.Service{ServiceKey: k}}
	return c.one(ch, func() error { return c.Backend.DeleteService(ctx, k) })
}

func (c *countingIPVS) CreateDestination(ctx context.Context, k ipvs.ServiceKey, d ipvs.Destination) error {
	ch := ipvs.Change{Op: ipvs.OpCreateDestination, Service: ipvs.Service{ServiceKey: k}, Dest: d}
	return c.one(ch, func() error { return c.Backend.CreateDestination(ctx, k, d) })
}

func (c *countingIPVS) UpdateDestination(ctx context.Context, k ipvs.ServiceKey, d ipvs.Destination) error {
	ch := ipvs.Change{Op: ipvs.OpUpdateDestination, Service: ipvs.Service{ServiceKey: k}, Dest: d}
	return c.one(ch, func() error { return c.Backend.UpdateDestination(ctx, k, d) })
}

func (c *countingIPVS) DeleteDestination(ctx context.Context, k ipvs.ServiceKey, d ipvs.DestinationKey) error {
	ch := ipvs.Change{Op: ipvs.OpDeleteDestination, Service: ipvs.Service{ServiceKey: k}, Dest: ipvs.Destination{DestinationKey: d}}
	return c.one(ch, func() error { return c.Backend.DeleteDestination(ctx, k, d) })
}

func (c *countingIPVS) Close() error {
	c.closed.Store(true)
	return c.Backend.Close()
}

// ipvsPlatform is the in-memory platform with another IPVS backend.
type ipvsPlatform struct {
	*vigiltest.Platform
	b ipvs.Backend
}

func (p *ipvsPlatform) IPVS() (ipvs.Backend, error) { return p.b, nil }

// kernelSup is a running Supervisor over a counted IPVS backend.
type kernelSup struct {
	s      *vigil.Supervisor
	ipvs   *countingIPVS
	sub    *vigil.Subscription
	log    nstest.Buffer // its log, for failures
	cancel context.CancelFunc
	done   chan error
}

// startKernelSup runs a Supervisor for cfg over b (counted), with a
// subscription of n events. The Supervisor is stopped at the end of the
// test if the test has not stopped it.
func startKernelSup(tb testing.TB, b ipvs.Backend, cfg vigil.Config, n int) *kernelSup {
	tb.Helper()
	cb, c := counted(b)
	return startKernelSupWith(tb, cb, c, cfg, n)
}

// startKernelSupWith is startKernelSup over cb, the counted backend
// whose counts are c.
func startKernelSupWith(tb testing.TB, cb ipvs.Backend, c *countingIPVS, cfg vigil.Config, n int) *kernelSup {
	tb.Helper()
	p, err := vigiltest.New(vigiltest.Config{Hub: vrrptest.NewHub(1), Addr4: netip.MustParseAddr("192.0.2.1")})
	if err != nil {
		tb.Fatal(err)
	}
	ks := &kernelSup{ipvs: c, done: make(chan error, 1)}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(&ks.log, nil))
	}
	s, err := vigil.New(&ipvsPlatform{Platform: p, b: cb}, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ks.s, ks.sub = s, s.Subscribe(n)
	ctx, cancel := context.WithCancel(context.Background())
	ks.cancel = cancel
	go func() { ks.done <- s.Run(ctx) }()
	tb.Cleanup(func() {
		if ks.cancel != nil {
			ks.stop(tb)
		}
		if tb.Failed() {
			tb.Logf("the Supervisor's log:\n%s", ks.log.String())
		}
		ks.sub.Close()
		if !c.closed.Load() {
			// Platform.IPVS: "the caller closes it". The Supervisor
			// does not (see TestSupervisorKernelHealth): close it here.
			cb.Close()
		}
	})
	return ks
}

// stop ends Run and returns its error, failing after kernelWait.
func (ks *kernelSup) stop(tb testing.TB) {
	tb.Helper()
	ks.cancel()
	ks.cancel = nil
	select {
	case err := <-ks.done:
		if err != nil {
			tb.Errorf("Run: %v", err)
		}
	case <-time.After(kernelWait):
		tb.Fatalf("Run did not return %v after its context ended", kernelWait)
	}
}

// ipvsadmTable is `ipvsadm -Ln` parsed: service ("TCP  192.0.2.81:80"
// as "TCP 192.0.2.81:80") → real server ("127.0.0.2:8080") → weight.
type ipvsadmTable map[string]map[string]int

// readIPVSADM runs `ipvsadm -Ln` and parses it.
func readIPVSADM(tb testing.TB) (ipvsadmTable, string) {
	tb.Helper()
	out, err := exec.Command("ipvsadm", "-Ln").CombinedOutput()
	if err != nil {
		tb.Fatalf("ipvsadm -Ln: %v\n%s", err, out)
	}
	t := ipvsadmTable{}
	var cur map[string]int
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 2 && (f[0] == "TCP" || f[0] == "UDP" || f[0] == "SCTP" || f[0] == "FWM"):
			cur = map[string]int{}
			t[f[0]+" "+f[1]] = cur
		case len(f) >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port" && cur != nil:
			w, err := strconv.Atoi(f[3])
			if err != nil {
				tb.Fatalf("ipvsadm -Ln: weight %q: %v\n%s", f[3], err, out)
			}
			cur[f[1]] = w
		}
	}
	return t, string(out)
}

// waitKernel waits until `ipvsadm -Ln` shows service svc ("TCP
// 192.0.2.81:80") with exactly the real servers and weights of want, or
// without svc when want is nil, failing after kernelWait.
func waitKernel(tb testing.TB, svc string, want map[string]int, what string) {
	tb.Helper()
	start := time.Now()
	for {
		t, out := readIPVSADM(tb)
		got, ok := t[svc]
		if (want == nil && !ok) || (want != nil && ok && maps.Equal(got, want)) {
			tb.Logf("%s: in the kernel after %v", what, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > kernelWait {
			tb.Fatalf("%s: after %v `ipvsadm -Ln` shows %s as %v, want %v:\n%s", what, kernelWait, svc, got, want, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// flakyListener is a TCP listener on addr that can be closed and opened
// again on the same port; it accepts and closes connections.
type flakyListener struct {
	addr netip.AddrPort
	mu   sync.Mutex
	ln   net.Listener
	wg   sync.WaitGroup
}

func listen(tb testing.TB, host string) *flakyListener {
	tb.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		tb.Fatal(err)
	}
	l := &flakyListener{addr: netip.MustParseAddrPort(ln.Addr().String())}
	l.serve(ln)
	tb.Cleanup(l.close)
	return l
}

func (l *flakyListener) serve(ln net.Listener) {
	l.ln = ln
	l.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	})
}

func (l *flakyListener) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		l.ln.Close()
		l.wg.Wait()
		l.ln = nil
	}
}

func (l *flakyListener) open(tb testing.TB) {
	tb.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	ln, err := net.Listen("tcp", l.addr.String())
	if err != nil {
		tb.Fatal(err)
	}
	l.serve(ln)
}

// kernelRS is a real server at a with weight w, checked by c every 250 ms
// (fall 1, rise 1).
func kernelRS(a netip.AddrPort, w int, c check.Checker) vigil.RealServer {
	rs := vigil.RealServer{RealServer: ipvs.RealServer{Destination: ipvs.Destination{
		DestinationKey: ipvs.DestinationKey{Addr: a.Addr(), Port: a.Port()}, Forward: ipvs.Masquerade, Weight: w}}}
	if c != nil {
		rs.Checks = []vigil.RealServerCheck{{Checker: c,
			Policy: check.Policy{Interval: 250 * time.Millisecond, Timeout: 2 * time.Second, Warmup: -1}}}
	}
	return rs
}

func tcpSvc(s string) ipvs.ServiceKey {
	a := netip.MustParseAddrPort(s)
	return ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: a.Addr(), Port: a.Port()}
}

// awaitEvent waits for an event of kind about dest (any when dest is
// zero), failing after kernelWait.
func (ks *kernelSup) awaitEvent(tb testing.TB, kind vigil.EventKind, svc ipvs.ServiceKey, dest netip.AddrPort) vigil.Event {
	tb.Helper()
	timeout := time.After(kernelWait)
	for {
		select {
		case e, ok := <-ks.sub.C():
			if !ok {
				tb.Fatalf("events closed before %v of %v", kind, dest)
			}
			if e.Kind == kind && e.Service == svc && (!dest.IsValid() || (e.Dest.Addr == dest.Addr() && e.Dest.Port == dest.Port())) {
				return e
			}
		case <-timeout:
			tb.Fatalf("no %v event of %v %v in %v; log:\n%s", kind, svc, dest, kernelWait, ks.log.String())
		}
	}
}

// TestSupervisorKernelHealth runs a Supervisor over the kernel's IPVS with
// two virtual servers whose real servers are listeners on 127.0.0.x:
//
//   - 192.0.2.81:80: A and B checked by TCP_CHECK, C by HTTP_GET, D by
//     TCP_CHECK with inhibit_on_failure. B's listener closes: B leaves
//     the kernel's table; it listens again: B is back with its weight.
//     C's server answers 503: C leaves; 200 again: C is back. D's listener
//     closes: D stays with weight 0; it listens again: its weight is back.
//     Each change comes with its EventServerDown or EventServerUp.
//   - 192.0.2.82:80: E and F (weight 1 each) with quorum 2 and a sorry
//     server: E's listener closes, the quorum is lost (EventQuorumDown) and
//     the kernel holds the sorry server alone; E listens again, the quorum
//     is back (EventQuorumUp) and the sorry server is gone.
//
// When Run returns, both services are gone from the kernel.
func TestSupervisorKernelHealth(t *testing.T) {
	needVM(t)
	k, err := ipvs.Open(ipvs.KernelConfig{})
	if err != nil {
		t.Fatal(err)
	}
	a, b, d := listen(t, "127.0.0.2"), listen(t, "127.0.0.3"), listen(t, "127.0.0.5")
	e, f := listen(t, "127.0.0.6"), listen(t, "127.0.0.7")
	var c503 atomic.Bool
	hln, err := net.Listen("tcp", "127.0.0.4:0")
	if err != nil {
		t.Fatal(err)
	}
	hsrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c503.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})}
	var hwg sync.WaitGroup
	hwg.Go(func() { hsrv.Serve(hln) })
	defer func() { hsrv.Close(); hwg.Wait() }()
	c := netip.MustParseAddrPort(hln.Addr().String())

	svc1, svc2 := tcpSvc("192.0.2.81:80"), tcpSvc("192.0.2.82:80")
	inhibit := kernelRS(d.addr, 4, &check.TCP{Addr: d.addr})
	inhibit.InhibitOnFailure = true
	sorry := ipvs.Destination{DestinationKey: ipvs.DestinationKey{Addr: netip.MustParseAddr("127.0.0.9"), Port: 80}, Forward: ipvs.Masquerade, Weight: 1}
	cfg := vigil.Config{VirtualServers: []vigil.VirtualServer{{
		Service: ipvs.Service{ServiceKey: svc1, Scheduler: ipvs.WeightedRoundRobin},
		RealServers: []vigil.RealServer{
			kernelRS(a.addr, 1, &check.TCP{Addr: a.addr}),
			kernelRS(b.addr, 2, &check.TCP{Addr: b.addr}),
			kernelRS(c, 3, &check.HTTP{Addr: c, Path: "/health"}),
			inhibit,
		},
	}, {
		Service:     ipvs.Service{ServiceKey: svc2, Scheduler: ipvs.RoundRobin},
		RealServers: []vigil.RealServer{kernelRS(e.addr, 1, &check.TCP{Addr: e.addr}), kernelRS(f.addr, 1, &check.TCP{Addr: f.addr})},
		Quorum:      2,
		SorryServer: &sorry,
	}}}
	ks := startKernelSup(t, k, cfg, 1024)

	s1, s2 := "TCP "+svc1.Addr.String()+":80", "TCP "+svc2.Addr.String()+":80"
	all1 := map[string]int{a.addr.String(): 1, b.addr.String(): 2, c.String(): 3, d.addr.String(): 4}
	all2 := map[string]int{e.addr.String(): 1, f.addr.String(): 1}
	without := func(m map[string]int, k string) map[string]int {
		m = maps.Clone(m)
		delete(m, k)
		return m
	}
	with := func(m map[string]int, k string, w int) map[string]int {
		m = maps.Clone(m)
		m[k] = w
		return m
	}
	waitKernel(t, s1, all1, "start: "+s1)
	waitKernel(t, s2, all2, "start: "+s2)

	b.close()
	ev := ks.awaitEvent(t, vigil.EventServerDown, svc1, b.addr)
	t.Logf("B down: %q", ev.Err)
	waitKernel(t, s1, without(all1, b.addr.String()), "B's listener closed")
	b.open(t)
	ks.awaitEvent(t, vigil.EventServerUp, svc1, b.addr)
	waitKernel(t, s1, all1, "B listens again")

	c503.Store(true)
	ev = ks.awaitEvent(t, vigil.EventServerDown, svc1, c)
	t.Logf("C down: %q", ev.Err)
	waitKernel(t, s1, without(all1, c.String()), "C answers 503")
	c503.Store(false)
	ks.awaitEvent(t, vigil.EventServerUp, svc1, c)
	waitKernel(t, s1, all1, "C answers 200")

	d.close()
	ks.awaitEvent(t, vigil.EventServerDown, svc1, d.addr)
	waitKernel(t, s1, with(all1, d.addr.String(), 0), "D's listener closed (inhibit_on_failure)")
	d.open(t)
	ks.awaitEvent(t, vigil.EventServerUp, svc1, d.addr)
	waitKernel(t, s1, all1, "D listens again")

	e.close()
	ks.awaitEvent(t, vigil.EventServerDown, svc2, e.addr)
	ks.awaitEvent(t, vigil.EventQuorumDown, svc2, netip.AddrPort{})
	waitKernel(t, s2, map[string]int{sorry.Addr.String() + ":80": 1}, "E's listener closed: quorum lost")
	e.open(t)
	ks.awaitEvent(t, vigil.EventServerUp, svc2, e.addr)
	ks.awaitEvent(t, vigil.EventQuorumUp, svc2, netip.AddrPort{})
	waitKernel(t, s2, all2, "E listens again: quorum back")

	st := ks.s.State()
	if len(st.VirtualServers) != 2 || !st.VirtualServers[1].Quorum || st.VirtualServers[1].SorryServer {
		t.Errorf("State().VirtualServers: %+v", st.VirtualServers)
	}

	ks.stop(t)
	waitKernel(t, s1, nil, "Run returned: "+s1)
	waitKernel(t, s2, nil, "Run returned: "+s2)
	if !ks.ipvs.closed.Load() {
		t.Error("Run returned without closing the IPVS backend Platform.IPVS opened")
	}
}

// TestSupervisorKernelReload reloads a running Supervisor over the
// kernel's IPVS and counts the writes: a configuration that changes one
// real server's weight writes exactly one IPVS operation (an update of
// that destination), one that adds a real server exactly one (its
// creation), an unchanged one none, and Run's end exactly one (the
// service's deletion, which takes its destinations with it). The count
// of each step is taken when `ipvsadm -Ln` shows it, and every write of a
// step reaches the table before the next step's, so a stray write shows
// in the next count.
func TestSupervisorKernelReload(t *testing.T) {
	needVM(t)
	k, err := ipvs.Open(ipvs.KernelConfig{})
	if err != nil {
		t.Fatal(err)
	}
	lns := []*flakyListener{listen(t, "127.0.0.12"), listen(t, "127.0.0.13"), listen(t, "127.0.0.14")}
	svc := tcpSvc("192.0.2.83:80")
	vs := func(n int, w1 int) vigil.Config {
		v := vigil.VirtualServer{Service: ipvs.Service{ServiceKey: svc, Scheduler: ipvs.WeightedRoundRobin}}
		for i, l := range lns[:n] {
			w := 1
			if i == 1 {
				w = w1
			}
			v.RealServers = append(v.RealServers, kernelRS(l.addr, w, &check.TCP{Addr: l.addr}))
		}
		return vigil.Config{VirtualServers: []vigil.VirtualServer{v}}
	}
	s := "TCP " + svc.Addr.String() + ":80"
	rs := func(ws ...int) map[string]int {
		m := map[string]int{}
		for i, w := range ws {
			m[lns[i].addr.String()] = w
		}
		return m
	}
	ks := startKernelSup(t, k, vs(2, 1), 1024)
	waitKernel(t, s, rs(1, 1), "start")
	if w := ks.ipvs.take(); len(w) != 3 {
		t.Errorf("start: %d writes, want 3 (service, 2 destinations): %q", len(w), w)
	}

	step := func(what string, cfg vigil.Config, want map[string]int, writes int, check func(vigil.Changes)) {
		t.Helper()
		ch, err := ks.s.Reload(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: Reload: %v", what, err)
		}
		check(ch)
		waitKernel(t, s, want, what)
		w := ks.ipvs.take()
		t.Logf("%s: writes %q", what, w)
		if len(w) != writes {
			t.Errorf("%s: %d IPVS writes, want %d: %q", what, len(w), writes, w)
		}
	}
	rsKey := func(i int) vigil.RealServerKey {
		return vigil.RealServerKey{Service: svc, Dest: ipvs.DestinationKey{Addr: lns[i].addr.Addr(), Port: lns[i].addr.Port()}}
	}
	step("weight 1 → 5", vs(2, 5), rs(1, 5), 1, func(ch vigil.Changes) {
		if vc := ch.VirtualServers; !slices.Equal(vc.ChangedRealServers, []vigil.RealServerKey{rsKey(1)}) || len(vc.AddedRealServers)+len(vc.RemovedRealServers)+len(vc.ChangedServices) != 0 {
			t.Errorf("weight 1 → 5: changes %+v", vc)
		}
	})
	step("a third real server", vs(3, 5), rs(1, 5, 1), 1, func(ch vigil.Changes) {
		if vc := ch.VirtualServers; !slices.Equal(vc.AddedRealServers, []vigil.RealServerKey{rsKey(2)}) || len(vc.ChangedRealServers)+len(vc.RemovedRealServers)+len(vc.ChangedServices) != 0 {
			t.Errorf("a third real server: changes %+v", vc)
		}
	})
	step("unchanged", vs(3, 5), rs(1, 5, 1), 0, func(ch vigil.Changes) {
		if !ch.VirtualServers.Empty() {
			t.Errorf("unchanged: changes %+v", ch.VirtualServers)
		}
	})
	ks.stop(t)
	waitKernel(t, s, nil, "Run returned")
	if w := ks.ipvs.take(); len(w) != 1 {
		t.Errorf("Run's end: %d writes, want 1 (the service's deletion): %q", len(w), w)
	}
}
