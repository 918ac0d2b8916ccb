//go:build linux

// Command soak runs vigil for a long time under constant churn and checks
// that nothing grows: resident memory, the live heap, goroutines, file
// descriptors.
//
// Two Supervisors share an in-memory segment (vigiltest over a vrrptest
// Hub; the IPVS table is an ipvstest.Table): A runs -instances VRRP
// instances (priority 150, VRRPv3, 1 s adverts), each tracking a check of
// weight -60 that flaps (down for half of a period of 20 to 26 s, the
// instances out of phase), so each instance fails over to B (priority 100,
// the same instances untracked) and back about every 10 s; A also runs
// -rs real servers (10 virtual servers) whose checks flap with periods of
// 15 to 29 s, so the Balancer writes the IPVS table all the time. Checks
// run every second; they are Go checkers that answer at once (no network),
// so what is measured is vigil's own machinery.
//
// It samples every -sample: RSS (VmRSS), the live heap (a GC, then
// runtime/metrics' /gc/heap/live:bytes: what that GC found reachable),
// goroutines and open file descriptors. After
// -warmup (the caches, maps and pools are full by then) the samples are
// split into a baseline window, the first tenth of them (at least 5), and
// an end window, the last tenth. Noise, defined here and printed with the
// verdict: the end's median is compared with the baseline's maximum (what
// the value swings to while nothing grows) plus a floor,
//
//	RSS        baseline max + max(8 MiB, 10% of the baseline median)
//	heap       baseline max + max(4 MiB, 10% of the baseline median)
//	goroutines baseline max + max(20, 2% of the baseline median)
//	fds        baseline max + 2
//
// and the verdict is PASS when no end median is above its limit. As in the other
// bench programs the exit status is 0 when the run worked, whatever the
// verdict (read it), 1 when it failed, 2 for bad flags. It needs no root:
// everything is in memory in this process.
//
//	go run ./bench/soak                       # 30 minutes
//	go run ./bench/soak -duration 2m -warmup 30s -sample 5s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/bench/internal/benchkit"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/vigiltest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

