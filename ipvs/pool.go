package ipvs

import (
	"errors"
	"fmt"
	"slices"
)

// A RealServer is a real server of a Pool.
type RealServer struct {
	// Destination is the server as IPVS holds it while it is up; Weight is
	// its configured weight (SetWeight changes the weight in use).
	Destination
	// InhibitOnFailure keeps the server in the table with weight 0 while it
	// is down, instead of removing it (keepalived's inhibit_on_failure), so
	// that its established connections go on.
	InhibitOnFailure bool
	// Alpha makes a new server start down, until its checker says it is up
	// (keepalived's alpha); otherwise it starts up. A server a
	// Reconfigure keeps keeps its health whatever its Alpha.
	Alpha bool
}

// PoolConfig is a virtual server with keepalived's real-server semantics.
type PoolConfig struct {
	Service     Service
	RealServers []RealServer
	// SorryServer, if set, serves while the pool has no quorum
	// (keepalived's sorry_server); its Weight is used as it is.
	SorryServer *Destination
	// SorryInhibit keeps the sorry server in the table with weight 0 while
	// it is not needed (keepalived's sorry_server_inhibit).
	SorryInhibit bool
	// Quorum is the sum of the weights of the up real servers the pool
	// needs: zero means 1 (keepalived's default); negative means none,
	// the pool always has quorum (then it may have no SorryServer).
	Quorum int
	// Hysteresis widens the quorum: it is gained at Quorum+Hysteresis and
	// lost below Quorum-Hysteresis. Zero or negative means none.
	Hysteresis int
	// Omega makes the end of a Balancer's Run report this pool's real
	// servers still up as down and its quorum, if up, as lost
	// (keepalived's omega of one virtual_server); BalancerConfig.Omega
	// does it for every pool.
	Omega bool
	// Suspended keeps the pool's service out of the Balancer's desired
	// table, so that it is not in IPVS (deleted if it was), while the
	// pool keeps its real servers' health and weights and its quorum;
	// clearing it puts the service back as the pool wants it then.
	// Events are reported as for any pool. A Pool alone ignores it.
	Suspended bool
}

// Validate reports what is wrong with c: its service, its real servers and
// sorry server as destinations of the service, a destination listed twice
// (the sorry server may not be a real server too), a sorry server with
// Quorum off (it would never serve). The errors are *FieldErrors, joined.
func (c PoolConfig) Validate() error {
	// The destinations are the real servers and the sorry server, as
	// VirtualServer would have them, without copying them into one.
	n := len(c.RealServers)
	dest := func(i int) *Destination {
		if i == len(c.RealServers) {
			return c.SorryServer
		}
		return &c.RealServers[i].Destination
	}
	if c.SorryServer != nil {
		n++
	}
	errs := []error{validateServer(c.Service, n, dest)}
	if c.Quorum < 0 && c.SorryServer != nil {
		errs = append(errs, &FieldError{Service: c.Service.ServiceKey, Field: "SorryServer", Reason: fmt.Sprintf("set with Quorum %d (none): it would never serve", c.Quorum)})
	}
	return errors.Join(errs...)
}

// QuorumChange is what a health or weight change did to a pool's quorum.
// The zero value is QuorumSame.
type QuorumChange int8

// Quorum changes: QuorumSame (String "same"), QuorumGained ("gained": the
// pool has quorum again), QuorumLost ("lost").
const (
	QuorumSame   QuorumChange = iota // same
	QuorumGained                     // gained
	QuorumLost                       // lost
)

