//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/bench/internal/benchkit"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
	"github.com/vigil-ha/vigil/vigiltest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// settle is how long after a Reload the writes to the IPVS table are
// still counted as the reload's.
const settle = 300 * time.Millisecond

// rsRef names real server j of virtual server i.
type rsRef struct{ vs, rs int }

// serviceKey is virtual server i's IPVS service.
func serviceKey(i int) ipvs.ServiceKey {
	return ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: vsAddr, Port: basePort + uint16(i)}
}

// scaleConfig is the Supervisor's configuration: c.vs virtual servers
// (rr, NAT) of c.rs real servers each, weight 1, each with one check.TCP
// of its address and port every c.delay with a c.timeout connect timeout
// (keepalived's TCP_CHECK, delay_loop, connect_timeout). The real server
// heavy, if set, has weight 2. Every call makes new values, as a parser
// would for a reload.
func scaleConfig(c *config, heavy *rsRef, log *slog.Logger) vigil.Config {
	cfg := vigil.Config{Logger: log, VirtualServers: make([]vigil.VirtualServer, c.vs)}
	for i := range c.vs {
		vs := vigil.VirtualServer{
			Service:     ipvs.Service{ServiceKey: serviceKey(i), Scheduler: ipvs.RoundRobin},
			RealServers: make([]vigil.RealServer, c.rs),
		}
		for j := range c.rs {
			w := 1
			if heavy != nil && *heavy == (rsRef{i, j}) {
				w = 2
			}
			addr := rsAddr(j)
			vs.RealServers[j] = vigil.RealServer{
				RealServer: ipvs.RealServer{Destination: ipvs.Destination{
					DestinationKey: ipvs.DestinationKey{Addr: addr, Port: basePort + uint16(i)},
					Forward:        ipvs.Masquerade,
					Weight:         w,
				}},
				Checks: []vigil.RealServerCheck{{
					Checker: &check.TCP{Addr: netip.AddrPortFrom(addr, basePort+uint16(i))},
					Policy:  check.Policy{Interval: c.delay, Timeout: c.timeout},
				}},
			}
		}
		cfg.VirtualServers[i] = vs
	}
	return cfg
}

