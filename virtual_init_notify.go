package vigil

import (
	"github.com/vigil-ha/vigil/ipvs"
)

// initNotifies reports every real server that starts up as if it had
// just come up (its Event, FIFO line and NotifyUp), when
// Global.RSInitNotifies was set as the Balancer was made: keepalived's
// rs_init_notifies, which runs do_rs_notifies for each real server
// init_service_rs adds alive. Real servers that start down (Alpha)
// notify when they come up, as always.
func (v *virtualServers) initNotifies() {
	v.mu.Lock()
	if !v.rsInit {
		v.mu.Unlock()
		return
	}
	var evs []ipvs.Event
	for _, vs := range v.vss {
		for _, rs := range vs.rss {
			if !rs.up {
				continue
			}
			for _, k := range vs.keys {
				evs = append(evs, ipvs.Event{Kind: ipvs.EventServerUp, Service: k, Dest: rs.cfg.Destination.DestinationKey})
			}
		}
	}
	v.mu.Unlock()
	for _, e := range evs {
		v.report(e)
	}
}
