package vigil

import "strings"

// validateVMAC returns the problems of ic's VMAC fields as *FieldErrors
// of obj.
func validateVMAC(ic *InstanceConfig, obj string) []error {
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
