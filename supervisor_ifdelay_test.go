package vigil_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// TestSupervisorInterfaceDelays: eth0 has a down delay of 1.5 s and an
// up delay of 1 s. Down and up again within 1.5 s: no FAULT. Down for
// longer: FAULT exactly 1.5 s after it went down; up again: out of
// FAULT exactly 1 s after it came up. eth1, without delays, acts at once.
func TestSupervisorInterfaceDelays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		a := supInst("VI_1", 51, 100, vipX)
		b := supInst("VI_2", 52, 100, vipX)
		b.Interface = "eth1"
		cfg := vigil.Config{Instances: []vigil.Instance{a, b},
			InterfaceDelays: []vigil.InterfaceDelay{{Interface: "eth0", Down: 1500 * time.Millisecond, Up: time.Second}}}
		m := startSup(t, hub, 1, cfg, "eth0", "eth1")
		ctx, cancel := context.WithCancel(t.Context())
		m.run(ctx)
		at := func(d time.Duration) { time.Sleep(time.Until(m.t0.Add(d))) }
		set := func(iface string, up bool) {
			if err := m.p.SetInterface(iface, up); err != nil {
				t.Fatal(err)
			}
		}
		at(10 * time.Second)
		set("eth0", false)
		at(11400 * time.Millisecond)
		set("eth0", true)
		at(20 * time.Second)
		set("eth0", false)
		set("eth1", false)
		at(30 * time.Second)
		set("eth0", true)
		set("eth1", true)
		at(31500 * time.Millisecond)
		synctest.Wait()
		var got []string
		for _, e := range m.events(vigil.EventInstance) {
			if strings.Contains(e, "FAULT") {
				got = append(got, e)
			}
		}
		want := []string{
			"20s VI_2 MASTER->FAULT 100",
			"21.5s VI_1 MASTER->FAULT 100",
			"30s VI_2 FAULT->BACKUP 100",
			"31s VI_1 FAULT->BACKUP 100",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("FAULT transitions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		stopAll(t, cancel, m)
	})
}

// A down delay longer than (DownTimerAdverts - 1) × Interval is lowered
// to just under it, as keepalived's check_debounce_timers: 2 s -
// 1 s/256 (in microseconds) for the defaults.
func TestSupervisorInterfaceDelayLowered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := vrrptest.NewHub(1)
		cfg := vigil.Config{Instances: []vigil.Instance{supInst("VI_1", 51, 100, vipX)},
			InterfaceDelays: []vigil.InterfaceDelay{{Interface: "eth0", Down: 5 * time.Second}}}
		m := startSup(t, hub, 1, cfg)
		ctx, cancel := context.WithCancel(t.Context())
		m.run(ctx)
		time.Sleep(time.Until(m.t0.Add(10 * time.Second)))
		if err := m.p.SetInterface("eth0", false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		var got []string
		for _, e := range m.events(vigil.EventInstance) {
			if strings.Contains(e, "FAULT") {
				got = append(got, e)
			}
		}
		if want := "11.996094s VI_1 MASTER->FAULT 100"; len(got) != 1 || got[0] != want {
			t.Errorf("FAULT transitions %q, want %q", got, want)
		}
		stopAll(t, cancel, m)
	})
}

func TestValidateInterfaceDelays(t *testing.T) {
	err := (&vigil.Config{InterfaceDelays: []vigil.InterfaceDelay{
		{Interface: "eth0", Down: 256 * time.Second}, {Interface: "eth0"}, {Up: time.Second}}}).Validate()
	for _, w := range []string{
		"vigil: interface delay eth0: Down: 4m16s is more than 4m15s",
		"vigil: interface delay eth0: Interface: given twice",
		"vigil: interface delay #2: Interface: empty",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate = %v, want %q", err, w)
		}
	}
}
