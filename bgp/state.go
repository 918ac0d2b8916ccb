package bgp

import (
	"context"
	"net/netip"
	"slices"
	"strings"

	api "github.com/osrg/gobgp/v4/api"
)

// State is a snapshot of a Speaker, ready for encoding/json.
type State struct {
	// Peers are the configured peers with their sessions' states; empty
	// while Run is not running.
	Peers []PeerState `json:"peers"`
	// VIPs are the configured VIPs, in Config order.
	VIPs []VIPState `json:"vips"`
	// Draining is set once Drain has started, Drained once it withdrew
	// everything.
	Draining bool `json:"draining,omitempty"`
	Drained  bool `json:"drained,omitempty"`
}

// PeerState is one peer's session.
type PeerState struct {
	Address netip.Addr `json:"address"`
	ASN     uint32     `json:"asn"`
	// Session is the BGP FSM state, lower case: "idle", "connect",
	// "active", "opensent", "openconfirm", "established".
	Session string `json:"session"`
}

// VIPState is one VIP.
type VIPState struct {
	Prefix netip.Prefix `json:"prefix"`
	// Announced is set while the route is announced, Draining while it
	// is announced with GRACEFUL_SHUTDOWN. Both change just before the
	// speaker hands the change to GoBGP (and change back if GoBGP
	// refuses it), so a router never learns of a change State does not
	// show yet.
	Announced bool `json:"announced"`
	Draining  bool `json:"draining,omitempty"`
}

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
