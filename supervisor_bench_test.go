package vigil_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/vigiltest"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// scaleConfig is keepalived #1173's scale: nvs virtual servers of nrs
// real servers, each with a TCP check (every hour here: the benchmark
// measures Reload, not the checks).
func scaleConfig(nvs, nrs int) vigil.Config {
	var cfg vigil.Config
	for v := range nvs {
		vs := vigil.VirtualServer{Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Protocol: ipvs.TCP,
			Addr: netip.AddrFrom4([4]byte{198, 18, 0, 1}), Port: uint16(10000 + v)}, Scheduler: ipvs.WeightedRoundRobin}}
		for r := range nrs {
			d := ipvs.DestinationKey{Addr: netip.AddrFrom4([4]byte{198, 18, 1, byte(r + 1)}), Port: uint16(10000 + v)}
			vs.RealServers = append(vs.RealServers, vigil.RealServer{
				RealServer: ipvs.RealServer{Destination: ipvs.Destination{DestinationKey: d, Forward: ipvs.Masquerade, Weight: 1}},
				Checks: []vigil.RealServerCheck{{Checker: &check.TCP{Addr: netip.AddrPortFrom(d.Addr, d.Port)},
					Policy: check.Policy{Interval: time.Hour}}},
			})
		}
		cfg.VirtualServers = append(cfg.VirtualServers, vs)
	}
	return cfg
}

// BenchmarkSupervisorReload: Reload of 300 × 100 real servers with one
// weight changed (there and back), on the in-memory platform.
func BenchmarkSupervisorReload(b *testing.B) {
	p, err := vigiltest.New(vigiltest.Config{Hub: vrrptest.NewHub(1), Addr4: netip.MustParseAddr("192.0.2.1")})
	if err != nil {
		b.Fatal(err)
	}
	cfg := scaleConfig(300, 100)
	s, err := vigil.New(p, cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	other := scaleConfig(300, 100)
	other.VirtualServers[7].RealServers[42].Weight = 5
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		next := cfg
		if i%2 == 0 {
			next = other
		}
		if _, err := s.Reload(ctx, next); err != nil {
			b.Fatal(err)
		}
	}
}