// A Pool is one virtual server's real servers, their health and weights,
// and its quorum, with keepalived's rules (check/ipwrapper.c):
//
//   - an up real server is in the table with its weight; a down one is
//     removed, or kept with weight 0 when InhibitOnFailure is set;
//   - the quorum counts the weights of the up servers: it is gained when
//     that sum reaches Quorum+Hysteresis, and lost when it falls below
//     Quorum-Hysteresis or to zero; it starts up when the sum is at least
//     Quorum+Hysteresis;
//   - while the quorum is lost and there is a sorry server, the sorry server
//     is in the table and the real servers are not, even the up ones (those
//     with InhibitOnFailure stay with weight 0): keepalived removes the
//     alive servers when it adds the sorry server, and puts them back when
//     it removes it. Without a sorry server, losing the quorum changes
//     nothing in the table; it is only reported;
//   - the sorry server is otherwise out of the table, or in with weight 0
//     with SorryInhibit;
//   - Reconfigure replaces the configuration as keepalived's reload does,
//     keeping the state of the servers that stay.
//
// A Pool is a plain value without goroutines or I/O: VirtualServer returns
// the entry of the desired table that Sync applies. It is not safe for
// concurrent use; Balancer runs pools for many goroutines.
type Pool struct {
	cfg      PoolConfig
	servers  []poolServer
	index    map[DestinationKey]int
	quorumUp bool
}

type poolServer struct {
	RealServer // Weight is the weight in use
	up         bool
	cfgWeight  int // the configured weight, RealServer.Weight in the PoolConfig
}

// NewPool returns the pool cfg describes, each real server up unless it is
// Alpha. It returns cfg.Validate's error.
func NewPool(cfg PoolConfig) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Pool{}
	p.configure(cfg)
	p.quorumUp = p.quorum() < 0 || p.AliveWeight() >= p.quorum()+p.hysteresis()
	return p, nil
}

// Reconfigure replaces the pool's configuration with cfg, for the same
// service key, as keepalived's reload does (check_data.c,
// clear_diff_services):
//
//   - a real server that stays (same address and port) keeps its health;
//     it keeps the weight SetWeight gave it unless its configured Weight
//     changed, then it takes the new one; its other settings are cfg's;
//   - a new real server starts as in NewPool: down if Alpha, else up;
//   - a real server not in cfg is gone;
//   - the quorum keeps its state, then is evaluated again with cfg's
//     Quorum, Hysteresis and servers; the change is returned.
//
// It returns cfg.Validate's error, or a *FieldError if cfg is for another
// service, and then changes nothing.
func (p *Pool) Reconfigure(cfg PoolConfig) (QuorumChange, error) {
	if err := cfg.Validate(); err != nil {
		return QuorumSame, err
	}
	if k := cfg.Service.ServiceKey; k != p.Key() {
		return QuorumSame, &FieldError{Service: p.Key(), Field: "ServiceKey", Reason: fmt.Sprintf("%v, want the pool's", k)}
	}
	p.configure(cfg)
	return p.updateQuorum(), nil
}

// configure sets cfg (valid) as the configuration, keeping the health and
// weight in use of the servers that stay.
// equal reports whether c and d are the same configuration.
func (c *PoolConfig) equal(d *PoolConfig) bool {
	return c.Service == d.Service && slices.Equal(c.RealServers, d.RealServers) &&
		(c.SorryServer == nil) == (d.SorryServer == nil) &&
		(c.SorryServer == nil || *c.SorryServer == *d.SorryServer) &&
		c.SorryInhibit == d.SorryInhibit && c.Quorum == d.Quorum && c.Hysteresis == d.Hysteresis &&
		c.Omega == d.Omega && c.Suspended == d.Suspended
}

func (p *Pool) configure(cfg PoolConfig) {
	cfg.RealServers = slices.Clone(cfg.RealServers)
	if cfg.SorryServer != nil {
		s := *cfg.SorryServer
		cfg.SorryServer = &s
	}
	servers := make([]poolServer, 0, len(cfg.RealServers))
	index := make(map[DestinationKey]int, len(cfg.RealServers))
	for i, rs := range cfg.RealServers {
		s := poolServer{RealServer: rs, up: !rs.Alpha, cfgWeight: rs.Weight}
		if j, ok := p.index[rs.DestinationKey]; ok {
			old := p.servers[j]
			s.up = old.up
			if old.cfgWeight == rs.Weight {
				s.Weight = old.Weight
			}
		}
		servers = append(servers, s)
		index[rs.DestinationKey] = i
	}
	p.cfg, p.servers, p.index = cfg, servers, index
}

