package vigil

import (
	"errors"
	"fmt"

	"net/netip"

	"github.com/vigil-ha/vigil/vrrp"
)

// Validate reports every problem of c at once, as *FieldErrors wrapping
// ErrInvalid (joined with errors.Join): names missing or given twice,
// references to trackers, instances or groups that do not exist, an
// instance in two sync groups, two instances with one identity (VRID,
// family, interface), invalid routers, trackers, checkers and virtual
// servers (their packages' rules, named by the object here).
func (c *Config) Validate() error {
	errs := append(c.Watchdog.validate(), validateInterfaceDelays(c.InterfaceDelays)...)
	add := func(object, field, format string, args ...any) {
		errs = append(errs, invalid(object, field, format, args...))
	}
	trackers := map[string]*Tracker{}
	for i := range c.Trackers {
		t := &c.Trackers[i]
		obj := "tracker " + t.Name
		if t.Name == "" {
			obj = fmt.Sprintf("tracker #%d", i)
			add(obj, "Name", "empty")
		} else if trackers[t.Name] != nil {
			add(obj, "Name", "given twice")
		}
		trackers[t.Name] = t
		n := 0
		for _, set := range []bool{t.Check != nil, t.File != nil, t.Process != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			add(obj, "Check", "exactly one of Check, File and Process must be set, not %d", n)
		}
		switch {
		case t.Check != nil:
			if t.Check.Checker == nil {
				add(obj, "Check.Checker", "nil")
			} else if v, ok := t.Check.Checker.(interface{ Validate() error }); ok {
				if err := v.Validate(); err != nil {
					add(obj, "Check.Checker", "%v", err)
				}
			}
			if t.Weight < -253 || t.Weight > 253 {
				add(obj, "Weight", "%d is outside -253..253", t.Weight)
			}
		case t.File != nil:
			if t.File.Path == "" {
				add(obj, "File.Path", "empty")
			}
			if t.File.Interval < 0 {
				add(obj, "File.Interval", "negative")
			}
		case t.Process != nil:
			sp := *t.Process
			sp.Name = t.Name
			if err := sp.Validate(); err != nil {
				add(obj, "Process", "%v", err)
			}
		}
		if t.Weight < -254 || t.Weight > 254 {
			add(obj, "Weight", "%d is outside -254..254", t.Weight)
		}
	}
	checkTracks := func(obj, field string, ts []Track, tis []TrackInterface) {
		for j, tr := range ts {
			if trackers[tr.Tracker] == nil {
				add(obj, fmt.Sprintf("%s[%d].Tracker", field, j), "no tracker named %q", tr.Tracker)
			}
			if tr.WeightSet && (tr.Weight < -254 || tr.Weight > 254) {
				add(obj, fmt.Sprintf("%s[%d].Weight", field, j), "%d is outside -254..254", tr.Weight)
			}
		}
		for j, ti := range tis {
			if ti.Interface == "" {
				add(obj, fmt.Sprintf("TrackInterfaces[%d].Interface", j), "empty")
			}
			if ti.Weight < -253 || ti.Weight > 253 {
				add(obj, fmt.Sprintf("TrackInterfaces[%d].Weight", j), "%d is outside -253..253", ti.Weight)
			}
		}
	}
	names := map[string]bool{}
	ids := map[identity]string{}
	for i := range c.Instances {
		in := &c.Instances[i]
		name := in.VRRP.Name
		obj := "instance " + name
		if name == "" {
			obj = fmt.Sprintf("instance #%d", i)
			add(obj, "VRRP.Name", "empty")
		} else if names[name] {
			add(obj, "VRRP.Name", "given twice")
		}
		names[name] = true
		if in.Interface == "" {
			add(obj, "Interface", "empty")
		}
		if err := in.VRRP.Validate(); err != nil {
			for _, e := range leaves(err) {
				var fe *vrrp.FieldError
				if errors.As(e, &fe) {
					add(obj, "VRRP."+fe.Field, "%s", fe.Reason)
				} else {
					add(obj, "VRRP", "%v", e)
				}
			}
		}
		id := identityOf(&in.InstanceConfig)
		id.unicast, id.src = false, netip.Addr{}
		id.ttl, id.group, id.promote = 0, netip.Addr{}, false
		errs = append(errs, validateAddrs(&in.InstanceConfig, obj)...)
		errs = append(errs, validateVMAC(&in.InstanceConfig, obj)...)
		if in.UnicastTTL < 0 || in.UnicastTTL > 255 {
			add(obj, "UnicastTTL", "%d, want 1..255 (0: 255)", in.UnicastTTL)
		} else if in.UnicastTTL != 0 && len(in.VRRP.Peers) == 0 {
			add(obj, "UnicastTTL", "needs unicast peers")
		}
		if other, ok := ids[id]; ok {
			add(obj, "VRRP.VRID", "VRID %d on %s (IPv6 %v) is also instance %s's", in.VRRP.VRID, in.Interface, id.v6, other)
		}
		ids[id] = name
		checkTracks(obj, "Track", in.Track, in.TrackInterfaces)
	}
	groups := map[string]bool{}
	memberOf := map[string]string{}
	for i := range c.SyncGroups {
		g := &c.SyncGroups[i]
		obj := "sync group " + g.Name
		if g.Name == "" {
			obj = fmt.Sprintf("sync group #%d", i)
			add(obj, "Name", "empty")
		} else if groups[g.Name] {
			add(obj, "Name", "given twice")
		}
		groups[g.Name] = true
		if len(g.Members) == 0 {
			add(obj, "Members", "empty")
		}
		for j, m := range g.Members {
			switch {
			case !names[m]:
				add(obj, fmt.Sprintf("Members[%d]", j), "no instance named %q", m)
			case memberOf[m] != "":
				add(obj, fmt.Sprintf("Members[%d]", j), "instance %s is also in sync group %s", m, memberOf[m])
			default:
				memberOf[m] = g.Name
			}
		}
		checkTracks(obj, "Track", g.Track, g.TrackInterfaces)
	}
	for i, a := range c.Static.Addresses {
		obj := fmt.Sprintf("static address #%d", i)
		if a.Interface == "" {
			add(obj, "Interface", "empty")
		}
		if !a.Prefix.IsValid() {
			add(obj, "Prefix", "not a prefix")
		}
	}
	errs = append(errs, validateVirtualServers(c)...)
	errs = append(errs, validateSyncDaemon(c)...)
	errs = append(errs, validateLVSTimeouts(c)...)
	errs = append(errs, validateBGP(c)...)
	return errors.Join(errs...)
}
