package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"maps"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/metrics"
	"github.com/vigil-ha/vigil/vigiltest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.prom")

var vip = netip.MustParsePrefix("192.0.2.100/24")

// switchCheck is a check whose result the test sets.
type switchCheck struct{ down atomic.Bool }

func (f *switchCheck) Check(context.Context) error {
	if f.down.Load() {
		return errors.New("down")
	}
	return nil
}

// testConfig is one instance VI_1 (priority 100) tracking chk (weight
// -20), and a virtual server on its VIP with two real servers checked
// every second, the second one inhibited on failure.
func testConfig(chk, rs1, rs2 *switchCheck) vigil.Config {
	pol := check.Policy{Interval: time.Second, Timeout: 500 * time.Millisecond, Warmup: -1}
	rs := func(last byte, f *switchCheck) vigil.RealServer {
		return vigil.RealServer{
			RealServer: ipvs.RealServer{Destination: ipvs.Destination{
				DestinationKey: ipvs.DestinationKey{Addr: netip.AddrFrom4([4]byte{198, 51, 100, last}), Port: 8080},
				Forward:        ipvs.Masquerade, Weight: 3}},
			Checks: []vigil.RealServerCheck{{Checker: f, Policy: pol}},
		}
	}
	inhibited := rs(2, rs2)
	inhibited.InhibitOnFailure = true
	inst := vigil.Instance{InstanceConfig: vigil.InstanceConfig{Interface: "eth0",
		VRRP: vrrp.Config{Name: "VI_1", VRID: 51, Version: vrrp.V3, Priority: 100, Interval: time.Second,
			VIPs: []netip.Prefix{vip}}}}
	inst.Track = []vigil.Track{{Tracker: "chk"}}
	return vigil.Config{
		Trackers:  []vigil.Tracker{{Name: "chk", Weight: -20, Check: &vigil.TrackerCheck{Checker: chk, Policy: pol}}},
		Instances: []vigil.Instance{inst},
		VirtualServers: []vigil.VirtualServer{{
			Service:     ipvs.Service{ServiceKey: ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: vip.Addr(), Port: 80}, Scheduler: ipvs.WeightedRoundRobin},
			RealServers: []vigil.RealServer{rs(1, rs1), inhibited},
		}},
	}
}

// newSup returns a Supervisor of testConfig alone on a segment, its
// second real server failing, and a Collector over it with cfg.
func newSup(t *testing.T, cfg metrics.Config) (*vigil.Supervisor, *metrics.Collector) {
	t.Helper()
	p, err := vigiltest.New(vigiltest.Config{Hub: vrrptest.NewHub(1), Addr4: netip.MustParseAddr("192.0.2.1")})
	if err != nil {
		t.Fatal(err)
	}
	var chk, rs1, rs2 switchCheck
	rs2.down.Store(true)
	s, err := vigil.New(p, testConfig(&chk, &rs1, &rs2))
	if err != nil {
		t.Fatal(err)
	}
	return s, metrics.New(s, cfg)
}

// run runs s until the test's bubble ends it with the returned stop.
func run(t *testing.T, s *vigil.Supervisor) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// exposition is what a registry holding only c exposes, in the text
// format, and fails the test if the registry finds c inconsistent.
func exposition(t *testing.T, c prometheus.Collector) []byte {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// TestGolden: the Supervisor alone on its segment becomes master at
// 3.609375 s (3 × 1 s + (256-100)/256 s); its tracker passes, one of its
// two real servers fails from the start. At 5.5 s every value is exact:
// two adverts sent (3.609375 s, 4.609375 s), six rounds of three checks,
// the failed server down with weight 0 (inhibit_on_failure), the quorum
// kept (the other server's weight, 3, meets the default quorum, 1).
func TestGolden(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := newSup(t, metrics.Config{})
		stop := run(t, s)
		defer stop()
		time.Sleep(5500 * time.Millisecond)
		synctest.Wait()
		got := exposition(t, c)
		version := buildVersion(t, got)
		const golden = "testdata/golden.prom"
		if *update {
			got = withoutFamilies(got, unordered...)
			if err := os.WriteFile(golden, bytes.ReplaceAll(got, []byte(`version="`+version+`"`), []byte(`version="VERSION"`)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		want = bytes.ReplaceAll(want, []byte(`version="VERSION"`), []byte(`version="`+version+`"`))
		if err := testutil.CollectAndCompare(c, bytes.NewReader(want), families(want)...); err != nil {
			t.Error(err)
		}
		for _, f := range unordered {
			if bytes.Contains(want, []byte(f+"{")) || bytes.Contains(want, []byte(f+" ")) {
				t.Errorf("%s holds %s", golden, f)
			}
		}
	})
}

// unordered are the families whose values at 5.5 s depend on whether the
// failing real server's first check or the Balancer's first Sync runs
// first at 0 s (one Sync writing weight 0, or a Sync then an update):
// the golden file leaves them out; package ipvs tests them.
var unordered = []string{"vigil_ipvs_operations_total", "vigil_ipvs_sync_duration_seconds"}

// families returns the metric families an exposition holds.
func families(expo []byte) []string {
	var out []string
	for l := range strings.Lines(string(expo)) {
		if name, ok := strings.CutPrefix(l, "# TYPE "); ok {
			out = append(out, strings.Fields(name)[0])
		}
	}
	return out
}

// withoutFamilies returns expo without the families names.
func withoutFamilies(expo []byte, names ...string) []byte {
	var b bytes.Buffer
	for l := range strings.Lines(string(expo)) {
		drop := false
		for _, n := range names {
			rest, ok := strings.CutPrefix(strings.TrimPrefix(strings.TrimPrefix(l, "# HELP "), "# TYPE "), n)
			if ok && (rest == "" || strings.ContainsAny(rest[:1], " {_")) {
				drop = true
			}
		}
		if !drop {
			b.WriteString(l)
		}
	}
	return b.Bytes()
}

// buildVersion returns the version label of vigil_build_info in an
// exposition, and fails the test unless there is exactly one such
// non-empty label with the value 1.
func buildVersion(t *testing.T, expo []byte) string {
	t.Helper()
	var lines []string
	for l := range strings.Lines(string(expo)) {
		if strings.HasPrefix(l, "vigil_build_info{") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if len(lines) != 1 {
		t.Fatalf("vigil_build_info: %q", lines)
	}
	v, ok := strings.CutPrefix(lines[0], `vigil_build_info{version="`)
	v, rest, ok2 := strings.Cut(v, `"`)
	if !ok || !ok2 || v == "" || rest != "} 1" {
		t.Fatalf("vigil_build_info: %q", lines[0])
	}
	return v
}

// TestLint: every metric passes client_golang's lint, before Run (INIT,
// nothing counted yet) and while master with every kind of series
// present.
func TestLint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, c := newSup(t, metrics.Config{})
		lint := func(when string) {
			problems, err := testutil.CollectAndLint(c)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("%s: %s: %s", when, p.Metric, p.Text)
			}
			exposition(t, c) // the pedantic registry's checks
		}
		lint("before Run")
		stop := run(t, s)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		lint("master")
		stop()
		lint("after Run")
	})
}

