package vigil

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/notify"
)

// eventChan is an emitter that sends the events to a channel.
type eventChan chan Event

func (c eventChan) emit(e Event)                                    { c <- e }
func (c eventChan) notify(string, fifoKind, string, ...notify.Call) {}

// TestVirtualServerKernel runs the engine over the kernel's IPVS with TCP
// checks of two listeners on lo: a listener that closes takes its real
// server out of the kernel's table, one that listens again puts it back,
// and stopping removes the service. It runs in the VM of tools/ipvsvm
// (tools/ipvsvm/run --pkg . -- -run TestVirtualServerKernel), never on
// the host, whose IPVS table it would change.
func TestVirtualServerKernel(t *testing.T) {
	if os.Getenv("IPVSVM") != "1" {
		t.Skip("runs in the VM: tools/ipvsvm/run --pkg . -- -run TestVirtualServerKernel")
	}
	k, err := ipvs.Open(ipvs.KernelConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()

	var lns [2]net.Listener
	var addrs [2]netip.AddrPort
	for i := range lns {
		if lns[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		addrs[i] = netip.MustParseAddrPort(lns[i].Addr().String())
	}
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	// A refused connection fails at once: the timeout only bounds a
	// stall, which under TCG on a loaded machine can pass 100 ms and fail
	// a server that is up.
	pol := check.Policy{Interval: 200 * time.Millisecond, Timeout: 2 * time.Second, Warmup: -1}
	vs := VirtualServer{Service: ipvs.Service{ServiceKey: tcpKey("192.0.2.80:80"), Scheduler: ipvs.WeightedRoundRobin}}
	for _, a := range addrs {
		vs.RealServers = append(vs.RealServers, RealServer{
			RealServer: ipvs.RealServer{Destination: ipvs.Destination{DestinationKey: ipvs.DestinationKey{Addr: a.Addr(), Port: a.Port()}, Forward: ipvs.Masquerade, Weight: 1}},
			Checks:     []RealServerCheck{{Checker: &check.TCP{Addr: a}, Policy: pol}},
		})
	}
	events := make(eventChan, 16)
	g := check.NewGroup(check.GroupConfig{})
	var logb nstest.Buffer // the engine's and the Balancer's log, for a failure
	log := slog.New(slog.NewTextHandler(&logb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v, err := newVirtualServers(g, k, &Config{VirtualServers: []VirtualServer{vs}}, events, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { g.Run(ctx) })
	var verr error
	wg.Go(func() { verr = v.run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	dests := func() []ipvs.DestinationKey {
		t.Helper()
		ds, err := k.Destinations(context.Background(), vs.Service.ServiceKey)
		if err != nil {
			t.Fatal(err)
		}
		var out []ipvs.DestinationKey
		for _, d := range ds {
			out = append(out, d.DestinationKey)
		}
		slices.SortFunc(out, ipvs.DestinationKey.Compare)
		return out
	}
	// wait waits for the event of kind about addrs[1] (reported after
	// the Sync that wrote it), logging the others, failing after 10 s.
	wait := func(kind EventKind) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case e := <-events:
				if e.Kind == kind && e.Dest.Port == addrs[1].Port() {
					return
				}
				t.Logf("event %v %v (%s)", e.Kind, e.Dest, e.Err)
			case <-timeout:
				t.Fatalf("no %v event in 10 s; log:\n%s", kind, logb.String())
			}
		}
	}
	// holds fails unless the kernel holds want, with the events of the
	// next second and the log.
	holds := func(want []ipvs.DestinationKey) {
		t.Helper()
		got := dests()
		if slices.Equal(got, want) {
			return
		}
		var then []string
		for to := time.After(time.Second); ; {
			select {
			case e := <-events:
				then = append(then, e.Kind.String()+" "+e.Dest.String()+" ("+e.Err+")")
				continue
			case <-to:
			}
			break
		}
		t.Fatalf("kernel holds %v, want %v (%v is the one that went down and up); the events that followed: %q; log:\n%s",
			got, want, addrs[1], then, logb.String())
	}
	both := []ipvs.DestinationKey{{Addr: addrs[0].Addr(), Port: addrs[0].Port()}, {Addr: addrs[1].Addr(), Port: addrs[1].Port()}}
	slices.SortFunc(both, ipvs.DestinationKey.Compare)

	// The first Sync: wait for the service through a down and up cycle.
	lns[1].Close()
	start := time.Now()
	wait(EventServerDown)
	t.Logf("down after %v", time.Since(start))
	holds([]ipvs.DestinationKey{{Addr: addrs[0].Addr(), Port: addrs[0].Port()}})
	if lns[1], err = net.Listen("tcp", addrs[1].String()); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	wait(EventServerUp)
	t.Logf("up after %v", time.Since(start))
	holds(both)

	cancel()
	wg.Wait()
	if verr != nil {
		t.Fatal(verr)
	}
	svcs, err := k.Services(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs {
		if s.ServiceKey == vs.Service.ServiceKey {
			t.Fatal("the service is still in the kernel after run")
		}
	}
}
