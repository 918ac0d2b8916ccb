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
	return bgp.New(src, c)
}
