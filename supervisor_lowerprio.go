package vigil

import (
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vrrp"
)

// lowerPrioMsg is a LowerPrioAdvert from router r of member m; once r
// was replaced by a restart, it is stale and ignored.
type lowerPrioMsg struct {
	m  *member
	r  *vrrp.Router
	ev vrrp.LowerPrioAdvert
}

// lowerPrio reports that m, master, heard a lower priority master, as
// keepalived's send_event_notify: the FIFO line and
// notify_master_rx_lower_pri with its own arguments, at every such
// advert. s.mu held.
func (s *Supervisor) lowerPrio(m *member, ev vrrp.LowerPrioAdvert) {
	name := m.cfg.VRRP.Name
	s.n.notify("instance:"+name, fifoVRRP, notify.InstanceLine(name, notify.MasterRxLowerPri, ev.Ours),
		notify.Call{Script: m.cfg.Notify.MasterRxLowerPri})
}
