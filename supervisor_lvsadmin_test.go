package vigil_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// lvsRig is a Supervisor with one virtual server (tcp 192.0.2.100:80,
// one real server without checks) whose table already holds a service
// of another program (tcp 203.0.113.9:80).
func lvsRig(t *testing.T, g vigil.Global) (*memSup, vigil.Config) {
	t.Helper()
	cfg := vigil.Config{Global: g, VirtualServers: []vigil.VirtualServer{{
		Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: vipX.Addr(), Port: 80}, Scheduler: ipvs.RoundRobin},
		RealServers: []vigil.RealServer{{RealServer: ipvs.RealServer{Destination: ipvs.Destination{
			DestinationKey: ipvs.DestinationKey{Addr: netip.MustParseAddr("198.51.100.1"), Port: 8080},
			Forward:        ipvs.Masquerade, Weight: 1}}}},
	}}}
	m := startSup(t, vrrptest.NewHub(1), 1, cfg)
	m.foreign(t, 9)
	m.p.Table().ResetCounts()
	return m, cfg
}

// foreign adds a service of another program, tcp 203.0.113.last:80.
func (m *memSup) foreign(t *testing.T, last byte) {
	t.Helper()
	svc := ipvs.Service{ServiceKey: ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: netip.AddrFrom4([4]byte{203, 0, 113, last}), Port: 80}, Scheduler: ipvs.WeightedLeastConnection}
	if err := m.p.Table().CreateService(t.Context(), svc); err != nil {
		t.Fatal(err)
	}
}

// services lists the addresses of the services of m's table.
func (m *memSup) services() string {
	var out []string
	for _, vs := range m.p.Table().Table() {
		out = append(out, vs.Service.Addr.String())
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// lvsOps counts m's table's flushes, timeout reads and timeout sets.
func (m *memSup) lvsOps() [3]int {
	c := m.p.Table().Counts()
	return [3]int{c[ipvs.OpFlush], c[ipvs.OpReadTimeouts], c[ipvs.OpSetTimeouts]}
}

// TestSupervisorLVSAdmin: keepalived's lvs_flush, lvs_flush_on_stop and
// lvs_timeouts. Run flushes the other program's service before adding
// its own and sets tcp 100 s over the kernel's 120 s tcpfin and 300 s
// udp (read once); a reload never flushes; one that sets udp alone puts
// tcp back to the original 900 s; one without timeouts restores the
// originals; Run's end flushes the table (a service added meanwhile
// too) and restores the originals.
func TestSupervisorLVSAdmin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, cfg := lvsRig(t, vigil.Global{LVSFlush: true, LVSFlushOnStop: true, LVSTimeouts: ipvs.Timeouts{TCP: 100 * time.Second}})
		tab := m.p.Table()
		check := func(at, wantSvcs string, wantT ipvs.Timeouts, wantOps [3]int) {
			t.Helper()
			synctest.Wait()
			if got := m.services(); got != wantSvcs {
				t.Errorf("%s: services %q, want %q", at, got, wantSvcs)
			}
			if got := tab.CurrentTimeouts(); got != wantT {
				t.Errorf("%s: %v, want %v", at, got, wantT)
			}
			if got := m.lvsOps(); got != wantOps {
				t.Errorf("%s: %d flushes, %d reads, %d sets of timeouts; want %d", at, got[0], got[1], got[2], wantOps)
			}
		}
		orig := ipvs.DefaultTimeouts
		check("before Run", "203.0.113.9", orig, [3]int{})
		ctx, cancel := context.WithCancel(t.Context())
		m.run(ctx)
		check("Run", "192.0.2.100", ipvs.Timeouts{TCP: 100 * time.Second, TCPFin: orig.TCPFin, UDP: orig.UDP}, [3]int{1, 1, 1})

		m.foreign(t, 10)
		cfg2 := cfg
		cfg2.Global.LVSTimeouts = ipvs.Timeouts{UDP: 7 * time.Second}
		if _, err := m.s.Reload(ctx, cfg2); err != nil {
			t.Fatal(err)
		}
		check("reload udp 7", "192.0.2.100 203.0.113.10", ipvs.Timeouts{TCP: orig.TCP, TCPFin: orig.TCPFin, UDP: 7 * time.Second}, [3]int{1, 1, 2})
		cfg2.Global.LVSTimeouts = ipvs.Timeouts{}
		if _, err := m.s.Reload(ctx, cfg2); err != nil {
			t.Fatal(err)
		}
		check("reload without", "192.0.2.100 203.0.113.10", orig, [3]int{1, 1, 3})

		cancel()
		if err := <-m.done; err != nil {
			t.Fatal(err)
		}
		check("after Run", "", orig, [3]int{2, 1, 4})
	})
}

// TestSupervisorLVSAdminDefaults: without the settings Run leaves the
// other program's service and the timeouts alone, and removes only its
// own service at the end; LVSFlushOnStop does not flush with
// KeepIPVSOnExit.
func TestSupervisorLVSAdminDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    vigil.Global
		want string
	}{
		{"defaults", vigil.Global{}, "203.0.113.9"},
		{"flush on stop, keep", vigil.Global{LVSFlushOnStop: true, KeepIPVSOnExit: true}, "192.0.2.100 203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m, _ := lvsRig(t, tc.g)
				ctx, cancel := context.WithCancel(t.Context())
				m.run(ctx)
				synctest.Wait()
				if got, want := m.services(), "192.0.2.100 203.0.113.9"; got != want {
					t.Errorf("running: %q, want %q", got, want)
				}
				cancel()
				if err := <-m.done; err != nil {
					t.Fatal(err)
				}
				if got := m.services(); got != tc.want {
					t.Errorf("after Run: %q, want %q", got, tc.want)
				}
				if got := m.lvsOps(); got != [3]int{} {
					t.Errorf("flushes, timeout reads and sets: %d, want none", got)
				}
			})
		})
	}
}

func TestSupervisorLVSTimeoutsInvalid(t *testing.T) {
	cfg := vigil.Config{Global: vigil.Global{LVSTimeouts: ipvs.Timeouts{TCP: -time.Second, UDP: 1500 * time.Millisecond}}}
	err := cfg.Validate()
	if !errors.Is(err, vigil.ErrInvalid) {
		t.Fatalf("Validate: %v", err)
	}
	for _, w := range []string{
		"vigil: global: LVSTimeouts.TCP: -1s out of range 0..744h0m0s",
		"vigil: global: LVSTimeouts.UDP: 1.5s is not a whole number of seconds",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate: %v\nwant %q", err, w)
		}
	}
}
