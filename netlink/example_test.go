//go:build linux

package netlink_test

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/vigil-ha/vigil/netlink"
)

// Example wires the parts as a VRRP master on eth0 would use them: add
// the VIP with a route that follows it, announce it, and put it back when
// someone removes it by hand.
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	log := slog.Default()
	vip := netip.MustParsePrefix("192.0.2.100/24")

	addrs, err := netlink.NewAddrManager(netlink.AddrConfig{
		Interface: "eth0",
		Routes:    []netlink.Route{{Dst: netip.MustParsePrefix("198.51.100.0/24"), Gw: netip.MustParseAddr("192.0.2.254")}},
		Logger:    log,
	})
	if err != nil {
		log.Error("address manager", "err", err)
		return
	}
	defer addrs.Close()
	ann, err := netlink.NewAnnouncer(netlink.AnnouncerConfig{Interface: "eth0", Logger: log})
	if err != nil {
		log.Error("announcer", "err", err)
		return
	}
	defer ann.Close()
	w, err := netlink.NewWatcher(netlink.WatcherConfig{Interface: "eth0", Logger: log})
	if err != nil {
		log.Error("watcher", "err", err)
		return
	}
	events := w.Subscribe(64) // before Run: from the initial listing on
	go w.Run(ctx)

	// Becoming master: addresses first, then tell the segment. The
	// announcement's bursts stop when masterCtx ends (leaving master).
	if err := addrs.AddVIPs(ctx, []netip.Prefix{vip}, true); err != nil {
		log.Error("add VIP", "err", err)
	}
	masterCtx, leaveMaster := context.WithCancel(ctx)
	defer leaveMaster()
	if err := ann.Announce(masterCtx, []netip.Addr{vip.Addr()}); err != nil {
		log.Error("announce", "err", err)
	}

	apply := func(ev netlink.Event) {
		switch {
		case ev.Kind == netlink.InterfaceDown:
			log.Warn("eth0 down: VRRP instance to FAULT")
		case ev.Kind == netlink.AddrRemoved && ev.Addr == vip:
			if err := addrs.AddVIPs(ctx, []netip.Prefix{vip}, true); err != nil {
				log.Error("put VIP back", "err", err)
			}
		}
	}
	var dropped uint64
	for ev := range events.C() { // closed when Run returns
		if d := events.Dropped(); d != dropped {
			// Events were lost: start again from the watcher's view.
			dropped = d
			vipPresent := false
			for _, s := range w.Snapshot() {
				apply(s)
				vipPresent = vipPresent || (s.Kind == netlink.AddrAdded && s.Addr == vip)
			}
			if !vipPresent {
				apply(netlink.Event{Kind: netlink.AddrRemoved, Interface: "eth0", Addr: vip})
			}
		}
		apply(ev)
	}
}
