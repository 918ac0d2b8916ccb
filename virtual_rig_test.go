package vigil

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
	"github.com/vigil-ha/vigil/notify"
)

// recorder is a fake emitter that records events and notifications.
type recorder struct {
	mu     sync.Mutex
	events []Event
	notes  []string
}

func (r *recorder) emit(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// notify records "KEY | LINE | SCRIPT..." (the line without its newline).
func (r *recorder) notify(key string, kind fifoKind, line string, calls ...notify.Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := key + " | " + strings.TrimSuffix(line, "\n") + " |"
	if kind != fifoLVS {
		s += " kind " + fmt.Sprint(kind)
	}
	for _, c := range calls {
		if c.Script != nil {
			s += " " + strings.Join(c.Script.Args, " ")
		}
	}
	r.notes = append(r.notes, s)
}

// take returns the events, as "kind service dest err", and the notes
// recorded since the last take.
func (r *recorder) take() (events, notes []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		s := e.Kind.String() + " " + e.Service.String()
		if e.Dest.Addr.IsValid() {
			s += " " + e.Dest.String()
		}
		if e.Err != "" {
			s += " err=" + e.Err
		}
		events = append(events, s)
	}
	notes = r.notes
	r.events, r.notes = nil, nil
	return events, notes
}

func (r *recorder) want(t *testing.T, events, notes []string) {
	t.Helper()
	ge, gn := r.take()
	if !slices.Equal(ge, events) {
		t.Errorf("events\n%q\nwant\n%q", ge, events)
	}
	if !slices.Equal(gn, notes) {
		t.Errorf("notes\n%q\nwant\n%q", gn, notes)
	}
}

// fake is a checker the test flips; it counts its attempts. Its identity
// is its pointer.
type fake struct {
	fail atomic.Bool
	runs atomic.Int64
}

func (f *fake) Check(context.Context) error {
	f.runs.Add(1)
	if f.fail.Load() {
		return errors.New("connection refused")
	}
	return nil
}

// weighted is a fake check.WeightedChecker reporting weight, like a
// misc_dynamic Exec.
type weighted struct {
	fake
	weight atomic.Int64
}

func (w *weighted) CheckWeight(ctx context.Context) (int, bool, error) {
	err := w.Check(ctx)
	return int(w.weight.Load()), err == nil, err
}

// fast is the policy of the tests' checks: a round every second from the
// start, down after 3 failed rounds, up after 2 passed ones.
var fast = check.Policy{Interval: time.Second, Fall: 3, Rise: 2, Warmup: -1}

func tcpKey(s string) ipvs.ServiceKey {
	ap := netip.MustParseAddrPort(s)
	return ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: ap.Addr(), Port: ap.Port()}
}

func dkey(s string) ipvs.DestinationKey {
	ap := netip.MustParseAddrPort(s)
	return ipvs.DestinationKey{Addr: ap.Addr(), Port: ap.Port()}
}

func script(name string) *notify.Script { return &notify.Script{Args: []string{name}} }

// realServer is a real server at addr with weight w checked by checks
// under fast.
func realServer(addr string, w int, checks ...check.Checker) RealServer {
	rs := RealServer{RealServer: ipvs.RealServer{Destination: ipvs.Destination{
		DestinationKey: dkey(addr), Forward: ipvs.Masquerade, Weight: w}}}
	for _, c := range checks {
		rs.Checks = append(rs.Checks, RealServerCheck{Checker: c, Policy: fast})
	}
	return rs
}

func virtualServer(key string, rss ...RealServer) VirtualServer {
	return VirtualServer{Service: ipvs.Service{ServiceKey: tcpKey(key), Scheduler: ipvs.WeightedRoundRobin}, RealServers: rss}
}

// rig is an engine over an in-memory table with a running check.Group,
// in a synctest bubble.
type rig struct {
	t     *testing.T
	tab   *ipvstest.Table
	g     *check.Group
	em    *recorder
	v     *virtualServers
	start time.Time
	stop  func() error
}

func newRig(t *testing.T, cfg *Config) *rig {
	t.Helper()
	r := &rig{t: t, tab: ipvstest.New(), em: &recorder{}, start: time.Now()}
	r.g = check.NewGroup(check.GroupConfig{Rand: rand.New(rand.NewPCG(1, 2))})
	v, err := newVirtualServers(r.g, r.tab, cfg, r.em, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.v = v
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg   sync.WaitGroup
		verr error
		once sync.Once
	)
	wg.Go(func() { r.g.Run(ctx) })
	wg.Go(func() { verr = v.run(ctx) })
	r.stop = func() error {
		once.Do(func() { cancel(); wg.Wait() })
		return verr
	}
	t.Cleanup(func() { r.stop() })
	synctest.Wait()
	return r
}

// at sleeps until d after the rig's start and waits for the bubble to
// settle.
func (r *rig) at(d time.Duration) {
	r.t.Helper()
	if now := time.Since(r.start); d < now {
		r.t.Fatalf("at %v: already %v", d, now)
	}
	time.Sleep(d - time.Since(r.start))
	synctest.Wait()
}

// table returns the table as "service: dest/weight dest/weight; ...".
func (r *rig) table() string {
	var out []string
	for _, vs := range r.tab.Table() {
		s := vs.ServiceKey.String() + ":"
		for _, d := range vs.Destinations {
			s += fmt.Sprintf(" %v/%d", d.DestinationKey, d.Weight)
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

func (r *rig) wantTable(want string) {
	r.t.Helper()
	if got := r.table(); got != want {
		r.t.Fatalf("at %v the table holds\n%s\nwant\n%s", time.Since(r.start), got, want)
	}
}

// reload reloads cfg and waits for the Balancer to apply it.
func (r *rig) reload(cfg *Config) VirtualServerChanges {
	r.t.Helper()
	r.tab.ResetCounts()
	ch, err := r.v.reload(cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	synctest.Wait()
	return ch
}

// wantWrites checks the writes the table saw since the last reset, by
// kind, and resets the counts.
func (r *rig) wantWrites(want map[ipvs.Op]int) {
	r.t.Helper()
	for _, op := range []ipvs.Op{ipvs.OpCreateService, ipvs.OpUpdateService, ipvs.OpDeleteService, ipvs.OpCreateDestination, ipvs.OpUpdateDestination, ipvs.OpDeleteDestination} {
		if got := r.tab.Count(op); got != want[op] {
			r.t.Errorf("%v: %d, want %d", op, got, want[op])
		}
	}
	r.tab.ResetCounts()
}
