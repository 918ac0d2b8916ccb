package bgp

import (
	"log/slog"
	"net/netip"
	"slices"

	"github.com/vigil-ha/vigil"
)

// Config configures a Speaker.
type Config struct {
	// ASN is the local autonomous system number (required, 1..4294967295;
	// 4-byte ASNs are sent as RFC 6793 says).
	ASN uint32
	// RouterID is the BGP identifier, an IPv4 address (required).
	RouterID netip.Addr
	// ListenPort, when positive, makes the Speaker also accept sessions on
	// that TCP port (179 is BGP's). Zero (the default) and negative: it
	// does not listen and opens its sessions itself, so no port is bound
	// and a router on the same host keeps 179. A session offered while Run
	// is still adding its peers is refused (the router tries again).
	ListenPort int
	// Peers are the routers the VIPs are announced to (at least one).
	Peers []Peer
	// VIPs are the routes announced, each while its gate is open.
	VIPs []VIP
	// GracefulRestart, when Enabled, advertises the graceful restart
	// capability (RFC 4724) for the peers' families: when the Speaker
	// stops without Drain (a crash, a restart of the daemon) a helper
	// router keeps its routes for RestartTime, marked stale, until the
	// restarted Speaker sends them again.
	GracefulRestart GracefulRestart
	// Drain is what Speaker.Drain does before withdrawing.
	Drain Drain
	// Logger receives the Speaker's and GoBGP's log; nil discards.
	// GoBGP logs at Info when a session changes state.
	Logger *slog.Logger
}

// The types of a Config are package vigil's, so that vigil.Config.BGP
// (what package config reads from a file) and a Config are one
// definition: see vigil.BGP.
type (
	// Peer is one BGP neighbour.
	Peer = vigil.BGPPeer
	// GracefulRestart is the graceful restart capability (RFC 4724) as
	// GoBGP supports it as a restarting speaker.
	GracefulRestart = vigil.BGPGracefulRestart
	// Drain is how Speaker.Drain moves traffic off this box before its
	// routes are withdrawn: the announced VIPs are sent again with the
	// GRACEFUL_SHUTDOWN community (65535:0, RFC 8326), which a router
	// honouring RFC 8326 turns into a LOCAL_PREF of 0, and with MED;
	// Time later they are withdrawn.
	Drain = vigil.BGPDrain
	// VIP is one announced route and its gate: see vigil.BGPVIP.
	VIP = vigil.BGPVIP
	// Community is a BGP community (RFC 1997), written "AS:VALUE".
	Community = vigil.BGPCommunity
	// LargeCommunity is a large community (RFC 8092), written
	// "ASN:V1:V2".
	LargeCommunity = vigil.BGPLargeCommunity
)

// GracefulShutdown is the GRACEFUL_SHUTDOWN community (65535:0, RFC 8326)
// that Drain attaches.
const GracefulShutdown Community = 0xffff0000

// ParseCommunity parses "AS:VALUE", each part 0..65535.
func ParseCommunity(s string) (Community, error) { return vigil.ParseBGPCommunity(s) }

// ParseLargeCommunity parses "ASN:V1:V2", each part 0..4294967295.
func ParseLargeCommunity(s string) (LargeCommunity, error) { return vigil.ParseBGPLargeCommunity(s) }

// FromConfig returns the Config of b, what vigil.Config.BGP holds (read
// by package config from a bgp block): the same fields, Logger nil. A
// Config is not vigil.BGP itself because it also carries a Logger, and
// its Validate returns this package's *FieldErrors.
func FromConfig(b vigil.BGP) Config {
	return Config{
		ASN:             b.ASN,
		RouterID:        b.RouterID,
		ListenPort:      b.ListenPort,
		Peers:           slices.Clone(b.Peers),
		VIPs:            slices.Clone(b.VIPs),
		GracefulRestart: b.GracefulRestart,
		Drain:           b.Drain,
	}
}

// bgp is cfg without its Logger.
func (cfg *Config) bgp() vigil.BGP {
	return vigil.BGP{
		ASN:             cfg.ASN,
		RouterID:        cfg.RouterID,
		ListenPort:      cfg.ListenPort,
		Peers:           cfg.Peers,
		VIPs:            cfg.VIPs,
		GracefulRestart: cfg.GracefulRestart,
		Drain:           cfg.Drain,
	}
}
