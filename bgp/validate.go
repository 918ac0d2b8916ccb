package bgp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrRan is returned by a second call of Run: a Speaker runs once.
	ErrRan = errors.New("bgp: already ran")
	// ErrClosed is returned by Run after Close.
	ErrClosed = errors.New("bgp: speaker closed")
	// ErrInvalid is wrapped by every *FieldError: a configuration breaks
	// a rule, and retrying will not help.
	ErrInvalid = errors.New("bgp: invalid configuration")
)

// A FieldError says which field of which object of a Config is invalid.
// It wraps ErrInvalid.
type FieldError struct {
	// Object is what holds the field: "speaker", "peer 192.0.2.1",
	// "vip 203.0.113.10/32".
	Object string
	// Field is the Go path of the field from the object: "HoldTime",
	// "Communities[1]".
	Field  string
	Reason string
}

// Error formats e as "bgp: peer 192.0.2.1: HoldTime: 2s is less than 3s".
func (e *FieldError) Error() string {
	return "bgp: " + e.Object + ": " + e.Field + ": " + e.Reason
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(object, field, format string, args ...any) *FieldError {
	return &FieldError{Object: object, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate reports every rule cfg breaks, each a *FieldError, joined.
func (cfg *Config) Validate() error {
	var errs []error
	add := func(e *FieldError) { errs = append(errs, e) }
	if cfg.ASN == 0 {
		add(invalid("speaker", "ASN", "required"))
	}
	if !cfg.RouterID.Is4() {
		add(invalid("speaker", "RouterID", "%v is not an IPv4 address", cfg.RouterID))
	}
	if cfg.ListenPort > 65535 {
		add(invalid("speaker", "ListenPort", "%d is not a port", cfg.ListenPort))
	}
	if len(cfg.Peers) == 0 {
		add(invalid("speaker", "Peers", "at least one peer is required"))
	}
	seen := map[netip.Addr]bool{}
	for i, p := range cfg.Peers {
		obj := fmt.Sprintf("peer %v", p.Address)
		if !p.Address.IsValid() {
			obj = fmt.Sprintf("peer %d", i)
			add(invalid(obj, "Address", "required"))
		} else if seen[p.Address] {
			add(invalid(obj, "Address", "listed twice"))
		}
		seen[p.Address] = true
		if p.ASN == 0 {
			add(invalid(obj, "ASN", "required"))
		}
		if len(p.Password) > 80 {
			add(invalid(obj, "Password", "%d bytes, at most 80", len(p.Password)))
		}
		hold := p.holdTime()
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"HoldTime", p.HoldTime}, {"KeepaliveInterval", p.KeepaliveInterval}, {"ConnectRetry", p.ConnectRetry}} {
			if d.v < 0 || d.v%time.Second != 0 {
				add(invalid(obj, d.name, "%v is not a whole, non-negative number of seconds", d.v))
			}
		}
		if p.HoldTime != 0 && p.HoldTime < 3*time.Second {
			add(invalid(obj, "HoldTime", "%v is less than 3s", p.HoldTime))
		}
		if p.KeepaliveInterval >= hold {
			add(invalid(obj, "KeepaliveInterval", "%v is not less than the hold time %v", p.KeepaliveInterval, hold))
		}
		if p.Multihop < 0 || p.Multihop > 255 {
			add(invalid(obj, "Multihop", "%d is not a TTL (0..255)", p.Multihop))
		}
		if p.LocalAddress.IsValid() && p.Address.IsValid() && p.LocalAddress.Is4() != p.Address.Is4() {
			add(invalid(obj, "LocalAddress", "%v is not of the peer's family", p.LocalAddress))
		}
		if p.Passive && cfg.ListenPort <= 0 {
			add(invalid(obj, "Passive", "a passive peer needs ListenPort"))
		}
	}
	gr := cfg.GracefulRestart.RestartTime
	if gr < 0 || gr%time.Second != 0 || gr > 4095*time.Second {
		add(invalid("speaker", "GracefulRestart.RestartTime", "%v is not a whole number of seconds in 0..4095s", gr))
	}
	vips := map[netip.Prefix]bool{}
	for i, v := range cfg.VIPs {
		obj := fmt.Sprintf("vip %v", v.Prefix)
		switch {
		case !v.Prefix.IsValid():
			obj = fmt.Sprintf("vip %d", i)
			add(invalid(obj, "Prefix", "required"))
		case v.Prefix != v.Prefix.Masked():
			add(invalid(obj, "Prefix", "host bits set (did you mean %v?)", v.Prefix.Masked()))
		case vips[v.Prefix]:
			add(invalid(obj, "Prefix", "listed twice"))
		case v.Prefix.Addr().Is4In6():
			add(invalid(obj, "Prefix", "an IPv4-mapped IPv6 prefix"))
		}
		vips[v.Prefix] = true
		if v.NextHop.IsValid() && v.Prefix.IsValid() && v.NextHop.Is4() != v.Prefix.Addr().Is4() {
			add(invalid(obj, "NextHop", "%v is not of the prefix's family", v.NextHop))
		}
		for j, t := range v.Trackers {
			if t == "" {
				add(invalid(obj, fmt.Sprintf("Trackers[%d]", j), "empty name"))
			}
		}
		for j, s := range v.VirtualServers {
			if s == "" {
				add(invalid(obj, fmt.Sprintf("VirtualServers[%d]", j), "empty name"))
			}
		}
		if v.Prefix.IsValid() && !cfg.hasPeerOf(v.Prefix.Addr().Is4()) {
			add(invalid(obj, "Prefix", "no peer of its family (IPv%s) to announce it to", map[bool]string{true: "4", false: "6"}[v.Prefix.Addr().Is4()]))
		}
	}
	return errors.Join(errs...)
}

func (cfg *Config) hasPeerOf(v4 bool) bool {
	for _, p := range cfg.Peers {
		if p.Address.IsValid() && p.Address.Is4() == v4 {
			return true
		}
	}
	return false
}

// holdTime is p's hold time with the default applied.
func (p *Peer) holdTime() time.Duration {
	if p.HoldTime == 0 {
		return 90 * time.Second
	}
	return p.HoldTime
}

func (p *Peer) keepalive() time.Duration {
	if p.KeepaliveInterval == 0 {
		return (p.holdTime() / 3).Truncate(time.Second)
	}
	return p.KeepaliveInterval
}

func (p *Peer) connectRetry() time.Duration {
	if p.ConnectRetry == 0 {
		return 5 * time.Second
	}
	return p.ConnectRetry
}

func (d Drain) time() time.Duration {
	switch {
	case d.Time == 0:
		return 5 * time.Second
	case d.Time < 0:
		return 0
	}
	return d.Time
}

func (g GracefulRestart) restartTime() time.Duration {
	if g.RestartTime == 0 {
		return 120 * time.Second
	}
	return g.RestartTime
}
