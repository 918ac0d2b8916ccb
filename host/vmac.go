package host

import "fmt"

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
