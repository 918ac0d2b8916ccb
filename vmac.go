package vigil

import (
	"fmt"
	"strings"
)

// DefaultVMACPrefix is InstanceConfig.VMACPrefix's default.
const DefaultVMACPrefix = "vrrp"

// maxIfName is the longest interface name Linux takes (IFNAMSIZ - 1).
const maxIfName = 15

// VMACName is the name of the instance's VMAC: VMACPrefix (or "vrrp")
// "." VRID, the prefix cut so that the name fits in 15 bytes, as
// keepalived's create_vmac_name.
func (ic *InstanceConfig) VMACName() string {
	prefix := ic.VMACPrefix
	if prefix == "" {
		prefix = DefaultVMACPrefix
	}
	suffix := fmt.Sprintf(".%d", ic.VRRP.VRID)
	if len(prefix)+len(suffix) > maxIfName {
		prefix = prefix[:maxIfName-len(suffix)]
	}
	return prefix + suffix
}

// validateVMAC returns the problems of ic's VMAC fields as *FieldErrors
// of obj.
func (ic *InstanceConfig) validateVMAC(obj string) []error {
	var errs []error
	if strings.ContainsAny(ic.VMACPrefix, "/: \t\n") {
		errs = append(errs, invalid(obj, "VMACPrefix", "%q: an interface name has no '/', ':' or white space", ic.VMACPrefix))
	}
	if ic.VMACXmitBase && !ic.UseVMAC {
		errs = append(errs, invalid(obj, "VMACXmitBase", "set without UseVMAC"))
	}
	if ic.PromoteSecondaries && ic.UseVMAC {
		errs = append(errs, invalid(obj, "PromoteSecondaries", "set with UseVMAC: a VMAC has it set always"))
	}
	return errs
}
