package vigil_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/vigiltest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// exampleInstance is VI_1 on eth0 with VIP 192.0.2.100, advertising
// every 100 ms.
func exampleInstance(prio uint8) vigil.Instance {
	return vigil.Instance{InstanceConfig: vigil.InstanceConfig{Interface: "eth0",
		VRRP: vrrp.Config{Name: "VI_1", VRID: 51, Version: vrrp.V3, Priority: prio,
			Interval: 100 * time.Millisecond, VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24")}}}}
}

// A Supervisor on the in-memory platform (vigil.OpenLinux gives the real
// one): alone on its segment, the instance becomes master; cancelling
// the context stops it gracefully.
func ExampleSupervisor() {
	p, err := vigiltest.New(vigiltest.Config{Hub: vrrptest.NewHub(1), Addr4: netip.MustParseAddr("192.0.2.1")})
	if err != nil {
		panic(err)
	}
	s, err := vigil.New(p, vigil.Config{Instances: []vigil.Instance{exampleInstance(150)}})
	if err != nil {
		panic(err)
	}
	sub := s.Subscribe(16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for e := range sub.C() {
		if e.Kind == vigil.EventInstance {
			fmt.Println(e.Instance, e.From, "->", e.To)
			if e.To == vrrp.Master {
				st := s.State().Instances[0]
				fmt.Println(st.Name, st.State, "priority", st.Effective)
				cancel()
			}
		}
	}
	fmt.Println("Run:", <-done)
	// Output:
	// VI_1 INIT -> BACKUP
	// VI_1 BACKUP -> MASTER
	// VI_1 MASTER priority 150
	// VI_1 MASTER -> STOPPED
	// Run: <nil>
}

// Tracking: the instance follows a check written in Go. With weight 0 a
// failing check puts the instance in FAULT (keepalived's vrrp_script
// without weight); a negative weight would lower its priority instead.
func ExampleTracker() {
	var healthy atomic.Bool
	healthy.Store(true)
	inst := exampleInstance(150)
	inst.Track = []vigil.Track{{Tracker: "app"}}
	cfg := vigil.Config{
		Trackers: []vigil.Tracker{{Name: "app", Weight: 0, Check: &vigil.TrackerCheck{
			Checker: check.CheckerFunc(func(context.Context) error {
				if !healthy.Load() {
					return errors.New("app unhealthy")
				}
				return nil
			}),
			Policy: check.Policy{Interval: 50 * time.Millisecond, Timeout: 50 * time.Millisecond},
		}}},
		Instances: []vigil.Instance{inst},
	}
	p, err := vigiltest.New(vigiltest.Config{Hub: vrrptest.NewHub(1), Addr4: netip.MustParseAddr("192.0.2.1")})
	if err != nil {
		panic(err)
	}
	s, err := vigil.New(p, cfg)
	if err != nil {
		panic(err)
	}
	sub := s.Subscribe(16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for e := range sub.C() {
		switch {
		case e.Kind == vigil.EventTracker:
			fmt.Println("tracker", e.Tracker, "up:", e.Up)
		case e.Kind == vigil.EventInstance:
			fmt.Println(e.Instance, e.From, "->", e.To)
			switch e.To {
			case vrrp.Master:
				healthy.Store(false)
			case vrrp.Fault:
				cancel()
			}
		}
	}
	<-done
	// Output:
	// VI_1 INIT -> BACKUP
	// VI_1 BACKUP -> MASTER
	// tracker app up: false
	// VI_1 MASTER -> FAULT
	// VI_1 FAULT -> STOPPED
}

// Reload: a master gets a second VIP without a transition; what changed
// is returned.
func ExampleSupervisor_Reload() {
	p, err := vigiltest.New(vigiltest.Config{Hub: vrrptest.NewHub(1), Addr4: netip.MustParseAddr("192.0.2.1")})
	if err != nil {
		panic(err)
	}
	cfg := vigil.Config{Instances: []vigil.Instance{exampleInstance(150)}}
	s, err := vigil.New(p, cfg)
	if err != nil {
		panic(err)
	}
	sub := s.Subscribe(16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for e := range sub.C() {
		if e.Kind == vigil.EventInstance && e.To == vrrp.Master {
			break
		}
	}
	next := vigil.Config{Instances: []vigil.Instance{exampleInstance(150)}}
	next.Instances[0].VRRP.VIPs = append(next.Instances[0].VRRP.VIPs, netip.MustParsePrefix("192.0.2.101/24"))
	ch, err := s.Reload(ctx, next)
	if err != nil {
		panic(err)
	}
	fmt.Println("changed:", ch.InstancesChanged, "added:", ch.InstancesAdded, "removed:", ch.InstancesRemoved)
	// The router adds the VIP on its own goroutine, at once.
	y := netip.MustParsePrefix("192.0.2.101/24")
	for i := 0; i < 100 && !p.Addrs("eth0").Has(y); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("state:", s.State().Instances[0].State)
	fmt.Println("holds 192.0.2.101:", p.Addrs("eth0").Has(y))
	cancel()
	<-done
	// Output:
	// changed: [VI_1] added: [] removed: []
	// state: MASTER
	// holds 192.0.2.101: true
}
