package ipvs_test

import (
	"context"
	"testing"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
)

// changed returns a copy of t with the weight of every 100th destination
// changed: 1% of them.
func changed(t []ipvs.VirtualServer) []ipvs.VirtualServer {
	out := make([]ipvs.VirtualServer, len(t))
	n := 0
	for i, v := range t {
		out[i] = ipvs.VirtualServer{Service: v.Service, Destinations: append([]ipvs.Destination(nil), v.Destinations...)}
		for j := range out[i].Destinations {
			if n%100 == 0 {
				out[i].Destinations[j].Weight += 100
			}
			n++
		}
	}
	return out
}

func TestSyncChange1pct(t *testing.T) {
	tab := ipvstest.New()
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
	base := table(1000, 10)
	mustSync(t, s, base, ipvs.Result{CreatedServices: 1000, CreatedDests: 10000})
	mustSync(t, s, changed(base), ipvs.Result{UpdatedDests: 100})
	mustSync(t, s, base, ipvs.Result{UpdatedDests: 100})
}

// BenchmarkSync1000x10 syncs 1,000 services of 10 destinations each into
// an empty table.
func BenchmarkSync1000x10(b *testing.B) {
	desired := table(1000, 10)
	ops := 0
	for b.Loop() {
		s := ipvs.NewSyncer(ipvstest.New(), ipvs.SyncConfig{})
		res, err := s.Sync(b.Context(), desired)
		if err != nil {
			b.Fatal(err)
		}
		ops = res.Ops()
	}
	b.ReportMetric(float64(ops), "ops/sync")
}

// BenchmarkChange1pct writes a change of 1% of the weights of 1,000
// services of 10 destinations each, with Sync (it reads every service's
// destinations) and with Apply (no reads): 100 writes each.
func BenchmarkChange1pct(b *testing.B) {
	for _, m := range []struct {
		name string
		f    func(*ipvs.Syncer, context.Context, []ipvs.VirtualServer) (ipvs.Result, error)
	}{{"Sync", (*ipvs.Syncer).Sync}, {"Apply", (*ipvs.Syncer).Apply}} {
		b.Run(m.name, func(b *testing.B) {
			tab := ipvstest.New()
			s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
			tables := [2][]ipvs.VirtualServer{table(1000, 10), nil}
			tables[1] = changed(tables[0])
			if _, err := s.Sync(b.Context(), tables[0]); err != nil {
				b.Fatal(err)
			}
			tab.ResetCounts()
			i := 0
			for b.Loop() {
				i++
				if _, err := m.f(s, b.Context(), tables[i%2]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(tab.Writes())/float64(i), "writes/op")
			b.ReportMetric(float64(tab.Reads())/float64(i), "reads/op")
		})
	}
}