// childVigil runs the Supervisor over the in-memory IPVS table and
// answers each SIGUSR1 with its state and the reload measurements.
func childVigil(c *config, stdout, stderr io.Writer) error {
	usr1, term := benchkit.ChildSignals()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	base := scaleConfig(c, nil, log)
	p, err := vigiltest.New(vigiltest.Config{Hub: vrrptest.NewHub(1)})
	if err != nil {
		return err
	}
	table := p.Table()
	t0 := time.Now()
	sup, err := vigil.New(p, base)
	if err != nil {
		return err
	}
	newDur := time.Since(t0)
	sub := sup.Subscribe(1024)
	type downs struct {
		n     int
		first string
	}
	downc := make(chan downs, 1)
	downc <- downs{}
	go func() {
		for e := range sub.C() {
			if e.Kind == vigil.EventServerDown {
				d := <-downc
				d.n++
				if d.first == "" {
					d.first = e.Dest.String() + ": " + e.Err
				}
				downc <- d
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	t1 := time.Now()
	go func() { runErr <- sup.Run(ctx) }()

	want := c.vs * c.rs
	deadline := time.Now().Add(time.Minute)
	for countDests(table) != want {
		if time.Now().After(deadline) {
			return fmt.Errorf("the IPVS table holds %d destinations after a minute, want %d", countDests(table), want)
		}
		select {
		case err := <-runErr:
			return fmt.Errorf("vigil: Run returned before the table was complete: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	prof, err := startProfile(c.profile, "steady-cpu.pprof")
	if err != nil {
		return err
	}
	benchkit.Say(stdout, message{Ready: true, NewMs: ms(newDur), TableMs: ms(time.Since(t1)), Dests: want})

	for {
		select {
		case <-usr1:
			prof.stop()
			if err := writeHeap(c.profile); err != nil {
				return err
			}
			m := message{Report: true, Dests: countDests(table)}
			for _, vs := range sup.State().VirtualServers {
				for _, rs := range vs.RealServers {
					if rs.Up {
						m.Up++
					} else {
						m.Down++
					}
					if rs.Err != "" && m.FirstErr == "" {
						m.FirstErr = rs.Name + ": " + rs.Err
					}
				}
			}
			d := <-downc
			m.Downs = d.n
			if m.FirstErr == "" {
				m.FirstErr = d.first
			}
			downc <- d
			rprof, err := startProfile(c.profile, "reload-cpu.pprof")
			if err != nil {
				return err
			}
			m.Reloads, err = measureReloads(ctx, c, sup, table, log)
			if err != nil {
				m.ReloadsErr = err.Error()
			}
			rprof.stop()
			benchkit.Say(stdout, m)
		case <-term:
			cancel()
			select {
			case err := <-runErr:
				return err
			case <-time.After(30 * time.Second):
				return errors.New("vigil: Run did not return within 30s of its cancellation")
			}
		case err := <-runErr:
			return fmt.Errorf("vigil: Run returned: %v", err)
		}
	}
}

// measureReloads reloads c.reloads pairs of configurations that differ
// from the running one in one real server's weight (there and back), then
// c.reloads times the running configuration itself.
func measureReloads(ctx context.Context, c *config, sup *vigil.Supervisor, table *ipvstest.Table, log *slog.Logger) ([]reloadSample, error) {
	var out []reloadSample
	for i := range c.reloads {
		// Real servers spread over the table, none twice in a row.
		ref := rsRef{vs: (i*131 + c.vs/2) % c.vs, rs: (i*37 + c.rs/2) % c.rs}
		key := serviceKey(ref.vs)
		dest := ipvs.DestinationKey{Addr: rsAddr(ref.rs), Port: key.Port}
		for _, heavy := range []*rsRef{&ref, nil} {
			want := 1
			if heavy != nil {
				want = 2
			}
			s, err := reloadOnce(ctx, sup, table, scaleConfig(c, heavy, log), key, dest, want)
			if err != nil {
				return out, err
			}
			out = append(out, s)
		}
	}
	for range c.reloads {
		s, err := reloadOnce(ctx, sup, table, scaleConfig(c, nil, log), ipvs.ServiceKey{}, ipvs.DestinationKey{}, 0)
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

// reloadOnce reloads cfg and, with want > 0, waits until dest of key has
// weight want in the table. It counts the table's writes until settle
// after that.
func reloadOnce(ctx context.Context, sup *vigil.Supervisor, table *ipvstest.Table, cfg vigil.Config, key ipvs.ServiceKey, dest ipvs.DestinationKey, want int) (reloadSample, error) {
	s := reloadSample{Kind: "same"}
	if want > 0 {
		s.Kind = "weight"
	}
	table.ResetCounts()
	t0 := time.Now()
	ch, err := sup.Reload(ctx, cfg)
	s.Return = time.Since(t0)
	if err != nil {
		return s, fmt.Errorf("vigil: Reload: %w", err)
	}
	vc := ch.VirtualServers
	s.ChangedRS = len(vc.ChangedRealServers) + len(vc.AddedRealServers) + len(vc.RemovedRealServers)
	s.ChangedSvcs = len(vc.ChangedServices) + len(vc.AddedServices) + len(vc.RemovedServices)
	if want > 0 {
		deadline := t0.Add(10 * time.Second)
		for {
			if w, ok := weightOf(ctx, table, key, dest); ok && w == want {
				s.Table = time.Since(t0)
				break
			}
			if time.Now().After(deadline) {
				return s, fmt.Errorf("%v %v: weight %d not in the table 10s after Reload", key, dest, want)
			}
		}
	}
	time.Sleep(settle)
	s.Writes = map[string]int{}
	for op, n := range table.Counts() {
		if op.IsWrite() && n > 0 {
			s.Writes[op.String()] = n
		}
	}
	return s, nil
}

// weightOf reads dest's weight in service key from the table.
func weightOf(ctx context.Context, table *ipvstest.Table, key ipvs.ServiceKey, dest ipvs.DestinationKey) (int, bool) {
	ds, err := table.Destinations(ctx, key)
	if err != nil {
		return 0, false
	}
	for _, d := range ds {
		if d.DestinationKey == dest {
			return d.Weight, true
		}
	}
	return 0, false
}

// countDests counts the destinations in the table.
func countDests(t *ipvstest.Table) int {
	n := 0
	for _, vs := range t.Table() {
		n += len(vs.Destinations)
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// profile is a CPU profile being written; the zero profile does nothing.
type profile struct{ f *os.File }

// startProfile starts a CPU profile into dir/name; with dir "" it does
// nothing.
func startProfile(dir, name string) (profile, error) {
	if dir == "" {
		return profile{}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return profile{}, err
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return profile{}, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return profile{}, err
	}
	return profile{f}, nil
}

func (p profile) stop() {
	if p.f != nil {
		pprof.StopCPUProfile()
		p.f.Close()
	}
}

// writeHeap writes a heap profile, after a GC, into dir/heap.pprof; with
// dir "" it does nothing.
func writeHeap(dir string) error {
	if dir == "" {
		return nil
	}
	f, err := os.Create(filepath.Join(dir, "heap.pprof"))
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC()
	return pprof.Lookup("heap").WriteTo(f, 0)
}
