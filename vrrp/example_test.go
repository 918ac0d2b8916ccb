package vrrp_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// A router that owns its virtual address (priority 255) becomes Master at
// once, adds the address and announces it. Here it runs on an in-memory
// segment; on a host, the Conn, AddrManager and Announcer come from
// package netlink.
func ExampleRouter() {
	hub := vrrptest.NewHub(1)
	conn, _ := hub.Join(netip.MustParseAddr("192.0.2.1"))
	addrs := vrrptest.NewAddrs()
	r, err := vrrp.NewRouter(conn, addrs, &vrrptest.Announcer{}, vrrp.Config{
		Name:     "VI_1",
		VRID:     51,
		Version:  vrrp.V3,
		Priority: 255,
		Interval: 100 * time.Millisecond,
		VIPs:     []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	events := r.Subscribe(8)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()

	e := <-events.C()
	fmt.Println(e.Instance, e.From, "->", e.To, "because", e.Reason)
	fmt.Println("VIP added:", addrs.Has(netip.MustParsePrefix("192.0.2.100/24")))

	cancel() // leaves gracefully: priority 0, VIP removed
	<-done
	e = <-events.C()
	fmt.Println(e.Instance, e.From, "->", e.To, "because", e.Reason)
	fmt.Println("VIP added:", addrs.Has(netip.MustParsePrefix("192.0.2.100/24")))
	// Output:
	// VI_1 INIT -> MASTER because startup
	// VIP added: true
	// VI_1 MASTER -> STOPPED because shutdown
	// VIP added: false
}

// The state machine alone: feed it inputs with the time, get actions back.
func ExampleMachine() {
	m, _ := vrrp.NewMachine(vrrp.MachineConfig{
		Version: vrrp.V2, Priority: 100, Interval: time.Second,
		Primary: netip.MustParseAddr("192.0.2.2"),
	})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, a := range m.Step(vrrp.Input{Kind: vrrp.InputStartup}, t0, nil) {
		fmt.Println(a)
	}
	fmt.Println("Master_Down_Interval:", m.MasterDownInterval())
	for _, a := range m.Step(vrrp.Input{Kind: vrrp.InputTimer, Timer: vrrp.MasterDownTimer}, t0.Add(m.MasterDownInterval()), nil) {
		fmt.Println(a)
	}
	// Output:
	// remove-vips
	// arm(master-down at 00:00:03.609375)
	// INIT->BACKUP(startup)
	// Master_Down_Interval: 3.609375s
	// add-vips
	// send(prio 100)
	// announce
	// arm(adver at 00:00:04.609375)
	// BACKUP->MASTER(master-down)
}
