package vigil

import "github.com/vigil-ha/vigil/netlink"

// faultSrcAddr is the router fault source of TrackSrcIP.
const faultSrcAddr = "track_src_ip"

// srcAddrEvent applies an address event to m's TrackSrcIP: its source
// address removed puts it in FAULT, added back clears that fault, on
// whichever interface (keepalived watches the address, not a link).
// s.mu held.
func (s *Supervisor) srcAddrEvent(m *member, e netlink.Event) {
	if !m.cfg.TrackSrcIP || m.router == nil || m.io.Conn == nil || e.Addr.Addr().Unmap() != m.io.Conn.LocalAddr().Unmap() {
		return
	}
	switch e.Kind {
	case netlink.AddrRemoved:
		s.log.Warn("vigil: the instance's source address was removed: fault", "instance", m.cfg.VRRP.Name, "addr", e.Addr)
		m.router.SetFault(faultSrcAddr, true)
	case netlink.AddrAdded:
		m.router.SetFault(faultSrcAddr, false)
	}
}
