package bgp

import (
	"context"
	"net/netip"
	"slices"
	"strings"

	api "github.com/osrg/gobgp/v4/api"

	"github.com/vigil-ha/vigil/bgp/bgpstate"
)

// State is a snapshot of a Speaker, ready for encoding/json. Its types
// are package bgpstate's, which does not import GoBGP, so that vigild
// built without BGP shows the same.
type State = bgpstate.State

// PeerState is one peer's session.
type PeerState = bgpstate.PeerState

// VIPState is one VIP (see bgpstate.VIPState for when its flags change).
type VIPState = bgpstate.VIPState

// State returns a snapshot of the Speaker: the sessions (read from GoBGP
// through its own loop) and what is announced. Safe at any time.
func (s *Speaker) State() State {
	s.mu.Lock()
	st := State{Draining: s.draining, Drained: s.drained}
	for _, v := range s.cfg.VIPs {
		a := s.announced[v.Prefix]
		st.VIPs = append(st.VIPs, VIPState{Prefix: v.Prefix, Announced: a.on, Draining: a.on && a.draining})
	}
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return st
	}
	// GoBGP answers from its loop, or at once with an error once stopped.
	srv.ListPeer(context.Background(), &api.ListPeerRequest{}, func(p *api.Peer) {
		ps := PeerState{}
		if p.Conf != nil {
			ps.Address, _ = netip.ParseAddr(p.Conf.NeighborAddress)
			ps.ASN = p.Conf.PeerAsn
		}
		if p.State != nil {
			ps.Session = strings.ToLower(strings.TrimPrefix(p.State.SessionState.String(), "SESSION_STATE_"))
		}
		st.Peers = append(st.Peers, ps)
	})
	slices.SortFunc(st.Peers, func(a, b PeerState) int { return a.Address.Compare(b.Address) })
	return st
}
