//go:build nobgp

package vigildcmd

import (
	"log/slog"

	"github.com/vigil-ha/vigil"
)

// bgpBuilt says this vigild runs a bgp block's speaker: built with the
// nobgp tag it does not. GoBGP, gRPC and protobuf then stay out of the
// binary: about 6 MiB less resident memory (bench/README.md, "Memory a
// start leaves behind"); a configuration with a bgp block is refused at
// start, with its position.
const bgpBuilt = false

// NewSpeaker is the SpeakerBuilder of vigild; built with -tags nobgp it
// has no speaker to make.
func NewSpeaker(Supervisor, vigil.BGP, *slog.Logger) (BGPSpeaker, error) {
	return nil, errNoBGP
}
