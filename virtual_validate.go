package vigil

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/notify"
)

// validateVirtualServers reports every problem of cfg's virtual servers
// and virtual server groups, each a *FieldError naming the object
// ("virtual server tcp 192.0.2.10:80", "virtual server group NAME") and
// the field ("RealServers[2].Checks[0].Checker"):
//
//   - a group without a name, defined twice, without services, or listing
//     a service twice;
//   - a virtual server whose Group names no group;
//   - a service of two virtual servers (directly or through groups);
//   - a nil checker, or one whose Validate method fails (its errors are
//     the reasons);
//   - what ipvs.PoolConfig.Validate finds in the pool of each of its
//     services (scheduler, persistence, real servers and sorry server as
//     destinations, duplicate destinations, a sorry server without
//     quorum), mapped to the fields of the VirtualServer;
//   - HASuspend on a fwmark or group service, which keepalived clears
//     with an error ("cannot use ha_suspend with fwmarks");
//   - an invalid notify script (notify.Script.Validate).
func validateVirtualServers(cfg *Config) []error {
	var errs []error
	var scratch []ipvs.RealServer // validatePool's
	groups := make(map[string][]ipvs.ServiceKey, len(cfg.VirtualServerGroups))
	for i, g := range cfg.VirtualServerGroups {
		obj := "virtual server group " + g.Name
		if g.Name == "" {
			errs = append(errs, invalid("virtual server group #"+strconv.Itoa(i), "Name", "empty"))
			continue
		}
		if _, dup := groups[g.Name]; dup {
			errs = append(errs, invalid(obj, "Name", "defined twice"))
			continue
		}
		groups[g.Name] = g.Services
		if len(g.Services) == 0 {
			errs = append(errs, invalid(obj, "Services", "empty"))
		}
		seen := make(map[ipvs.ServiceKey]bool, len(g.Services))
		for j, k := range g.Services {
			if seen[k] {
				errs = append(errs, invalid(obj, fmt.Sprintf("Services[%d]", j), "%v listed twice", k))
			}
			seen[k] = true
		}
	}

	owner := make(map[ipvs.ServiceKey]int) // service → the virtual server that has it
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		obj := vsObject(vs)
		keyField := "Service"
		keys := []ipvs.ServiceKey{vs.Service.ServiceKey}
		if vs.Group != "" {
			keyField = "Group"
			var ok bool
			if keys, ok = groups[vs.Group]; !ok {
				errs = append(errs, invalid(obj, "Group", "no virtual server group named %q", vs.Group))
			}
		}
		reported := make(map[int]bool)
		for _, k := range keys {
			if j, dup := owner[k]; dup && j != i {
				if !reported[j] {
					errs = append(errs, invalid(obj, keyField, "service %v is also a service of VirtualServers[%d] (%s)", k, j, vsObject(&cfg.VirtualServers[j])))
					reported[j] = true
				}
				continue
			}
			owner[k] = i
		}
		if vs.HASuspend {
			switch {
			case vs.Group != "":
				errs = append(errs, invalid(obj, "HASuspend", "a group service is never suspended"))
			case vs.Service.IsFWMark():
				errs = append(errs, invalid(obj, "HASuspend", "a fwmark service is never suspended"))
			}
		}
		errs = append(errs, validateScript(obj, "QuorumUp", vs.QuorumUp)...)
		errs = append(errs, validateScript(obj, "QuorumDown", vs.QuorumDown)...)
		for j, rs := range vs.RealServers {
			// Field names are made only for a problem: a reload of
			// 30,000 real servers validates them all.
			prefix := func() string { return "RealServers[" + strconv.Itoa(j) + "]." }
			for n, c := range rs.Checks {
				field := func() string { return prefix() + "Checks[" + strconv.Itoa(n) + "].Checker" }
				if c.Checker == nil {
					errs = append(errs, invalid(obj, field(), "nil"))
					continue
				}
				if v, ok := c.Checker.(interface{ Validate() error }); ok {
					for _, err := range leaves(v.Validate()) {
						errs = append(errs, invalid(obj, field(), "%v", err))
					}
				}
			}
			if rs.NotifyUp != nil {
				errs = append(errs, validateScript(obj, prefix()+"NotifyUp", rs.NotifyUp)...)
			}
			if rs.NotifyDown != nil {
				errs = append(errs, validateScript(obj, prefix()+"NotifyDown", rs.NotifyDown)...)
			}
		}
		errs = append(errs, validatePool(obj, vs, keys, &scratch)...)
	}
	return errs
}

// validatePool reports ipvs.PoolConfig.Validate's errors of vs's pool
// for each of its services keys, each problem once, as FieldErrors of
// obj.
// scratch holds the real servers of the pool being validated; the
// next call reuses it.
func validatePool(obj string, vs *VirtualServer, keys []ipvs.ServiceKey, scratch *[]ipvs.RealServer) []error {
	var errs []error
	var seen map[string]bool
	rss := (*scratch)[:0]
	for _, rs := range vs.RealServers {
		rss = append(rss, rs.RealServer)
	}
	*scratch = rss
	for _, k := range keys {
		svc := vs.Service
		svc.ServiceKey = k
		pc := ipvs.PoolConfig{
			Service: svc, SorryServer: vs.SorryServer, SorryInhibit: vs.SorryInhibit,
			Quorum: vs.Quorum, Hysteresis: vs.Hysteresis,
			RealServers: rss,
		}
		for _, err := range leaves(pc.Validate()) {
			field, reason := "Service", err.Error()
			var fe *ipvs.FieldError
			if errors.As(err, &fe) {
				field, reason = poolField(vs, fe), fe.Reason
			}
			if vs.Group != "" {
				reason += " (service " + k.String() + ")"
			}
			if seen == nil {
				seen = make(map[string]bool)
			}
			if s := field + ": " + reason; !seen[s] {
				seen[s] = true
				errs = append(errs, invalid(obj, field, "%s", reason))
			}
		}
	}
	return errs
}

// poolField is the field of vs that the pool's error fe is about.
func poolField(vs *VirtualServer, fe *ipvs.FieldError) string {
	if !fe.HasDest {
		if fe.Field == "SorryServer" {
			return fe.Field
		}
		return "Service." + fe.Field
	}
	// The last real server with the key: a duplicate is the later one,
	// and the sorry server comes after the real servers.
	idx := -1
	for j, rs := range vs.RealServers {
		if rs.DestinationKey == fe.Dest {
			idx = j
		}
	}
	if vs.SorryServer != nil && vs.SorryServer.DestinationKey == fe.Dest && (idx < 0 || fe.Field == "DestinationKey" && countDest(vs, fe.Dest) == 1) {
		return "SorryServer." + fe.Field
	}
	if idx < 0 {
		return "RealServers." + fe.Field
	}
	return fmt.Sprintf("RealServers[%d].%s", idx, fe.Field)
}

// countDest counts the real servers of vs with the key d.
func countDest(vs *VirtualServer, d ipvs.DestinationKey) int {
	n := 0
	for _, rs := range vs.RealServers {
		if rs.DestinationKey == d {
			n++
		}
	}
	return n
}

// validateScript reports s's Validate errors as field of obj.
func validateScript(obj, field string, s *notify.Script) []error {
	if s == nil {
		return nil
	}
	var errs []error
	for _, err := range leaves(s.Validate()) {
		errs = append(errs, invalid(obj, field, "%v", err))
	}
	return errs
}

// leaves returns the errors joined in err (errors.Join, recursively), or
// err alone; nil for nil.
func leaves(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, leaves(e)...)
	}
	return out
}
