package config

import (
	"strings"

	"github.com/vigil-ha/vigil"
)

// vmacPrefix handles global_defs vmac_prefix PREFIX: the prefix of VMAC
// names (vigil.InstanceConfig.VMACPrefix). As keepalived, the first one
// counts.
func (l *loader) vmacPrefix(s *Statement) {
	if !l.args(s, 1, 1) {
		return
	}
	switch p := s.Words[1]; {
	case l.x.vmacPrefix != nil:
		l.errorf(s.Pos, "vmac_prefix: given already at %s: ignored", l.x.vmacPrefix.Pos)
	case strings.ContainsAny(p, "/: \t\n"):
		l.errorf(s.WordPos(1), "vmac_prefix: %q: an interface name has no '/', ':' or white space: ignored", p)
	default:
		l.x.vmacPrefix = s
		l.cur.why = "names longer than 15 bytes are cut in the prefix; VMACs of the same VRID on two interfaces are not numbered"
	}
}

// vmacInstance checks vmac_xmit_base and promote_secondaries against
// the complete instance, as keepalived's vrrp_complete_instance:
// vmac_xmit_base needs use_vmac, and strict mode clears it;
// promote_secondaries is refused with use_vmac (a VMAC has it set).
func (l *loader) vmacInstance(in *vigil.Instance, ix *instExtra, obj string) {
	switch {
	case ix.xmitBase == nil:
	case !in.UseVMAC:
		l.errorf(ix.xmitBase.Pos, "%s: vmac_xmit_base is only valid with use_vmac: ignored", obj)
		in.VMACXmitBase = false
	case ix.strict:
		l.errorf(ix.xmitBase.Pos, "%s: vmac_xmit_base is incompatible with strict mode: ignored", obj)
		in.VMACXmitBase = false
	}
	if ix.promote != nil && in.UseVMAC {
		l.errorf(ix.promote.Pos, "%s: promote_secondaries is automatically set for vmacs: ignored", obj)
		in.PromoteSecondaries = false
	}
}