func main() {
	duration := flag.Duration("duration", 30*time.Minute, "how long to run, warm-up included")
	warmup := flag.Duration("warmup", 2*time.Minute, "how long before the baseline is taken")
	sample := flag.Duration("sample", 10*time.Second, "time between samples")
	ninst := flag.Int("instances", 200, "VRRP instances (at most 255)")
	nrs := flag.Int("rs", 1000, "real servers, spread over 10 virtual servers")
	heapProf := flag.String("heapprofile", "", "write heap profiles to FILE.base (at the end of the warm-up) and FILE.end (to find what grows: go tool pprof -base FILE.base FILE.end)")
	flag.Parse()
	heapProfile = *heapProf
	if *ninst < 1 || *ninst > 255 || *nrs < 10 || *sample <= 0 || *warmup <= 0 || *duration < *warmup+10**sample {
		fmt.Fprintln(os.Stderr, "soak: need 1 ≤ -instances ≤ 255, -rs ≥ 10, and -duration ≥ -warmup + 10 × -sample")
		os.Exit(2)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, *duration, *warmup, *sample, *ninst, *nrs); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		if errors.Is(err, context.Canceled) {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

// heapProfile is -heapprofile.
var heapProfile string

// writeHeap writes the heap profile to heapProfile+suffix, if asked.
func writeHeap(suffix string) error {
	if heapProfile == "" {
		return nil
	}
	f, err := os.Create(heapProfile + suffix)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// flapper is a check that is down for the second half of each period,
// shifted by phase: no goroutine, no network.
type flapper struct {
	period, phase time.Duration
}

var errFlap = errors.New("soak: down (flapping)")

func (f *flapper) Check(context.Context) error {
	if (time.Now().UnixNano()+int64(f.phase))%int64(f.period) >= int64(f.period/2) {
		return errFlap
	}
	return nil
}

// configs returns A's and B's configurations.
func configs(ninst, nrs int) (a, b vigil.Config) {
	pol := check.Policy{Interval: time.Second, Timeout: 500 * time.Millisecond, Fall: 1, Rise: 1, Warmup: -1}
	for i := range ninst {
		vip := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)}), 32)
		inst := func(prio uint8) vigil.Instance {
			return vigil.Instance{InstanceConfig: vigil.InstanceConfig{Interface: "eth0",
				VRRP: vrrp.Config{Name: fmt.Sprintf("VI_%d", i+1), VRID: uint8(i + 1), Version: vrrp.V3,
					Priority: prio, Interval: time.Second, VIPs: []netip.Prefix{vip}}}}
		}
		tr := fmt.Sprintf("chk_%d", i+1)
		period := time.Duration(20+i%7) * time.Second
		a.Trackers = append(a.Trackers, vigil.Tracker{Name: tr, Weight: -60, Check: &vigil.TrackerCheck{
			Checker: &flapper{period: period, phase: time.Duration(i) * 397 * time.Millisecond}, Policy: pol}})
		ia := inst(150)
		ia.Track = []vigil.Track{{Tracker: tr}}
		a.Instances = append(a.Instances, ia)
		b.Instances = append(b.Instances, inst(100))
	}
	per := nrs / 10
	for v := range 10 {
		vs := vigil.VirtualServer{Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Protocol: ipvs.TCP,
			Addr: netip.AddrFrom4([4]byte{198, 19, 255, byte(v + 1)}), Port: 80}, Scheduler: ipvs.WeightedRoundRobin}}
		for r := range per {
			n := v*per + r
			vs.RealServers = append(vs.RealServers, vigil.RealServer{
				RealServer: ipvs.RealServer{Destination: ipvs.Destination{
					DestinationKey: ipvs.DestinationKey{Addr: netip.AddrFrom4([4]byte{198, 19, byte(n / 250), byte(n%250 + 1)}), Port: 8080},
					Forward:        ipvs.Route, Weight: 1}},
				Checks: []vigil.RealServerCheck{{Checker: &flapper{period: time.Duration(15+n%15) * time.Second,
					phase: time.Duration(n) * 131 * time.Millisecond}, Policy: pol}},
			})
		}
		a.VirtualServers = append(a.VirtualServers, vs)
	}
	return a, b
}

// sample is one reading of the process.
type sample struct {
	at         time.Duration
	rssKiB     int64
	heap       uint64
	goroutines int
	fds        int
}

func take(start time.Time) (sample, error) {
	s := sample{at: time.Since(start), goroutines: runtime.NumGoroutine()}
	runtime.GC()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	s.heap = live[0].Value.Uint64()
	m, err := benchkit.ReadMemory(os.Getpid())
	if err != nil {
		return s, err
	}
	s.rssKiB = m.RSS
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return s, err
	}
	s.fds = len(fds)
	return s, nil
}

func run(ctx context.Context, duration, warmup, every time.Duration, ninst, nrs int) error {
	ca, cb := configs(ninst, nrs)
	hub := vrrptest.NewHub(1)
	var sups []*vigil.Supervisor
	for i, cfg := range []vigil.Config{ca, cb} {
		// History: the fakes would otherwise remember every address
		// change and announcement of the run, and that record would be
		// the growth measured.
		p, err := vigiltest.New(vigiltest.Config{Hub: hub, Addr4: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), History: 64})
		if err != nil {
			return err
		}
		s, err := vigil.New(p, cfg)
		if err != nil {
			return err
		}
		sups = append(sups, s)
	}
	start := time.Now()
	rctx, stop := context.WithCancel(context.Background())
	errc := make(chan error, len(sups))
	for _, s := range sups {
		go func() { errc <- s.Run(rctx) }()
	}
	fmt.Fprintf(os.Stderr, "soak: %d instances (A tracks a flapping check, B is the backup), %d real servers flapping, %v (baseline after %v)\n",
		ninst, nrs, duration, warmup)
	var samples []sample
	tick := time.NewTicker(every)
	defer tick.Stop()
	var runErr error
