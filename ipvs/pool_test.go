package ipvs_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
)

// poolRig drives a Pool through a Syncer into an ipvstest.Table.
type poolRig struct {
	t    *testing.T
	p    *ipvs.Pool
	s    *ipvs.Syncer
	tab  *ipvstest.Table
	svc  ipvs.ServiceKey
	rs   []ipvs.DestinationKey
	sorr ipvs.DestinationKey
}

// newRig makes a pool on tcp 192.0.2.10:80 with n real servers of weight
// 1 (10.0.0.1.., port 80), cfg's other settings, and syncs it once,
// expecting want.
func newRig(t *testing.T, n int, cfg ipvs.PoolConfig, mod func(i int, rs *ipvs.RealServer), want ipvs.Result) *poolRig {
	t.Helper()
	r := &poolRig{t: t, tab: ipvstest.New(), svc: tcp("192.0.2.10:80"), sorr: dkey("10.0.9.9:80")}
	cfg.Service = svc("192.0.2.10:80")
	for i := range n {
		rs := ipvs.RealServer{Destination: dest(netAddr(i), 1)}
		if mod != nil {
			mod(i, &rs)
		}
		cfg.RealServers = append(cfg.RealServers, rs)
		r.rs = append(r.rs, rs.DestinationKey)
	}
	p, err := ipvs.NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.p = p
	r.s = ipvs.NewSyncer(r.tab, ipvs.SyncConfig{})
	r.sync(want)
	return r
}

func netAddr(i int) string { return fmt.Sprintf("10.0.0.%d:80", 1+i) }

func sorry(w int) *ipvs.Destination {
	d := dest("10.0.9.9:80", w)
	return &d
}

func (r *poolRig) sync(want ipvs.Result) {
	r.t.Helper()
	mustSync(r.t, r.s, []ipvs.VirtualServer{r.p.VirtualServer()}, want)
}

// health sets server i's health, checks the quorum change and syncs.
func (r *poolRig) health(i int, up bool, q ipvs.QuorumChange, want ipvs.Result) {
	r.t.Helper()
	got, err := r.p.SetHealth(r.rs[i], up)
	if err != nil || got != q {
		r.t.Fatalf("SetHealth(%d, %v) = %v, %v; want %v", i, up, got, err, q)
	}
	r.sync(want)
}

// weights returns the table's destinations as key → weight.
func (r *poolRig) weights() map[string]int {
	m := map[string]int{}
	for _, v := range r.tab.Table() {
		for _, d := range v.Destinations {
			m[d.DestinationKey.String()] = d.Weight
		}
	}
	return m
}

func (r *poolRig) wantWeights(want map[string]int) {
	r.t.Helper()
	got := r.weights()
	if len(got) != len(want) {
		r.t.Fatalf("table holds %v, want %v", got, want)
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			r.t.Fatalf("table holds %v, want %v", got, want)
		}
	}
}

func TestPoolInhibitOrRemove(t *testing.T) {
	r := newRig(t, 2, ipvs.PoolConfig{}, func(i int, rs *ipvs.RealServer) { rs.InhibitOnFailure = i == 0 },
		ipvs.Result{CreatedServices: 1, CreatedDests: 2})
	r.health(0, false, ipvs.QuorumSame, ipvs.Result{UpdatedDests: 1}) // inhibited: weight 0
	r.wantWeights(map[string]int{"10.0.0.1:80": 0, "10.0.0.2:80": 1})
	r.health(1, false, ipvs.QuorumLost, ipvs.Result{DeletedDests: 1}) // removed
	r.wantWeights(map[string]int{"10.0.0.1:80": 0})
	r.health(0, true, ipvs.QuorumGained, ipvs.Result{UpdatedDests: 1})
	r.health(1, true, ipvs.QuorumSame, ipvs.Result{CreatedDests: 1})
	r.wantWeights(map[string]int{"10.0.0.1:80": 1, "10.0.0.2:80": 1})
	// The same health again changes nothing.
	r.health(1, true, ipvs.QuorumSame, ipvs.Result{})
}

