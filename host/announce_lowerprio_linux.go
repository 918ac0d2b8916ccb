package host

import (
	"context"
	"net/netip"

	"github.com/vigil-ha/vigil/vrrp"
)

// AnnounceLowerPrio implements vrrp.LowerPrioAnnouncer: the current
// announcer's lower-priority announcement.
func (s *swapAnnouncer) AnnounceLowerPrio(ctx context.Context, addrs []netip.Addr) error {
	s.mu.Lock()
	a := s.a
	s.mu.Unlock()
	return vrrp.AnnounceLowerPrio(ctx, a, addrs)
}