// TestConstLabels: two Supervisors in one registry, told apart by their
// ConstLabels.
func TestConstLabels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		for _, name := range []string{"a", "b"} {
			s, c := newSup(t, metrics.Config{ConstLabels: prometheus.Labels{"supervisor": name}})
			reg.MustRegister(c)
			stop := run(t, s)
			defer stop()
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		n, err := testutil.GatherAndCount(reg, "vigil_instance_became_master_total")
		if err != nil || n != 2 {
			t.Errorf("vigil_instance_became_master_total: %d series, %v; want 2", n, err)
		}
	})
}

// socketPlatform is vigiltest's platform reporting fixed socket counters
// (vigil.SocketPlatform), as Linux's reports its raw sockets'.
type socketPlatform struct {
	vigil.Platform
	stats map[vigil.SocketName]vrrp.SocketStats
}

func (p socketPlatform) SocketStats() map[vigil.SocketName]vrrp.SocketStats {
	return maps.Clone(p.stats)
}

// TestSocketMetrics: each counter of each socket a SocketPlatform reports
// is exported under its own name (the discards under one, by reason),
// labelled with the socket's interface and family; a platform without
// sockets exports none of them (TestGolden).
func TestSocketMetrics(t *testing.T) {
	inner, err := vigiltest.New(vigiltest.Config{Hub: vrrptest.NewHub(1), Addr4: netip.MustParseAddr("192.0.2.1")})
	if err != nil {
		t.Fatal(err)
	}
	// Distinct values, so a counter exported under another's name shows.
	stats := func(base uint64) vrrp.SocketStats {
		return vrrp.SocketStats{Received: base + 1, Delivered: base + 2, UnknownVRID: base + 3, NotPeer: base + 4,
			Short: base + 5, QueueFull: base + 6, ReadErrors: base + 7, Retries: base + 8, Rebinds: base + 9,
			Polled: base + 10, RepeatsReceived: base + 11, RepeatsSent: base + 12, RepeatWrites: base + 13}
	}
	p := socketPlatform{Platform: inner, stats: map[vigil.SocketName]vrrp.SocketStats{
		{Interface: "eth0", Family: "ipv4"}: stats(100),
		{Interface: "eth1", Family: "ipv6"}: stats(200),
	}}
	var chk, rs1, rs2 switchCheck
	s, err := vigil.New(p, testConfig(&chk, &rs1, &rs2))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.New(s, metrics.Config{}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "vigil_vrrp_socket_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			got[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{}
	for _, sock := range []struct {
		labels string
		base   float64
	}{{"family=ipv4,interface=eth0", 100}, {"family=ipv6,interface=eth1", 200}} {
		for name, v := range map[string]float64{
			"received_total": 1, "delivered_total": 2, "read_errors_total": 7, "send_retries_total": 8,
			"rebinds_total": 9, "polled_total": 10, "repeats_received_total": 11, "repeats_sent_total": 12,
			"repeat_writes_total": 13,
		} {
			want["vigil_vrrp_socket_"+name+"{"+sock.labels+"}"] = sock.base + v
		}
		for reason, v := range map[string]float64{"unknown_vrid": 3, "not_peer": 4, "short": 5, "queue_full": 6} {
			want["vigil_vrrp_socket_discarded_total{"+sock.labels+",reason="+reason+"}"] = sock.base + v
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("socket series:\n got %v\nwant %v", got, want)
	}
}