func TestPoolSorryServer(t *testing.T) {
	r := newRig(t, 2, ipvs.PoolConfig{SorryServer: sorry(5)}, nil, ipvs.Result{CreatedServices: 1, CreatedDests: 2})
	r.health(0, false, ipvs.QuorumSame, ipvs.Result{DeletedDests: 1})
	// The last one down: quorum lost, the sorry server in.
	r.health(1, false, ipvs.QuorumLost, ipvs.Result{DeletedDests: 1, CreatedDests: 1})
	r.wantWeights(map[string]int{"10.0.9.9:80": 5})
	// One back: quorum, the sorry server out.
	r.health(1, true, ipvs.QuorumGained, ipvs.Result{DeletedDests: 1, CreatedDests: 1})
	r.wantWeights(map[string]int{"10.0.0.2:80": 1})
}

func TestPoolSorryServerReplacesAliveServers(t *testing.T) {
	// Quorum 2 of two servers: one down loses the quorum; keepalived then
	// takes the alive one out too (inhibited ones to weight 0).
	r := newRig(t, 2, ipvs.PoolConfig{SorryServer: sorry(1), Quorum: 2}, func(i int, rs *ipvs.RealServer) { rs.InhibitOnFailure = i == 0 },
		ipvs.Result{CreatedServices: 1, CreatedDests: 2})
	r.health(1, false, ipvs.QuorumLost, ipvs.Result{UpdatedDests: 1, DeletedDests: 1, CreatedDests: 1})
	r.wantWeights(map[string]int{"10.0.0.1:80": 0, "10.0.9.9:80": 1})
	r.health(1, true, ipvs.QuorumGained, ipvs.Result{UpdatedDests: 1, DeletedDests: 1, CreatedDests: 1})
	r.wantWeights(map[string]int{"10.0.0.1:80": 1, "10.0.0.2:80": 1})
}

func TestPoolSorryInhibit(t *testing.T) {
	r := newRig(t, 1, ipvs.PoolConfig{SorryServer: sorry(3), SorryInhibit: true}, nil, ipvs.Result{CreatedServices: 1, CreatedDests: 2})
	r.wantWeights(map[string]int{"10.0.0.1:80": 1, "10.0.9.9:80": 0})
	r.health(0, false, ipvs.QuorumLost, ipvs.Result{DeletedDests: 1, UpdatedDests: 1})
	r.wantWeights(map[string]int{"10.0.9.9:80": 3})
	r.health(0, true, ipvs.QuorumGained, ipvs.Result{CreatedDests: 1, UpdatedDests: 1})
	r.wantWeights(map[string]int{"10.0.0.1:80": 1, "10.0.9.9:80": 0})
}

func TestPoolQuorumHysteresis(t *testing.T) {
	// Quorum 3, hysteresis 1, five servers of weight 1, all up: quorum up
	// (5 >= 4). It is lost below 2 and gained again at 4.
	r := newRig(t, 5, ipvs.PoolConfig{Quorum: 3, Hysteresis: 1}, nil, ipvs.Result{CreatedServices: 1, CreatedDests: 5})
	var ups, downs int
	steps := []struct {
		server int
		up     bool
		alive  int
		q      ipvs.QuorumChange
	}{
		{0, false, 4, ipvs.QuorumSame},
		{1, false, 3, ipvs.QuorumSame},
		{2, false, 2, ipvs.QuorumSame}, // 2 is not below 3-1
		{3, false, 1, ipvs.QuorumLost},
		{4, false, 0, ipvs.QuorumSame},
		{0, true, 1, ipvs.QuorumSame},
		{1, true, 2, ipvs.QuorumSame},
		{2, true, 3, ipvs.QuorumSame}, // 3 is not 3+1
		{3, true, 4, ipvs.QuorumGained},
		{3, false, 3, ipvs.QuorumSame},
		{2, false, 2, ipvs.QuorumSame},
		{1, false, 1, ipvs.QuorumLost},
	}
	for i, st := range steps {
		q, err := r.p.SetHealth(r.rs[st.server], st.up)
		if err != nil || q != st.q || r.p.AliveWeight() != st.alive {
			t.Fatalf("step %d: %v, %v, alive %d; want %v, alive %d", i, q, err, r.p.AliveWeight(), st.q, st.alive)
		}
		switch q {
		case ipvs.QuorumGained:
			ups++
		case ipvs.QuorumLost:
			downs++
		}
		want := ipvs.Result{CreatedDests: 1} // no sorry server: each change is one destination
		if !st.up {
			want = ipvs.Result{DeletedDests: 1}
		}
		r.sync(want)
	}
	if ups != 1 || downs != 2 {
		t.Fatalf("%d gains and %d losses, want 1 and 2", ups, downs)
	}
}

