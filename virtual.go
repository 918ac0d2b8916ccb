package vigil

// The virtual-server engine: a stub until it lands.

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/ipvs"
)

type VirtualServerChanges struct{}

type virtualServers struct{}

func newVirtualServers(g *check.Group, b ipvs.Backend, cfg *Config, em emitter, log *slog.Logger) (*virtualServers, error) {
	return &virtualServers{}, nil
}
func (v *virtualServers) run(ctx context.Context) error { <-ctx.Done(); return nil }
func (v *virtualServers) reload(cfg *Config) (VirtualServerChanges, error) {
	return VirtualServerChanges{}, nil
}
func (v *virtualServers) state() []VirtualServerState { return nil }
func (v *virtualServers) setHeld([]netip.Addr)        {}
func validateVirtualServers(cfg *Config) []error      { return nil }
