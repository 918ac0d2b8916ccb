package ipvs

import (
	"errors"
	"fmt"
	"slices"
)

// A RealServer is a real server of a Pool.
type RealServer struct {
	// Destination is the server as IPVS holds it while it is up; Weight is
	// its configured weight (SetWeight changes it).
	Destination
	// InhibitOnFailure keeps the server in the table with weight 0 while it
	// is down, instead of removing it (keepalived's inhibit_on_failure), so
	// that its established connections go on.
	InhibitOnFailure bool
	// Alpha makes the server start down, until its checker says it is up
	// (keepalived's alpha); otherwise it starts up.
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
	// needs; zero means 1 (keepalived's default).
	Quorum int
	// Hysteresis widens the quorum: it is gained at Quorum+Hysteresis and
	// lost below Quorum-Hysteresis.
	Hysteresis int
}

// Validate reports what is wrong with c: its service, its real servers and
// sorry server as destinations of the service, a destination listed twice
// (the sorry server may not be a real server too), a negative Quorum or
// Hysteresis. The errors are joined and wrap ErrInvalid.
func (c PoolConfig) Validate() error {
	v := VirtualServer{Service: c.Service}
	for _, rs := range c.RealServers {
		v.Destinations = append(v.Destinations, rs.Destination)
	}
	if c.SorryServer != nil {
		v.Destinations = append(v.Destinations, *c.SorryServer)
	}
	errs := []error{v.Validate()}
	if c.Quorum < 0 {
		errs = append(errs, &FieldError{Service: c.Service.ServiceKey, Field: "Quorum", Reason: fmt.Sprintf("negative %d", c.Quorum)})
	}
	if c.Hysteresis < 0 {
		errs = append(errs, &FieldError{Service: c.Service.ServiceKey, Field: "Hysteresis", Reason: fmt.Sprintf("negative %d", c.Hysteresis)})
	}
	return errors.Join(errs...)
}

// QuorumChange is what a health or weight change did to a pool's quorum.
// The zero value is QuorumSame.
type QuorumChange int8

// Quorum changes.
const (
	QuorumSame   QuorumChange = iota // no change
	QuorumGained                     // the pool has quorum again
	QuorumLost                       // the pool lost its quorum
)

// String returns "same", "gained" or "lost".
func (q QuorumChange) String() string {
	switch q {
	case QuorumSame:
		return "same"
	case QuorumGained:
		return "gained"
	case QuorumLost:
		return "lost"
	}
	return fmt.Sprintf("QuorumChange(%d)", int8(q))
}

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
//     with SorryInhibit.
//
// A Pool is a plain value without goroutines or I/O: VirtualServer returns
// the entry of the desired table that Sync applies. It is not safe for
// concurrent use; Balancer runs pools for many goroutines.
type Pool struct {
	cfg      PoolConfig
	quorum   int
	servers  []poolServer
	index    map[DestinationKey]int
	quorumUp bool
}

type poolServer struct {
	RealServer
	up bool
}

// NewPool returns the pool cfg describes, each real server up unless it is
// Alpha.
func NewPool(cfg PoolConfig) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.RealServers = slices.Clone(cfg.RealServers)
	if cfg.SorryServer != nil {
		s := *cfg.SorryServer
		cfg.SorryServer = &s
	}
	p := &Pool{cfg: cfg, quorum: cfg.Quorum, index: make(map[DestinationKey]int, len(cfg.RealServers))}
	if p.quorum == 0 {
		p.quorum = 1
	}
	for i, rs := range cfg.RealServers {
		p.servers = append(p.servers, poolServer{RealServer: rs, up: !rs.Alpha})
		p.index[rs.DestinationKey] = i
	}
	p.quorumUp = p.AliveWeight() >= p.quorum+cfg.Hysteresis
	return p, nil
}

// Key returns the pool's service key.
func (p *Pool) Key() ServiceKey { return p.cfg.Service.ServiceKey }

// QuorumUp reports whether the pool has quorum.
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

// updateQuorum applies keepalived's update_quorum_state.
func (p *Pool) updateQuorum() QuorumChange {
	sum := p.AliveWeight()
	switch {
	case !p.quorumUp && sum >= p.quorum+p.cfg.Hysteresis:
		p.quorumUp = true
		return QuorumGained
	case p.quorumUp && (sum == 0 || sum < p.quorum-p.cfg.Hysteresis):
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
