package vigiltest

import "github.com/vigil-ha/vigil"

// promoteSecondaries sets promote_secondaries as the Linux platform
// does: on the interface of an instance with PromoteSecondaries, on the
// VMAC of an IPv4 VMAC instance.
func promoteSecondaries(ic vigil.InstanceConfig, parent, i *iface) {
	switch {
	case ic.UseVMAC && !ic.IPv6():
		i.promote = true
	case ic.PromoteSecondaries && !ic.UseVMAC:
		parent.promote = true
	}
}

// PromoteSecondaries reports interface name's
// net.ipv4.conf.IF.promote_secondaries: 0 (false) at the start, 1 from
// the opening of an instance that sets it (see
// vigil.InstanceConfig.PromoteSecondaries) until Close.
func (p *Platform) PromoteSecondaries(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := p.ifaces[name]
	return i != nil && i.promote
}
