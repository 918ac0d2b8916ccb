package vigil

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/vigil-ha/vigil/netlink"
)

// validateAddrs returns the problems of ic's ExcludedVIPs and
// AddrOptions as *FieldErrors of obj.
func validateAddrs(ic *InstanceConfig, obj string) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, invalid(obj, field, format, args...))
	}
	if len(ic.ExcludedVIPs) > 0 && len(ic.VRRP.VIPs) == 0 {
		add("ExcludedVIPs", "set without VIPs: they are added with the VIPs")
	}
	for i, p := range ic.ExcludedVIPs {
		f := fmt.Sprintf("ExcludedVIPs[%d]", i)
		switch {
		case !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "":
			add(f, "%v is not an address with a prefix length", p)
		case slices.ContainsFunc(ic.VRRP.VIPs, func(v netip.Prefix) bool { return v.Addr() == p.Addr() }):
			add(f, "%v is also a VIP", p)
		case slices.ContainsFunc(ic.ExcludedVIPs[:i], func(v netip.Prefix) bool { return v.Addr() == p.Addr() }):
			add(f, "%v given twice", p)
		}
	}
	for p, o := range ic.AddrOptions {
		f := fmt.Sprintf("AddrOptions[%v]", p)
		if !slices.Contains(ic.VRRP.VIPs, p) && !slices.Contains(ic.ExcludedVIPs, p) {
			add(f, "not a VIP nor an excluded VIP")
		}
		// The manager checks the rest (netlink.AddrConfig.Validate).
		if err := (netlink.AddrConfig{Interface: "x", Options: map[netip.Prefix]netlink.AddrOptions{p: o}}).Validate(); err != nil {
			add(f, "%v", err)
		}
	}
	return errs
}
