package ipvs_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
)

// A Syncer makes the table hold a desired table with the fewest
// operations, and leaves alone the services it does not own.
func ExampleSyncer() {
	// ipvs.Open(ipvs.KernelConfig{}) for the kernel's table.
	tab := ipvstest.New()
	// Someone else's service.
	_ = tab.Load(ipvs.VirtualServer{Service: ipvs.Service{
		ServiceKey: ipvs.ServiceKey{FWMark: 7}, Scheduler: ipvs.RoundRobin,
	}})

	web := ipvs.VirtualServer{
		Service: ipvs.Service{
			ServiceKey: ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80},
			Scheduler:  ipvs.WeightedLeastConnection,
		},
		Destinations: []ipvs.Destination{
			{DestinationKey: ipvs.DestinationKey{Addr: netip.MustParseAddr("10.0.0.1"), Port: 8080}, Forward: ipvs.Masquerade, Weight: 1},
			{DestinationKey: ipvs.DestinationKey{Addr: netip.MustParseAddr("10.0.0.2"), Port: 8080}, Forward: ipvs.Masquerade, Weight: 1},
		},
	}
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
	ctx := context.Background()
	res, err := s.Sync(ctx, []ipvs.VirtualServer{web})
	fmt.Printf("%d ops %v\n", res.Ops(), err)

	res, _ = s.Sync(ctx, []ipvs.VirtualServer{web})
	fmt.Printf("again: %d ops\n", res.Ops())

	web.Destinations[1].Weight = 0 // drain 10.0.0.2
	res, _ = s.Sync(ctx, []ipvs.VirtualServer{web})
	fmt.Printf("drain: %d update\n", res.UpdatedDests)

	res, _ = s.Sync(ctx, nil)
	fmt.Printf("release: %d delete\n", res.DeletedServices)
	for _, v := range tab.Table() {
		fmt.Println("left:", v.ServiceKey)
	}
	// Output:
	// 3 ops <nil>
	// again: 0 ops
	// drain: 1 update
	// release: 1 delete
	// left: fwmark 7
}

// Apply writes a change without reading the table: it compares with what
// the last Sync or Apply left. What others change is repaired by Sync.
func ExampleSyncer_Apply() {
	tab := ipvstest.New()
	web := ipvs.VirtualServer{
		Service: ipvs.Service{
			ServiceKey: ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80},
			Scheduler:  ipvs.WeightedRoundRobin,
		},
		Destinations: []ipvs.Destination{
			{DestinationKey: ipvs.DestinationKey{Addr: netip.MustParseAddr("10.0.0.1"), Port: 8080}, Forward: ipvs.Masquerade, Weight: 1},
		},
	}
	s := ipvs.NewSyncer(tab, ipvs.SyncConfig{})
	ctx := context.Background()
	_, _ = s.Sync(ctx, []ipvs.VirtualServer{web}) // reads, then writes
	tab.ResetCounts()

	web.Destinations[0].Weight = 5
	res, err := s.Apply(ctx, []ipvs.VirtualServer{web})
	fmt.Printf("%d update, %d reads, %v\n", res.UpdatedDests, tab.Reads(), err)

	// Someone else deletes the destination: Apply does not see it, Sync does.
	_ = tab.DeleteDestination(ctx, web.ServiceKey, web.Destinations[0].DestinationKey)
	res, _ = s.Apply(ctx, []ipvs.VirtualServer{web})
	fmt.Printf("Apply: %d ops\n", res.Ops())
	res, _ = s.Sync(ctx, []ipvs.VirtualServer{web})
	fmt.Printf("Sync: %d created\n", res.CreatedDests)
	// Output:
	// 1 update, 0 reads, <nil>
	// Apply: 0 ops
	// Sync: 1 created
}

// A Balancer applies keepalived's rules to health reports: here the last
// real server fails and the sorry server takes over. Events come after
// the Sync that applied them.
func ExampleBalancer() {
	tab := ipvstest.New()
	key := ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80}
	rs := ipvs.Destination{DestinationKey: ipvs.DestinationKey{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}, Forward: ipvs.Route, Weight: 1}
	sorry := ipvs.Destination{DestinationKey: ipvs.DestinationKey{Addr: netip.MustParseAddr("10.0.0.99"), Port: 80}, Forward: ipvs.Route, Weight: 1}
	bl, err := ipvs.NewBalancer(tab, []ipvs.PoolConfig{{
		Service:     ipvs.Service{ServiceKey: key, Scheduler: ipvs.RoundRobin},
		RealServers: []ipvs.RealServer{{Destination: rs}},
		SorryServer: &sorry,
	}}, ipvs.BalancerConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	events := bl.Subscribe(16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- bl.Run(ctx) }()

	_ = bl.SetHealth(key, rs.DestinationKey, false) // from a health checker
	fmt.Println(<-events.C())
	fmt.Println(<-events.C())
	for _, d := range tab.Table()[0].Destinations {
		fmt.Println("serving:", d.DestinationKey)
	}
	cancel()
	fmt.Println(<-done, len(tab.Table()))
	_, open := <-events.C()
	fmt.Println("events open:", open)
	// Output:
	// real server down 10.0.0.1:80 of tcp 192.0.2.10:80
	// quorum down tcp 192.0.2.10:80
	// serving: 10.0.0.99:80
	// <nil> 0
	// events open: false
}

// SetPools reloads the configuration: what stays keeps its state (here
// 10.0.0.1 stays down), and only the difference is written.
func ExampleBalancer_SetPools() {
	tab := ipvstest.New()
	key := ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80}
	server := func(last byte, weight int) ipvs.RealServer {
		return ipvs.RealServer{Destination: ipvs.Destination{
			DestinationKey: ipvs.DestinationKey{Addr: netip.AddrFrom4([4]byte{10, 0, 0, last}), Port: 80},
			Forward:        ipvs.Route, Weight: weight,
		}}
	}
	pool := ipvs.PoolConfig{
		Service:     ipvs.Service{ServiceKey: key, Scheduler: ipvs.WeightedRoundRobin},
		RealServers: []ipvs.RealServer{server(1, 1), server(2, 1)},
	}
	bl, _ := ipvs.NewBalancer(tab, []ipvs.PoolConfig{pool}, ipvs.BalancerConfig{})
	events := bl.Subscribe(16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- bl.Run(ctx) }()
	_ = bl.SetHealth(key, pool.RealServers[0].DestinationKey, false)
	fmt.Println(<-events.C())
	tab.ResetCounts()

	// The reload: 10.0.0.2 is gone, 10.0.0.3 is new.
	pool.RealServers = []ipvs.RealServer{server(1, 1), server(3, 5)}
	if err := bl.SetPools([]ipvs.PoolConfig{pool}); err != nil {
		fmt.Println(err)
	}
	fmt.Println(<-events.C()) // after the write
	fmt.Println("writes:", tab.Writes(), "reads:", tab.Reads())
	for _, d := range tab.Table()[0].Destinations {
		fmt.Println("serving:", d.DestinationKey, d.Weight)
	}
	cancel()
	<-done
	// Output:
	// real server down 10.0.0.1:80 of tcp 192.0.2.10:80
	// real server down 10.0.0.2:80 of tcp 192.0.2.10:80
	// writes: 2 reads: 0
	// serving: 10.0.0.3:80 5
}