func TestPoolQuorumStartsDown(t *testing.T) {
	// Quorum 2 with hysteresis 1 needs 3 to start up.
	r := newRig(t, 2, ipvs.PoolConfig{Quorum: 2, Hysteresis: 1, SorryServer: sorry(1)}, nil,
		ipvs.Result{CreatedServices: 1, CreatedDests: 1}) // the sorry server only
	if r.p.QuorumUp() {
		t.Fatal("quorum up with 2 of 3")
	}
	r.wantWeights(map[string]int{"10.0.9.9:80": 1})
}

func TestPoolAlpha(t *testing.T) {
	r := newRig(t, 2, ipvs.PoolConfig{}, func(i int, rs *ipvs.RealServer) { rs.Alpha = true; rs.InhibitOnFailure = i == 1 },
		ipvs.Result{CreatedServices: 1, CreatedDests: 1}) // the inhibited one, at weight 0
	if r.p.QuorumUp() {
		t.Fatal("alpha servers gave quorum")
	}
	r.wantWeights(map[string]int{"10.0.0.2:80": 0})
	r.health(0, true, ipvs.QuorumGained, ipvs.Result{CreatedDests: 1})
	r.health(1, true, ipvs.QuorumSame, ipvs.Result{UpdatedDests: 1})
	r.wantWeights(map[string]int{"10.0.0.1:80": 1, "10.0.0.2:80": 1})
}

func TestPoolDynamicWeight(t *testing.T) {
	r := newRig(t, 2, ipvs.PoolConfig{}, nil, ipvs.Result{CreatedServices: 1, CreatedDests: 2})
	setw := func(i, w int, q ipvs.QuorumChange, want ipvs.Result) {
		t.Helper()
		got, err := r.p.SetWeight(r.rs[i], w)
		if err != nil || got != q {
			t.Fatalf("SetWeight(%d, %d) = %v, %v; want %v", i, w, got, err, q)
		}
		r.sync(want)
	}
	setw(0, 10, ipvs.QuorumSame, ipvs.Result{UpdatedDests: 1})
	r.health(1, false, ipvs.QuorumSame, ipvs.Result{DeletedDests: 1})
	setw(1, 7, ipvs.QuorumSame, ipvs.Result{}) // down: kept for later
	r.health(1, true, ipvs.QuorumSame, ipvs.Result{CreatedDests: 1})
	r.wantWeights(map[string]int{"10.0.0.1:80": 10, "10.0.0.2:80": 7})
	// Weights to zero lose the quorum (alive weight 0).
	setw(0, 0, ipvs.QuorumSame, ipvs.Result{UpdatedDests: 1})
	setw(1, 0, ipvs.QuorumLost, ipvs.Result{UpdatedDests: 1})
	if _, err := r.p.SetWeight(r.rs[0], 70000); !errors.Is(err, ipvs.ErrInvalid) {
		t.Fatalf("weight 70000: %v", err)
	}
	if _, err := r.p.SetHealth(dkey("10.0.0.99:80"), true); !errors.Is(err, ipvs.ErrNotFound) {
		t.Fatalf("unknown server: %v", err)
	}
}

