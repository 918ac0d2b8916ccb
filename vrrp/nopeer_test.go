package vrrp_test

import (
	"testing"
	"testing/synctest"
	"time"
)

// UnicastFaultNoPeer without peers holds the router in FAULT from its
// start; a Reconfigure that drops the option clears the fault at once,
// and the router goes on as it would have from there.
func TestRouterUnicastFaultNoPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t)
		cfg := baseConfig("A", 200)
		cfg.UnicastFaultNoPeer = true
		a := s.start(cfg, s.join("192.0.2.2"))
		time.Sleep(10 * time.Second)
		cfg.UnicastFaultNoPeer = false
		if err := a.r.Reconfigure(cfg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		a.stop()
		if got, want := a.history(s), "A 0s:INIT->FAULT(startup) 10s:FAULT->BACKUP(fault-cleared) 13.21875s:BACKUP->MASTER(master-down) 15s:MASTER->STOPPED(shutdown)"; got != want {
			t.Errorf("history %s\nwant    %s", got, want)
		}
		if a.addrs.Len() != 0 {
			t.Error("VIPs held after stop")
		}
	})
}
