package vigil

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Validate reports every rule b breaks on its own, each a *FieldError
// whose Object is "speaker", "peer ADDR" or "vip PREFIX" (Config.Validate
// puts "bgp " before them and also checks the names of the gates).
// bgp.Config.Validate applies these rules.
func (b *BGP) Validate() error { return errors.Join(b.validate()...) }

func (b *BGP) validate() []error {
	var errs []error
	add := func(object, field, format string, args ...any) {
		errs = append(errs, invalid(object, field, format, args...))
	}
	if b.ASN == 0 {
		add("speaker", "ASN", "required")
	}
	if !b.RouterID.Is4() {
		add("speaker", "RouterID", "%v is not an IPv4 address", b.RouterID)
	}
	if b.ListenPort > 65535 {
		add("speaker", "ListenPort", "%d is not a port", b.ListenPort)
	}
	if len(b.Peers) == 0 {
		add("speaker", "Peers", "at least one peer is required")
	}
	seen := map[netip.Addr]bool{}
	for i, p := range b.Peers {
		obj := fmt.Sprintf("peer %v", p.Address)
		if !p.Address.IsValid() {
			obj = fmt.Sprintf("peer %d", i)
			add(obj, "Address", "required")
		} else if seen[p.Address] {
			add(obj, "Address", "listed twice")
		}
		seen[p.Address] = true
		if p.ASN == 0 {
			add(obj, "ASN", "required")
		}
		if len(p.Password) > 80 {
			add(obj, "Password", "%d bytes, at most 80", len(p.Password))
		}
		hold := p.HoldTime
		if hold == 0 {
			hold = 90 * time.Second
		}
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"HoldTime", p.HoldTime}, {"KeepaliveInterval", p.KeepaliveInterval}, {"ConnectRetry", p.ConnectRetry}} {
			if d.v < 0 || d.v%time.Second != 0 {
				add(obj, d.name, "%v is not a whole, non-negative number of seconds", d.v)
			}
		}
		if p.HoldTime != 0 && p.HoldTime < 3*time.Second {
			add(obj, "HoldTime", "%v is less than 3s", p.HoldTime)
		}
		if p.KeepaliveInterval >= hold {
			add(obj, "KeepaliveInterval", "%v is not less than the hold time %v", p.KeepaliveInterval, hold)
		}
		if p.Multihop < 0 || p.Multihop > 255 {
			add(obj, "Multihop", "%d is not a TTL (0..255)", p.Multihop)
		}
		if p.LocalAddress.IsValid() && p.Address.IsValid() && p.LocalAddress.Is4() != p.Address.Is4() {
			add(obj, "LocalAddress", "%v is not of the peer's family", p.LocalAddress)
		}
		if p.Passive && b.ListenPort <= 0 {
			add(obj, "Passive", "a passive peer needs ListenPort")
		}
	}
	gr := b.GracefulRestart.RestartTime
	if gr < 0 || gr%time.Second != 0 || gr > 4095*time.Second {
		add("speaker", "GracefulRestart.RestartTime", "%v is not a whole number of seconds in 0..4095s", gr)
	}
	vips := map[netip.Prefix]bool{}
	for i, v := range b.VIPs {
		obj := fmt.Sprintf("vip %v", v.Prefix)
		switch {
		case !v.Prefix.IsValid():
			obj = fmt.Sprintf("vip %d", i)
			add(obj, "Prefix", "required")
		case v.Prefix != v.Prefix.Masked():
			add(obj, "Prefix", "host bits set (did you mean %v?)", v.Prefix.Masked())
		case vips[v.Prefix]:
			add(obj, "Prefix", "listed twice")
		case v.Prefix.Addr().Is4In6():
			add(obj, "Prefix", "an IPv4-mapped IPv6 prefix")
		}
		vips[v.Prefix] = true
		if v.NextHop.IsValid() && v.Prefix.IsValid() && v.NextHop.Is4() != v.Prefix.Addr().Is4() {
			add(obj, "NextHop", "%v is not of the prefix's family", v.NextHop)
		}
		for j, t := range v.Trackers {
			if t == "" {
				add(obj, fmt.Sprintf("Trackers[%d]", j), "empty name")
			}
		}
		for j, s := range v.VirtualServers {
			if s == "" {
				add(obj, fmt.Sprintf("VirtualServers[%d]", j), "empty name")
			}
		}
		if v.Prefix.IsValid() && !b.hasPeerOf(v.Prefix.Addr().Is4()) {
			add(obj, "Prefix", "no peer of its family (IPv%s) to announce it to", map[bool]string{true: "4", false: "6"}[v.Prefix.Addr().Is4()])
		}
	}
	return errs
}

func (b *BGP) hasPeerOf(v4 bool) bool {
	for _, p := range b.Peers {
		if p.Address.IsValid() && p.Address.Is4() == v4 {
			return true
		}
	}
	return false
}

// validateBGP reports the problems of c.BGP: its own rules (objects
// prefixed "bgp ") and the gates' names that are not c's instances,
// trackers and virtual servers.
func validateBGP(c *Config) []error {
	b := c.BGP
	if b == nil {
		return nil
	}
	var errs []error
	for _, e := range b.validate() {
		var fe *FieldError
		if errors.As(e, &fe) {
			fe.Object = "bgp " + fe.Object
		}
		errs = append(errs, e)
	}
	inst := map[string]bool{}
	for i := range c.Instances {
		inst[c.Instances[i].VRRP.Name] = true
	}
	trk := map[string]bool{}
	for i := range c.Trackers {
		trk[c.Trackers[i].Name] = true
	}
	// Virtual servers by VirtualServerState.Name: a group's stand for
	// each of its services.
	groups := map[string][]string{}
	for _, g := range c.VirtualServerGroups {
		for _, k := range g.Services {
			groups[g.Name] = append(groups[g.Name], k.String())
		}
	}
	vss := map[string]bool{}
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		if vs.Group != "" {
			for _, n := range groups[vs.Group] {
				vss[n] = true
			}
		} else {
			vss[vs.Service.ServiceKey.String()] = true
		}
	}
	for _, v := range b.VIPs {
		obj := fmt.Sprintf("bgp vip %v", v.Prefix)
		if v.Instance != "" && !inst[v.Instance] {
			errs = append(errs, invalid(obj, "Instance", "no instance named %q", v.Instance))
		}
		for j, t := range v.Trackers {
			if t != "" && !trk[t] {
				errs = append(errs, invalid(obj, fmt.Sprintf("Trackers[%d]", j), "no tracker named %q", t))
			}
		}
		for j, s := range v.VirtualServers {
			if s != "" && !vss[s] {
				errs = append(errs, invalid(obj, fmt.Sprintf("VirtualServers[%d]", j), "no virtual server named %q", s))
			}
		}
	}
	return errs
}