func TestPoolConfigValidate(t *testing.T) {
	s := sorry(1)
	cfg := ipvs.PoolConfig{
		Service:     svc("192.0.2.10:80"),
		RealServers: []ipvs.RealServer{{Destination: *s}},
		SorryServer: s,
		Quorum:      -1,
		Hysteresis:  -1,
	}
	err := cfg.Validate()
	for _, f := range []string{"DestinationKey: duplicate", "SorryServer: set with Quorum -1 (none)"} {
		if err == nil || !errors.Is(err, ipvs.ErrInvalid) || !strings.Contains(err.Error(), f) {
			t.Errorf("%v does not say %q", err, f)
		}
	}
	if strings.Contains(err.Error(), "Hysteresis") {
		t.Errorf("%v: a negative Hysteresis is none, not invalid", err)
	}
}

// TestPoolQuorumOff: a negative Quorum is none: the pool always has
// quorum, even with every server down; a negative Hysteresis is none.
func TestPoolQuorumOff(t *testing.T) {
	r := newRig(t, 2, ipvs.PoolConfig{Quorum: -1, Hysteresis: -5}, nil, ipvs.Result{CreatedServices: 1, CreatedDests: 2})
	r.health(0, false, ipvs.QuorumSame, ipvs.Result{DeletedDests: 1})
	r.health(1, false, ipvs.QuorumSame, ipvs.Result{DeletedDests: 1})
	if !r.p.QuorumUp() {
		t.Fatal("quorum lost without a quorum")
	}
	r2 := newRig(t, 3, ipvs.PoolConfig{Quorum: 2, Hysteresis: -5}, nil, ipvs.Result{CreatedServices: 1, CreatedDests: 3})
	r2.health(0, false, ipvs.QuorumSame, ipvs.Result{DeletedDests: 1})
	r2.health(1, false, ipvs.QuorumLost, ipvs.Result{DeletedDests: 1}) // 1 < 2: no hysteresis
	r2.health(1, true, ipvs.QuorumGained, ipvs.Result{CreatedDests: 1})
}

// reconfigure calls Reconfigure, checks the quorum change and syncs.
func (r *poolRig) reconfigure(cfg ipvs.PoolConfig, q ipvs.QuorumChange, want ipvs.Result) {
	r.t.Helper()
	got, err := r.p.Reconfigure(cfg)
	if err != nil || got != q {
		r.t.Fatalf("Reconfigure = %v, %v; want %v", got, err, q)
	}
	r.sync(want)
}

// rigConfig is the configuration newRig made for n servers.
func rigConfig(n int) ipvs.PoolConfig {
	cfg := ipvs.PoolConfig{Service: svc("192.0.2.10:80")}
	for i := range n {
		cfg.RealServers = append(cfg.RealServers, ipvs.RealServer{Destination: dest(netAddr(i), 1)})
	}
	return cfg
}

