package vigil

import "github.com/vigil-ha/vigil/notify"

// writeFIFOStates writes to the notify FIFOs the state of every sync
// group, then of every instance, that a reload kept
// (Global.FIFOStatesOnReload): keepalived's lines, GROUP "NAME" STATE 0
// and INSTANCE "NAME" STATE PRIORITY (vrrp_scheduler.c: vrrp_init_state
// with fifo_write_vrrp_states_on_reload). Groups and instances still
// in INIT (new ones) are left out: they report as they start. No script
// runs. s.mu held.
func (s *Supervisor) writeFIFOStates() {
	for _, g := range s.groups {
		if st, ok := notifyState(g.g.State()); ok {
			s.n.notify("group:"+g.cfg.Name, fifoVRRP, notify.GroupLine(g.cfg.Name, st))
		}
	}
	for _, m := range s.insts {
		if m.removed {
			continue
		}
		if st, ok := notifyState(m.state); ok {
			s.n.notify("instance:"+m.cfg.VRRP.Name, fifoVRRP, notify.InstanceLine(m.cfg.VRRP.Name, st, m.prio))
		}
	}
}
