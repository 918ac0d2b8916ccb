package bgp

import (
	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/vrrp"
)

// gates returns, for each of vips, whether its gate is open in st: its
// instance MASTER, its trackers up, its virtual servers with quorum. A
// name missing from st closes the gate.
func gates(vips []VIP, st vigil.State) []bool {
	inst := make(map[string]string, len(st.Instances))
	for _, i := range st.Instances {
		inst[i.Name] = i.State
	}
	trk := make(map[string]bool, len(st.Trackers))
	for _, t := range st.Trackers {
		trk[t.Name] = t.Up
	}
	vs := make(map[string]bool, len(st.VirtualServers))
	for _, v := range st.VirtualServers {
		vs[v.Name] = v.Quorum
	}
	open := make([]bool, len(vips))
	for i, v := range vips {
		ok := v.Instance == "" || inst[v.Instance] == vrrp.Master.String()
		for _, t := range v.Trackers {
			ok = ok && trk[t]
		}
		for _, s := range v.VirtualServers {
			ok = ok && vs[s]
		}
		open[i] = ok
	}
	return open
}