// quorum is the quorum in force: Quorum, 1 for zero, negative for none.
func (p *Pool) quorum() int {
	if p.cfg.Quorum == 0 {
		return 1
	}
	return p.cfg.Quorum
}

// hysteresis is the hysteresis in force: Hysteresis, 0 for negative.
func (p *Pool) hysteresis() int { return max(p.cfg.Hysteresis, 0) }

// Key returns the pool's service key.
func (p *Pool) Key() ServiceKey { return p.cfg.Service.ServiceKey }

// QuorumUp reports whether the pool has quorum (always, with Quorum
// negative).
func (p *Pool) QuorumUp() bool { return p.quorumUp }

// AliveWeight returns the sum of the weights of the up real servers.
func (p *Pool) AliveWeight() int {
	sum := 0
	for _, s := range p.servers {
		if s.up {
			sum += s.Weight
		}
	}
	return sum
}

// Up reports whether the real server d is up.
func (p *Pool) Up(d DestinationKey) (bool, error) {
	s, err := p.server(d)
	if err != nil {
		return false, err
	}
	return s.up, nil
}

func (p *Pool) server(d DestinationKey) (*poolServer, error) {
	i, ok := p.index[d]
	if !ok {
		return nil, fmt.Errorf("ipvs: service %v: real server %v: %w", p.Key(), d, ErrNotFound)
	}
	return &p.servers[i], nil
}

// SetHealth records that the real server d is up or down, and returns what
// that did to the quorum.
func (p *Pool) SetHealth(d DestinationKey, up bool) (QuorumChange, error) {
	s, err := p.server(d)
	if err != nil {
		return QuorumSame, err
	}
	s.up = up
	return p.updateQuorum(), nil
}

// SetWeight sets the weight of the real server d (a dynamic weight, as a
// MISC_CHECK or track_file reports), in 0..MaxWeight, and returns what that
// did to the quorum. A down server keeps the weight for when it is up.
func (p *Pool) SetWeight(d DestinationKey, weight int) (QuorumChange, error) {
	s, err := p.server(d)
	if err != nil {
		return QuorumSame, err
	}
	if weight < 0 || weight > MaxWeight {
		return QuorumSame, &FieldError{Service: p.Key(), Dest: d, HasDest: true, Field: "Weight", Reason: fmt.Sprintf("%d out of range 0..%d", weight, MaxWeight)}
	}
	s.Weight = weight
	return p.updateQuorum(), nil
}

// updateQuorum applies keepalived's update_quorum_state; without a
// quorum (negative) the pool always has it.
func (p *Pool) updateQuorum() QuorumChange {
	sum := p.AliveWeight()
	q, h := p.quorum(), p.hysteresis()
	switch {
	case !p.quorumUp && (q < 0 || sum >= q+h):
		p.quorumUp = true
		return QuorumGained
	case p.quorumUp && q >= 0 && (sum == 0 || sum < q-h):
		p.quorumUp = false
		return QuorumLost
	}
	return QuorumSame
}

// VirtualServer returns the pool as the desired table should hold it now.
func (p *Pool) VirtualServer() VirtualServer {
	v := VirtualServer{Service: p.cfg.Service, Destinations: make([]Destination, 0, len(p.servers)+1)}
	sorry := p.cfg.SorryServer != nil && !p.quorumUp
	for _, s := range p.servers {
		switch {
		case s.up && !sorry:
			v.Destinations = append(v.Destinations, s.Destination)
		case s.InhibitOnFailure:
			d := s.Destination
			d.Weight = 0
			v.Destinations = append(v.Destinations, d)
		}
	}
	switch {
	case sorry:
		v.Destinations = append(v.Destinations, *p.cfg.SorryServer)
	case p.cfg.SorryServer != nil && p.cfg.SorryInhibit:
		d := *p.cfg.SorryServer
		d.Weight = 0
		v.Destinations = append(v.Destinations, d)
	}
	return v
}
