package vrrp_test

import (
	"maps"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestStatsByTransition: a router counts its transitions by kind.
func TestStatsByTransition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		// A router that never ran has no transitions. (Asked of a
		// started one, the answer races with its first transition.)
		idle, err := vrrp.NewRouter(s.join("192.0.2.9"), vrrptest.NewAddrs(), &vrrptest.Announcer{}, baseConfig("I", 100))
		if err != nil {
			t.Fatal(err)
		}
		if st := idle.Stats(); st.ByTransition != nil || st.Transitions != 0 {
			t.Errorf("before Run: %v (total %d)", st.ByTransition, st.Transitions)
		}
		a := s.start(baseConfig("A", 100), s.join("192.0.2.1"))
		time.Sleep(5 * time.Second)
		a.r.SetFault("x", true)
		synctest.Wait()
		a.r.SetFault("x", false)
		time.Sleep(5 * time.Second)
		a.stop()
		want := map[vrrp.Transition]uint64{
			{From: vrrp.Init, To: vrrp.Backup, Reason: vrrp.ReasonStartup}:       1,
			{From: vrrp.Backup, To: vrrp.Master, Reason: vrrp.ReasonMasterDown}:  2,
			{From: vrrp.Master, To: vrrp.Fault, Reason: vrrp.ReasonFault}:        1,
			{From: vrrp.Fault, To: vrrp.Backup, Reason: vrrp.ReasonFaultCleared}: 1,
			{From: vrrp.Master, To: vrrp.Stopped, Reason: vrrp.ReasonShutdown}:   1,
		}
		st := a.r.Stats()
		if !maps.Equal(st.ByTransition, want) || st.Transitions != 6 {
			t.Errorf("ByTransition %v (total %d)\nwant %v", st.ByTransition, st.Transitions, want)
		}
	})
}
