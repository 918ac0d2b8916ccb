//go:build !nobgp

package vigildcmd

import (
	"errors"
	"log/slog"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/bgp"
)

// bgpBuilt says this vigild runs a bgp block's speaker (GoBGP): built
// without the nobgp tag.
const bgpBuilt = true

// NewSpeaker is the SpeakerBuilder of vigild: a bgp.Speaker following
// sup, which must give its events as a *vigil.Supervisor does (Linux's
// and On's do). Built with -tags nobgp it returns errNoBGP
// (bgp_nospeaker.go).
func NewSpeaker(sup Supervisor, cfg vigil.BGP, log *slog.Logger) (BGPSpeaker, error) {
	src, ok := sup.(bgp.Source)
	if !ok {
		return nil, errors.New("bgp: this Supervisor has no Subscribe for the speaker to follow")
	}
	c := bgp.FromConfig(cfg)
	c.Logger = log
	sp, err := bgp.New(src, c)
	if err != nil {
		return nil, err
	}
	return statusSpeaker{sp}, nil
}

// statusSpeaker is a *bgp.Speaker that gives its State as vigild's
// BGPStatus (bgpstatus.go), which a vigild built without BGP has too.
type statusSpeaker struct{ *bgp.Speaker }

// BGPStatus implements bgpStatuser.
func (s statusSpeaker) BGPStatus() BGPStatus {
	st := s.State()
	b := BGPStatus{Peers: make([]BGPPeerStatus, 0, len(st.Peers)), VIPs: make([]BGPVIPStatus, 0, len(st.VIPs)),
		Draining: st.Draining, Drained: st.Drained}
	for _, p := range st.Peers {
		b.Peers = append(b.Peers, BGPPeerStatus(p))
	}
	for _, v := range st.VIPs {
		b.VIPs = append(b.VIPs, BGPVIPStatus(v))
	}
	return b
}
