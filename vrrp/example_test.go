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
	// send(prio 100)
	// announce
	// add-vips
	// arm(adver at 00:00:04.609375)
	// BACKUP->MASTER(master-down)
}

// Priority tracking: named sources add weights to the configured
// priority (keepalived's weighted trackers), and a source given to
// SetFault (keepalived's weight 0) puts the router in FAULT until it
// clears.
func ExampleRouter_Track() {
	hub := vrrptest.NewHub(1)
	conn, _ := hub.Join(netip.MustParseAddr("192.0.2.1"))
	r, err := vrrp.NewRouter(conn, nil, nil, vrrp.Config{
		Name: "VI_1", VRID: 51, Version: vrrp.V3, Priority: 150, Interval: 10 * time.Millisecond,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r.Track("chk_nginx", -60) // the check fails: 150 - 60
	r.Track("eth1", 20)       // a second uplink is up: + 20
	events := r.Subscribe(8)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	show := func() {
		e := <-events.C()
		fmt.Println(e.From, "->", e.To, "because", e.Reason, "priority", e.Priority)
	}
	show() // startup
	show() // no master on the segment
	r.SetFault("eth0", true)
	show()
	r.Untrack("chk_nginx") // the check passes again (or is no longer tracked)
	r.SetFault("eth0", false)
	show()
	show()
	cancel()
	<-done
	show()
	// Output:
	// INIT -> BACKUP because startup priority 110
	// BACKUP -> MASTER because master-down priority 110
	// MASTER -> FAULT because fault priority 110
	// FAULT -> BACKUP because fault-cleared priority 170
	// BACKUP -> MASTER because master-down priority 170
	// MASTER -> STOPPED because shutdown priority 170
}

// announcer passes each announcement on.
type announcer chan []netip.Addr

func (a announcer) Announce(_ context.Context, addrs []netip.Addr) error {
	a <- addrs
	return nil
}

// A reload while running: the master stays master, keeps the VIP that
// stays, adds and announces only the new one.
func ExampleRouter_Reconfigure() {
	hub := vrrptest.NewHub(1)
	conn, _ := hub.Join(netip.MustParseAddr("192.0.2.1"))
	addrs, announced := vrrptest.NewAddrs(), make(announcer, 4)
	cfg := vrrp.Config{
		Name: "VI_1", VRID: 51, Version: vrrp.V3, Priority: 255, Interval: 100 * time.Millisecond,
		VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24")},
	}
	r, err := vrrp.NewRouter(conn, addrs, announced, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	fmt.Println("announced", <-announced)

	cfg.VIPs = append(cfg.VIPs, netip.MustParsePrefix("192.0.2.101/24"))
	cfg.Interval = 200 * time.Millisecond
	if err := r.Reconfigure(cfg); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("announced", <-announced)
	fmt.Println(r.State(), "after", r.Stats().Transitions, "transition")
	for _, op := range addrs.Ops() {
		fmt.Println("added", op.VIPs)
	}
	cfg.VRID = 52
	fmt.Println(r.Reconfigure(cfg))
	// Output:
	// announced [192.0.2.100]
	// announced [192.0.2.101]
	// MASTER after 1 transition
	// added [192.0.2.100/24]
	// added [192.0.2.101/24]
	// vrrp: instance VI_1: VRID: 51 cannot change to 52 while the router exists
}
