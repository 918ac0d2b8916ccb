package config

import "strings"

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
