package hostwire

import (
	"log/slog"
	"net/netip"

	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/vrrp"
)

// FaultSource is the Router fault source for interface name being down.
func FaultSource(name string) string { return "interface:" + name }

// Events is what ApplyEvent needs of a platform's event subscription.
type Events interface {
	Dropped() uint64
}

// ApplyEvent applies e with apply; when the subscription ev dropped
// events since *dropped was counted, it applies the platform's current
// view (snapshot) first.
func ApplyEvent(snapshot func() []netlink.Event, ev Events, dropped *uint64, log *slog.Logger, e netlink.Event, apply func(netlink.Event)) {
	if d := ev.Dropped(); d != *dropped {
		log.Warn("vigil: interface events dropped; applying the platform's current view", "dropped", d-*dropped)
		*dropped = d
		for _, x := range snapshot() {
			apply(x)
		}
	}
	apply(e)
}

// AddrEvent applies an address event of an instance's interface to its
// router: a removed address is the router's to put back if it is a VIP
// and the router is master (it is the only writer of its VIPs, on its own
// goroutine), held's if it is an excluded VIP, and no one's if its
// options (opts) say NoTrack; a VIP failing duplicate address detection
// is logged. cfg is the router's configuration.
func AddrEvent(log *slog.Logger, e netlink.Event, cfg *vrrp.Config, opts map[netip.Prefix]netlink.AddrOptions, r *vrrp.Router, held *Held) {
	switch e.Kind {
	case netlink.AddrRemoved:
		if RemovedUntracked(log, e, cfg.Name, opts, held) {
			return
		}
		r.AddrRemoved(e.Addr)
	case netlink.AddrDADFailed:
		if _, ok := FindVIP(cfg.VIPs, e.Addr); ok {
			log.Error("vigil: duplicate address detection failed for a virtual address: another node uses it",
				"instance", cfg.Name, "addr", e.Addr)
		}
	}
}

// FindVIP returns the configured VIP with p's address.
func FindVIP(vips []netip.Prefix, p netip.Prefix) (netip.Prefix, bool) {
	for _, x := range vips {
		if x.Addr() == p.Addr().Unmap() {
			return x, true
		}
	}
	return netip.Prefix{}, false
}
