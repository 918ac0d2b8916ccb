package vrrp

import (
	"log/slog"
	"net/netip"
	"time"
)

// Config configures a Router.
type Config struct {
	// Name names the instance in logs and events (keepalived's vrrp_instance).
	Name string
	// VRID is the virtual router identifier, 1..255.
	VRID     uint8
	Version  Version
	Priority uint8
	// Interval is the advert interval (V2: whole seconds; V3: centiseconds).
	Interval time.Duration
	// VIPs are the virtual addresses with their prefix lengths, all of one
	// family, that of Conn.LocalAddr. At most 255.
	VIPs []netip.Prefix
	// Peers switches to unicast: adverts go to each peer and are accepted
	// only from them. Empty means multicast (224.0.0.18 / ff02::12).
	Peers []netip.Addr
	// AuthType and AuthPass configure V2 authentication (keepalived
	// auth_type PASS / auth_pass; only the first 8 bytes count).
	AuthType AuthType
	AuthPass string
	// NoPreempt, PreemptDelay, NoAccept and InitialState: see MachineConfig.
	NoPreempt    bool
	PreemptDelay time.Duration
	NoAccept     bool
	InitialState State
	// PreciseTimers (Linux) runs Master_Down_Timer on a timerfd, so a
	// backup takes over within microseconds of the RFC's deadline rather
	// than with the Go runtime's timer granularity (up to ~1 ms late on an
	// idle process). The master's Adver_Timer stays a Go timer: an advert a
	// fraction of a millisecond late is harmless, and it costs no syscalls.
	// The timerfd fires FinalApproach before the deadline and the router
	// then polls until the deadline, so waking an idle CPU and thread is
	// not added to the takeover. Leave PreciseTimers off inside
	// testing/synctest bubbles, whose fake clock only drives Go timers.
	PreciseTimers bool
	// FinalApproach is how long before Master_Down_Timer's deadline a
	// router with PreciseTimers stops sleeping and polls (one CPU busy for
	// that long, once per imminent takeover: only after adverts from the
	// master have stopped for about three intervals). 0 means the default,
	// 1 ms; negative turns it off.
	FinalApproach time.Duration
	// Logger receives the router's logs; nil discards them.
	Logger *slog.Logger
}
