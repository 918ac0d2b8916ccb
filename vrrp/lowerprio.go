package vrrp

import (
	"context"
	"net/netip"
)

// AnnounceLowerPrio announces addrs through a's AnnounceLowerPrio if a is
// a LowerPrioAnnouncer, else through Announce: what the Router does for
// a master that heard a lower priority master, for wrappers of an
// Announcer to pass on.
func AnnounceLowerPrio(ctx context.Context, a Announcer, addrs []netip.Addr) error {
	if la, ok := a.(LowerPrioAnnouncer); ok {
		return la.AnnounceLowerPrio(ctx, addrs)
	}
	return a.Announce(ctx, addrs)
}