// TestPoolReconfigure follows keepalived's reload: servers that stay keep
// their health and dynamic weight, a changed configured weight wins, new
// servers start as configured (alpha: down), removed ones go.
func TestPoolReconfigure(t *testing.T) {
	r := newRig(t, 3, ipvs.PoolConfig{}, nil, ipvs.Result{CreatedServices: 1, CreatedDests: 3})
	r.health(0, false, ipvs.QuorumSame, ipvs.Result{DeletedDests: 1})
	if _, err := r.p.SetWeight(r.rs[1], 7); err != nil {
		t.Fatal(err)
	}
	r.sync(ipvs.Result{UpdatedDests: 1})

	// The same configuration: nothing changes.
	cfg := rigConfig(3)
	r.reconfigure(cfg, ipvs.QuorumSame, ipvs.Result{})
	r.wantWeights(map[string]int{"10.0.0.2:80": 7, "10.0.0.3:80": 1})

	// Server 2's configured weight changes; servers 3 (alpha) and 4 are
	// new; server 0 turns alpha (it stays down, as it was), server 1
	// turns alpha (it stays up).
	cfg.RealServers[0].Alpha = true
	cfg.RealServers[1].Alpha = true
	cfg.RealServers[2].Weight = 4
	cfg.RealServers = append(cfg.RealServers,
		ipvs.RealServer{Destination: dest(netAddr(3), 1), Alpha: true},
		ipvs.RealServer{Destination: dest(netAddr(4), 2)})
	r.reconfigure(cfg, ipvs.QuorumSame, ipvs.Result{UpdatedDests: 1, CreatedDests: 1})
	r.wantWeights(map[string]int{"10.0.0.2:80": 7, "10.0.0.3:80": 4, "10.0.0.5:80": 2})
	for i, want := range []bool{false, true, true, false, true} {
		if up, err := r.p.Up(dkey(netAddr(i))); err != nil || up != want {
			t.Errorf("server %d: up %v, %v; want %v", i, up, err, want)
		}
	}

	// Servers 1 and 4 removed; the thresholds of server 2 change.
	cfg.RealServers = []ipvs.RealServer{cfg.RealServers[0], cfg.RealServers[2], cfg.RealServers[3]}
	cfg.RealServers[1].UpperThreshold = 100
	r.reconfigure(cfg, ipvs.QuorumSame, ipvs.Result{DeletedDests: 2, UpdatedDests: 1})
	r.wantWeights(map[string]int{"10.0.0.3:80": 4})
	if _, err := r.p.Up(dkey(netAddr(1))); !errors.Is(err, ipvs.ErrNotFound) {
		t.Fatalf("removed server: %v", err)
	}

	// Another service's configuration is refused and changes nothing.
	other := cfg
	other.Service = svc("192.0.2.11:80")
	if _, err := r.p.Reconfigure(other); !errors.Is(err, ipvs.ErrInvalid) {
		t.Fatalf("other service: %v", err)
	}
	bad := cfg
	bad.RealServers = append(slices.Clone(cfg.RealServers), cfg.RealServers[0])
	if _, err := r.p.Reconfigure(bad); !errors.Is(err, ipvs.ErrInvalid) {
		t.Fatalf("invalid: %v", err)
	}
	r.sync(ipvs.Result{})
}

// TestPoolReconfigureQuorum: the quorum keeps its state and is evaluated
// again with the new servers, quorum and hysteresis.
func TestPoolReconfigureQuorum(t *testing.T) {
	cfg := rigConfig(3)
	cfg.Quorum, cfg.SorryServer = 3, sorry(1)
	r := newRig(t, 3, ipvs.PoolConfig{Quorum: 3, SorryServer: sorry(1)}, nil, ipvs.Result{CreatedServices: 1, CreatedDests: 3})
	// One server fewer: 2 < 3, the quorum is lost and the sorry server in.
	cfg.RealServers = cfg.RealServers[:2]
	r.reconfigure(cfg, ipvs.QuorumLost, ipvs.Result{DeletedDests: 3, CreatedDests: 1})
	r.wantWeights(map[string]int{"10.0.9.9:80": 1})
	// A hysteresis does not bring it back; a lower quorum does.
	cfg.Hysteresis = 1
	r.reconfigure(cfg, ipvs.QuorumSame, ipvs.Result{})
	cfg.Quorum = 1
	r.reconfigure(cfg, ipvs.QuorumGained, ipvs.Result{DeletedDests: 1, CreatedDests: 2})
	// With the hysteresis, a quorum kept up is not lost at the threshold:
	// 2 is not below 3-1.
	cfg.Quorum = 3
	r.reconfigure(cfg, ipvs.QuorumSame, ipvs.Result{})
	r.wantWeights(map[string]int{"10.0.0.1:80": 1, "10.0.0.2:80": 1})
}

func TestPoolUp(t *testing.T) {
	r := newRig(t, 2, ipvs.PoolConfig{}, func(i int, rs *ipvs.RealServer) { rs.Alpha = i == 1 }, ipvs.Result{CreatedServices: 1, CreatedDests: 1})
	for i, want := range []bool{true, false} {
		if up, err := r.p.Up(r.rs[i]); err != nil || up != want {
			t.Errorf("server %d: up %v, %v; want %v", i, up, err, want)
		}
	}
	if _, err := r.p.Up(dkey("10.0.0.99:80")); !errors.Is(err, ipvs.ErrNotFound) {
		t.Errorf("unknown server: %v", err)
	}
}
