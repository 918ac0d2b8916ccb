package vigiltest

import (
	"fmt"
	"net/netip"

	"github.com/vigil-ha/vigil/netlink"
)

// HostAddr publishes that address a of the host (not one an instance
// holds: its own address, an instance's source) was added to interface
// name (present) or removed from it, as an operator's `ip addr` would.
// The instances' Conns keep working: only the event is modelled.
func (p *Platform) HostAddr(name string, a netip.Prefix, present bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	i, ok := p.ifaces[name]
	if !ok {
		return fmt.Errorf("vigiltest: no interface %q", name)
	}
	kind := netlink.AddrRemoved
	if present {
		kind = netlink.AddrAdded
	}
	p.feed.Publish(netlink.Event{Kind: kind, Index: i.index, Interface: name, Addr: a})
	return nil
}
