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
		Link:   "eth0",
		Routes: []netlink.Route{{Dst: netip.MustParsePrefix("198.51.100.0/24"), Gw: netip.MustParseAddr("192.0.2.254")}},
		Logger: log,
	})
	if err != nil {
		log.Error("address manager", "err", err)
		return
	}
	defer addrs.Close()
	ann, err := netlink.NewAnnouncer(netlink.AnnouncerConfig{Link: "eth0", Logger: log})
	if err != nil {
		log.Error("announcer", "err", err)
		return
	}
	defer ann.Close()
	w, err := netlink.NewWatcher(netlink.WatcherConfig{Link: "eth0", Logger: log})
	if err != nil {
		log.Error("watcher", "err", err)
		return
	}
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

	for ev := range w.Events() {
		switch {
		case ev.Kind == netlink.LinkDown:
			log.Warn("eth0 down: VRRP instance to FAULT")
		case ev.Kind == netlink.AddrRemoved && ev.Addr == vip:
			if err := addrs.AddVIPs(ctx, []netip.Prefix{vip}, true); err != nil {
				log.Error("put VIP back", "err", err)
			}
		}
	}
}
