package vigil

import (
	"context"
	"net/netip"

	"github.com/vigil-ha/vigil/vrrp"
)

// AnnounceLowerPrio implements vrrp.LowerPrioAnnouncer behind the fence.
func (a fencedAnnouncer) AnnounceLowerPrio(ctx context.Context, addrs []netip.Addr) error {
	if a.f.closed() {
		return errFenced
	}
	return vrrp.AnnounceLowerPrio(ctx, a.a, addrs)
}