loop:
	for time.Since(start) < duration {
		select {
		case <-ctx.Done():
			runErr = ctx.Err()
			break loop
		case err := <-errc:
			runErr = fmt.Errorf("a Supervisor stopped: %v", err)
			break loop
		case <-tick.C:
		}
		s, err := take(start)
		if err != nil {
			runErr = err
			break loop
		}
		if len(samples) > 0 && samples[len(samples)-1].at < warmup && s.at >= warmup {
			if err := writeHeap(".base"); err != nil {
				runErr = err
				break loop
			}
		}
		samples = append(samples, s)
		fmt.Fprintf(os.Stderr, "soak: %7s rss %6.1f MiB heap %6.1f MiB goroutines %5d fds %3d\n",
			s.at.Round(time.Second), float64(s.rssKiB)/1024, float64(s.heap)/(1<<20), s.goroutines, s.fds)
	}
	st := sups[0].Stats()
	if err := writeHeap(".end"); err != nil && runErr == nil {
		runErr = err
	}
	stop()
	for range sups {
		if err := <-errc; err != nil && runErr == nil && !errors.Is(err, context.Canceled) {
			runErr = fmt.Errorf("a Supervisor's Run: %w", err)
		}
	}
	if runErr != nil {
		return runErr
	}
	var base []sample
	for _, s := range samples {
		if s.at >= warmup {
			base = append(base, s)
		}
	}
	if len(base) < 10 {
		return fmt.Errorf("%d samples after the warm-up, want 10", len(base))
	}
	n := max(5, len(base)/10)
	report(base[:n], base[len(base)-n:], st)
	return nil
}

// median and top return the median and the maximum of f over ss.
func median[T int | int64 | uint64](ss []sample, f func(sample) T) T {
	v := values(ss, f)
	return v[len(v)/2]
}

func top[T int | int64 | uint64](ss []sample, f func(sample) T) T {
	v := values(ss, f)
	return v[len(v)-1]
}

func values[T int | int64 | uint64](ss []sample, f func(sample) T) []T {
	v := make([]T, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	slices.Sort(v)
	return v
}

func report(first, last []sample, st vigil.Stats) {
	var transitions uint64
	for _, is := range st.Instances {
		transitions += is.Transitions
	}
	fmt.Printf("churn: %d VRRP transitions on A, %d check runs, %d IPVS syncs+applies, %d IPVS writes failed\n",
		transitions, st.Checks.Sched.Runs, st.IPVS.Syncs+st.IPVS.Applies, st.IPVS.Failures)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\tbaseline median\tbaseline max\tend median\tgrowth\tlimit\t\t")
	pass := true
	row := func(name string, bmed, bmax, e, floor float64, unit string) {
		limit := bmax + floor
		ok := e <= limit
		pass = pass && ok
		verdict := "ok"
		if !ok {
			verdict = "GROWS"
		}
		fmt.Fprintf(w, "%s\t%.1f %s\t%.1f %s\t%.1f %s\t%+.1f %s\t%.1f %s\t%s\t\n",
			name, bmed, unit, bmax, unit, e, unit, e-bmed, unit, limit, unit, verdict)
	}
	mib := func(v float64) float64 { return v / (1 << 20) }
	rss := func(s sample) int64 { return s.rssKiB << 10 }
	rb := mib(float64(median(first, rss)))
	row("RSS", rb, mib(float64(top(first, rss))), mib(float64(median(last, rss))), max(8, rb/10), "MiB")
	heap := func(s sample) uint64 { return s.heap }
	hb := mib(float64(median(first, heap)))
	row("heap", hb, mib(float64(top(first, heap))), mib(float64(median(last, heap))), max(4, hb/10), "MiB")
	gor := func(s sample) int { return s.goroutines }
	gb := float64(median(first, gor))
	row("goroutines", gb, float64(top(first, gor)), float64(median(last, gor)), max(20, gb/50), "")
	fds := func(s sample) int { return s.fds }
	row("fds", float64(median(first, fds)), float64(top(first, fds)), float64(median(last, fds)), 2, "")
	w.Flush()
	verdict := "PASS: no growth beyond noise"
	if !pass {
		verdict = "FAIL: growth beyond noise"
	}
	fmt.Printf("%s (windows of %d samples: the first and the last tenth after the warm-up)\n", verdict, len(first))
}
