package vrrp

import (
	"errors"
	"fmt"
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
	// Interval is the advert interval (V2: whole seconds; V3: whole
	// centiseconds). 0 means DefaultInterval, 1 s.
	Interval time.Duration
	// VIPs are the virtual addresses with their prefix lengths, all of one
	// family, that of Conn.LocalAddr. At most 255.
	VIPs []netip.Prefix
	// Peers switches to unicast: adverts go to each peer and are accepted
	// only from them. Empty means multicast (224.0.0.18 / ff02::12).
	Peers []netip.Addr
	// Group is the multicast group adverts go to when Peers is empty
	// (keepalived's vrrp_mcast_group4 / vrrp_mcast_group6, mcast_dst_ip):
	// a multicast address of the instance's family. The zero value means
	// GroupV4 / GroupV6. The Conn must receive on it (ConnConfig.Group).
	Group netip.Addr
	// AuthType and AuthPass configure V2 authentication (keepalived
	// auth_type PASS / auth_pass; only the first 8 bytes count).
	AuthType AuthType
	AuthPass string
	// NoPreempt, PreemptDelay (0 and negative: none), NoAccept and
	// InitialState: see MachineConfig.
	NoPreempt    bool
	PreemptDelay time.Duration
	NoAccept     bool
	InitialState State
	// AdvertOptions: see MachineConfig.
	AdvertOptions
	// UnicastFaultNoPeer keeps the router in FAULT while Peers is empty,
	// rather than falling back to multicast (keepalived
	// unicast_fault_no_peer); a Reconfigure that gives it peers clears
	// the fault.
	UnicastFaultNoPeer bool
	// V3ChecksumAsV2: VRRPv3 over IPv4 adverts are sent with the checksum
	// VRRPv2 computes, over the message alone, without the pseudo-header,
	// for peers (older routers of other makes) that compute it so
	// (keepalived v3_checksum_as_v2); adverts are accepted with either
	// checksum. Ignored for V2 and IPv6. Off: RFC 5798's checksum, sent
	// and required.
	V3ChecksumAsV2 bool
	// Logger receives the router's logs; nil discards them.
	Logger *slog.Logger
	// TransitionLogLevel is the level of the line the router logs for
	// each transition of its state ("vrrp: transition"); the zero value
	// is slog.LevelInfo. A program that logs transitions itself, from
	// the router's events, sets a level its Logger leaves out (vigild
	// writes keepalived's "(VI_1) Entering MASTER STATE" and sets
	// slog.LevelDebug): one line a transition, not two, and none
	// formatted and written on a takeover's path (a goroutine and a
	// write fewer a takeover; bench/README.md, "One line a transition").
	TransitionLogLevel slog.Level
}

// object names the instance in errors: "instance VI_1", or "VRID 51"
// when it has no name.
func (c *Config) object() string {
	if c.Name == "" {
		return fmt.Sprintf("VRID %d", c.VRID)
	}
	return "instance " + c.Name
}

// machineConfig is the state machine's part of c, with primary as our
// address.
func (c *Config) machineConfig(primary netip.Addr) MachineConfig {
	return MachineConfig{Version: c.Version, Priority: c.Priority, Interval: c.Interval, Primary: primary,
		NoPreempt: c.NoPreempt, PreemptDelay: c.PreemptDelay, NoAccept: c.NoAccept, InitialState: c.InitialState,
		AdvertOptions: c.AdvertOptions}
}

// Validate reports every problem of c at once, as *FieldErrors naming the
// instance and the field, wrapping ErrInvalid. NewRouter also checks that
// the VIPs and peers are of the family of the Conn's local address.
func (c *Config) Validate() error {
	obj := c.object()
	var errs []error
	if c.VRID == 0 {
		errs = append(errs, invalid(obj, "VRID", "0, want 1..255"))
	}
	mc := c.machineConfig(netip.Addr{})
	errs = append(errs, mc.problems(obj)...)
	if len(c.VIPs) > 255 {
		errs = append(errs, invalid(obj, "VIPs", "%d virtual addresses, at most 255", len(c.VIPs)))
	}
	// The family is the first address's (the Conn's, in NewRouter).
	var fam netip.Addr
	sameFamily := func(field string, a netip.Addr) {
		switch {
		case !a.IsValid():
			errs = append(errs, invalid(obj, field, "invalid address"))
		case !fam.IsValid():
			fam = a
		case is6(a) != is6(fam):
			errs = append(errs, invalid(obj, field, "%v is not of the family of %v", a, fam))
		}
		if a.IsValid() && c.Version == V2 && is6(a) {
			errs = append(errs, invalid(obj, field, "%v: VRRPv2 is IPv4 only", a))
		}
	}
	for _, p := range c.VIPs {
		if !p.IsValid() {
			errs = append(errs, invalid(obj, "VIPs", "invalid prefix %v", p))
			continue
		}
		sameFamily("VIPs", p.Addr())
	}
	for _, p := range c.Peers {
		sameFamily("Peers", p)
	}
	if c.Group.IsValid() {
		if !c.Group.Unmap().IsMulticast() {
			errs = append(errs, invalid(obj, "Group", "%v is not a multicast address", c.Group))
		} else {
			sameFamily("Group", c.Group.Unmap())
		}
	}
	switch c.AuthType {
	case AuthNone:
		if c.AuthPass != "" {
			errs = append(errs, invalid(obj, "AuthPass", "auth_pass without auth_type PASS"))
		}
	case AuthSimple:
		if c.Version != V2 {
			errs = append(errs, invalid(obj, "AuthType", "authentication exists only in VRRPv2"))
		}
		if c.AuthPass == "" {
			errs = append(errs, invalid(obj, "AuthPass", "auth_type PASS needs auth_pass"))
		}
	case AuthAH:
		errs = append(errs, invalid(obj, "AuthType", "auth_type AH is not supported"))
	default:
		errs = append(errs, invalid(obj, "AuthType", "unknown auth type %v", c.AuthType))
	}
	return errors.Join(errs...)
}
