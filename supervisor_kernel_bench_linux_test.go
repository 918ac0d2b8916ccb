//go:build linux

package vigil_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
)

// The health-to-kernel benchmark's shape: benchServices virtual servers of
// benchPerService real servers each, every one checked by a CheckerFunc
// (no network) with fall 1 and rise 1. The benchHot real servers that
// flip are checked every benchHotInterval, the others every
// benchInterval: about 1,000 checks a second in the background.
const (
	benchServices    = 10
	benchPerService  = 100
	benchHot         = 20
	benchInterval    = time.Second
	benchHotInterval = 100 * time.Millisecond
)

var errBenchDown = errors.New("down")

// benchRS is one real server of the benchmark and its fake check.
type benchRS struct {
	svc  ipvs.ServiceKey
	dest ipvs.DestinationKey
	down atomic.Bool
	// A flip arms want, the health the check is to report, and then sets
	// down; the check's first result of that health after it (the
	// deciding one, with fall 1 and rise 1) stamps checked, and the first
	// write of the destination to the table after that stamps applied.
	armed, kArmed atomic.Bool
	want          atomic.Bool // the health the flip waits for
	// Times since base: the deciding result, and the write of the
	// destination that followed it (began, returned).
	checked, began, applied atomic.Int64
	checkFn                 check.CheckerFunc
	base                    time.Time
}

func (r *benchRS) check(context.Context) error {
	down := r.down.Load()
	if r.armed.Load() && down != r.want.Load() && r.armed.CompareAndSwap(true, false) {
		r.checked.Store(int64(time.Since(r.base)))
	}
	if down {
		return errBenchDown
	}
	return nil
}

// BenchmarkSupervisorHealthToKernel measures the time from the check
// result that decides a real server's health to its destination's write
// in the IPVS table, with 1,000 real servers (benchServices ×
// benchPerService), on the kernel's IPVS (in the VM of tools/ipvsvm) and
// on the in-memory ipvstest table. Each iteration flips one hot real
// server: down (its destination is deleted) or back up (created again).
// Reported: p50-ms, p99-ms and max-ms of check → table write returned,
// and ev-p99-ms of check → EventServerDown/Up received (emitted after the
// Sync that wrote it). Each flip is confirmed by reading the table.
// ns/op includes the wait for the next check round: ignore it.
//
//	tools/ipvsvm/run --pkg . -- -run '^$' -bench HealthToKernel -benchtime 400x
func BenchmarkSupervisorHealthToKernel(b *testing.B) {
	b.Run("kernel", func(b *testing.B) {
		needVM(b)
		k, err := ipvs.Open(ipvs.KernelConfig{})
		if err != nil {
			b.Fatal(err)
		}
		r, err := ipvs.Open(ipvs.KernelConfig{}) // the witness
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		benchHealthToKernel(b, k, r)
	})
	b.Run("memory", func(b *testing.B) {
		t := ipvstest.New()
		benchHealthToKernel(b, t, t)
	})
}

func benchHealthToKernel(b *testing.B, backend, witness ipvs.Backend) {
	base := time.Now()
	var cfg vigil.Config
	byDest := map[ipvs.DestinationKey]*benchRS{}
	var hot []*benchRS
	for i := range benchServices {
		svc := ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + i)}), Port: 80}
		vs := vigil.VirtualServer{Service: ipvs.Service{ServiceKey: svc, Scheduler: ipvs.WeightedRoundRobin}}
		for j := range benchPerService {
			r := &benchRS{svc: svc, dest: ipvs.DestinationKey{Addr: netip.AddrFrom4([4]byte{10, 1, byte(i), byte(j + 1)}), Port: 8080}, base: base}
			r.checkFn = r.check
			pol := check.Policy{Interval: benchInterval, Timeout: time.Second, Fall: 1, Rise: 1}
			if n := i*benchPerService + j; n%(benchServices*benchPerService/benchHot) == 0 {
				pol.Interval = benchHotInterval
				hot = append(hot, r)
			}
			byDest[r.dest] = r
			vs.RealServers = append(vs.RealServers, vigil.RealServer{
				RealServer: ipvs.RealServer{Destination: ipvs.Destination{DestinationKey: r.dest, Forward: ipvs.Masquerade, Weight: 1}},
				Checks:     []vigil.RealServerCheck{{Checker: r.checkFn, Policy: pol}},
			})
		}
		cfg.VirtualServers = append(cfg.VirtualServers, vs)
	}
	// The applied hook is set before the Supervisor starts, and byDest
	// is only read from then on.
	cb, c := counted(backend)
	c.applied = func(ch ipvs.Change, began, returned time.Time) {
		if r := byDest[ch.Dest.DestinationKey]; r != nil && r.kArmed.CompareAndSwap(true, false) {
			r.began.Store(int64(began.Sub(base)))
			r.applied.Store(int64(returned.Sub(base)))
		}
	}
	ks := startKernelSupWith(b, cb, c, cfg, 8192)

	// Wait for the 1,000 destinations.
	ctx := context.Background()
	start := time.Now()
	for {
		n := 0
		for _, vs := range cfg.VirtualServers {
			ds, err := witness.Destinations(ctx, vs.Service.ServiceKey)
			if err == nil {
				n += len(ds)
			}
		}
		if n == benchServices*benchPerService {
			break
		}
		if time.Since(start) > kernelWait {
			b.Fatalf("%d of %d destinations in the table after %v", n, benchServices*benchPerService, kernelWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Logf("%d real servers in the table %v after start", benchServices*benchPerService, time.Since(start).Round(time.Millisecond))
	for len(ks.sub.C()) > 0 {
		<-ks.sub.C()
	}

	toKernel := make([]time.Duration, 0, b.N)
	toWrite := make([]time.Duration, 0, b.N)
	writing := make([]time.Duration, 0, b.N)
	toEvent := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		r := hot[(i/2)%len(hot)]
		goingDown := i%2 == 0
		kind := vigil.EventServerUp
		if goingDown {
			kind = vigil.EventServerDown
		}
		r.want.Store(!goingDown)
		r.kArmed.Store(true)
		r.armed.Store(true)
		r.down.Store(goingDown)
		timeout := time.After(kernelWait)
	wait:
		for {
			select {
			case e := <-ks.sub.C():
				if e.Kind == kind && e.Dest == r.dest {
					break wait
				}
			case <-timeout:
				b.Fatalf("flip %d: no %v event of %v in %v", i, kind, r.dest, kernelWait)
			}
		}
		evAt := time.Since(base)
		checked, began, applied := time.Duration(r.checked.Load()), time.Duration(r.began.Load()), time.Duration(r.applied.Load())
		if r.armed.Load() || r.kArmed.Load() {
			b.Fatalf("flip %d of %v: the event came before the check result (%v) or the write (%v)", i, r.dest, !r.armed.Load(), !r.kArmed.Load())
		}
		toKernel = append(toKernel, applied-checked)
		toWrite = append(toWrite, began-checked)
		writing = append(writing, applied-began)
		toEvent = append(toEvent, evAt-checked)
		// Confirm with the table itself (not timed).
		b.StopTimer()
		ds, err := witness.Destinations(ctx, r.svc)
		if err != nil {
			b.Fatal(err)
		}
		if in := slices.ContainsFunc(ds, func(d ipvs.DestinationState) bool { return d.DestinationKey == r.dest }); in == goingDown {
			b.Fatalf("flip %d: %v in the table: %v, want %v", i, r.dest, in, !goingDown)
		}
		b.StartTimer()
	}
	b.StopTimer()
	pk, pe := percentiles(toKernel), percentiles(toEvent)
	pw, pd := percentiles(toWrite), percentiles(writing)
	b.ReportMetric(ms(pk[1]), "p50-ms")
	b.ReportMetric(ms(pk[2]), "p99-ms")
	b.ReportMetric(ms(pk[3]), "max-ms")
	b.ReportMetric(ms(pe[2]), "ev-p99-ms")
	var t strings.Builder
	fmt.Fprintf(&t, "%d flips, %d real servers, from the deciding check result (ms):\n", b.N, benchServices*benchPerService)
	fmt.Fprintf(&t, "%-14s %8s %8s %8s %8s\n", "", "min", "p50", "p99", "max")
	for _, row := range []struct {
		name string
		p    [4]time.Duration
	}{
		{"table write", pk},    // check result → the write returned
		{"  write began", pw},  // check result → the write began
		{"  write itself", pd}, // the write call
		{"event", pe},          // check result → the event received
	} {
		fmt.Fprintf(&t, "%-14s %8.2f %8.2f %8.2f %8.2f\n", row.name, ms(row.p[0]), ms(row.p[1]), ms(row.p[2]), ms(row.p[3]))
	}
	b.Log("\n" + t.String())
}

// percentiles returns the min, p50, p99 and max of d (sorted in place).
func percentiles(d []time.Duration) [4]time.Duration {
	if len(d) == 0 {
		return [4]time.Duration{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(d))+0.999999) - 1
		return d[min(max(i, 0), len(d)-1)]
	}
	return [4]time.Duration{d[0], at(0.50), at(0.99), d[len(d)-1]}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
