package ipvs

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// tunnelTable has GUE (port, checksum), GRE (checksum) and IPIP tunnel
// destinations, and real servers of the other family than their service
// (IPv6 service -> IPv4 real servers and the reverse, through tunnels).
func tunnelTable() []VirtualServer {
	a := netip.MustParseAddr
	tun := func(addr string, port uint16, w int, tt TunnelType, tport uint16, csum bool) Destination {
		return Destination{DestinationKey: DestinationKey{a(addr), port}, Forward: Tunnel, Weight: w, TunnelType: tt, TunnelPort: tport, TunnelChecksum: csum}
	}
	return []VirtualServer{
		{Service: Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: a("198.51.100.50"), Port: 80}, Scheduler: WeightedRoundRobin},
			Destinations: []Destination{
				tun("198.51.100.51", 80, 1, GUE, 6080, true),
				tun("198.51.100.52", 80, 2, GRE, 0, true),
				tun("198.51.100.53", 80, 3, IPIP, 0, false),
				tun("2001:db8:5::54", 80, 4, GRE, 0, false), // IPv6 real server of an IPv4 service
				tun("2001:db8:5::55", 80, 5, GUE, 6081, false),
			}},
		{Service: Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: a("2001:db8:5::50"), Port: 443}, Scheduler: WeightedLeastConnection},
			Destinations: []Destination{
				tun("2001:db8:5::51", 443, 1, GUE, 6080, false),
				tun("198.51.100.56", 443, 2, IPIP, 0, false), // IPv4 real servers of an IPv6 service
				tun("198.51.100.57", 443, 3, GUE, 7000, true),
				tun("198.51.100.58", 443, 4, GRE, 0, true),
			}},
		{Service: Service{ServiceKey: ServiceKey{FWMark: 55, Family6: true}, Scheduler: RoundRobin},
			Destinations: []Destination{tun("198.51.100.59", 0, 1, GRE, 0, false), tun("2001:db8:5::59", 0, 2, IPIP, 0, false)}},
	}
}

// tunLine is a destination's tunnel settings as ipvsadm 1.31 -Ln
// --tun-info shows them in its TunnelInfo column: "ipip", "gre:+c" or
// "gre:-c", "gue:6080:+c" ("+c": checksum, "-c": none); empty for a
// destination that does not tunnel.
func tunLine(d Destination) string {
	if d.Forward != Tunnel {
		return ""
	}
	csum := "-c"
	if d.TunnelChecksum {
		csum = "+c"
	}
	switch d.TunnelType {
	case GUE:
		return fmt.Sprintf("gue:%d:%s", d.TunnelPort, csum)
	case GRE:
		return "gre:" + csum
	}
	return "ipip"
}

// checkTunInfo compares the tunnel settings read through k with what
// "ipvsadm -Ln --tun-info" shows: one line per destination, "service |
// address tunnel-settings".
func checkTunInfo(t *testing.T, k *Kernel) {
	t.Helper()
	svcs, dests := readTable(t, k)
	var exp []string
	for _, s := range svcs {
		for _, d := range dests[s.ServiceKey] {
			exp = append(exp, fmt.Sprintf("%s | %s %s", ipvsadmLine(s.Service), d.DestinationKey, tunLine(d.Destination)))
		}
	}
	slices.Sort(exp)
	out := ipvsadm(t, "-Ln", "--tun-info")
	var wit []string
	var svc string
	for i, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if i < 3 || len(f) == 0 {
			continue
		}
		if f[0] != "->" {
			svc = strings.Join(f, " ")
			continue
		}
		// "-> addr:port Forward TunnelInfo Weight ActiveConn InActConn";
		// TunnelInfo is there for tunnel destinations only.
		if len(f) < 4 {
			t.Fatalf("ipvsadm --tun-info line %q", line)
		}
		info := ""
		if f[2] == "Tunnel" {
			info = f[3]
		}
		wit = append(wit, fmt.Sprintf("%s | %s %s", svc, f[1], info))
	}
	slices.Sort(wit)
	if !slices.Equal(exp, wit) {
		t.Errorf("ipvsadm -Ln --tun-info disagrees with the backend:\nipvsadm:\n  %s\nbackend:\n  %s\nraw:\n%s", strings.Join(wit, "\n  "), strings.Join(exp, "\n  "), out)
	}
}

// TestKernelTunnels: GUE and GRE tunnel destinations, with their ports
// and checksums, and destinations of the other address family than their
// service, are created by Sync (batched and one request at a time), read
// back identical, shown by ipvsadm -Ln (and --tun-info), updated, and a
// second Sync does nothing.
func TestKernelTunnels(t *testing.T) {
	for _, batched := range []bool{true, false} {
		t.Run(fmt.Sprintf("batched=%t", batched), func(t *testing.T) {
			k := openKernel(t)
			ctx := context.Background()
			b, cb := counted(k, batched)
			s := NewSyncer(b, SyncConfig{})
			table := tunnelTable()
			sync := func(what string, want Result) {
				t.Helper()
				syncCounted(t, s, cb, table, what, want)
				checkTable(t, k, table)
				checkTunInfo(t, k)
			}
			ndest := 0
			for _, vs := range table {
				ndest += len(vs.Destinations)
			}
			sync("from empty", Result{CreatedServices: len(table), CreatedDests: ndest})
			sync("again", Result{})

			// Every tunnel setting changes somewhere.
			d := table[0].Destinations
			d[0].TunnelPort = 6090                   // gue port
			d[1].TunnelChecksum = false              // gre checksum off
			d[2].TunnelType = GUE                    // ipip -> gue
			d[2].TunnelPort = 5555                   //
			d[3].TunnelType = IPIP                   // mixed gre -> ipip
			d[4].TunnelChecksum = true               // gue checksum on
			e := table[1].Destinations               //
			e[0].TunnelType = GRE                    // gue -> gre
			e[0].TunnelPort = 0                      //
			e[2].TunnelType = IPIP                   // mixed gue -> ipip
			e[2].TunnelPort = 0                      //
			e[2].TunnelChecksum = false              //
			e[3].Forward = Tunnel                    // mixed gre csum -> gue
			e[3].TunnelType = GUE                    //
			e[3].TunnelPort = 6000                   //
			table[2].Destinations[1].Forward = Route // same family: route
			sync("changes", Result{UpdatedDests: 9})
			sync("again", Result{})

			// The single methods write the same attributes.
			g := Destination{DestinationKey: DestinationKey{netip.MustParseAddr("198.51.100.60"), 80}, Forward: Tunnel, Weight: 1, TunnelType: GUE, TunnelPort: 6080, TunnelChecksum: true}
			if err := k.CreateDestination(ctx, table[1].ServiceKey, g); err != nil {
				t.Fatal(err)
			}
			g.TunnelType, g.TunnelPort = GRE, 0
			if err := k.UpdateDestination(ctx, table[1].ServiceKey, g); err != nil {
				t.Fatal(err)
			}
			table[1].Destinations = append(table[1].Destinations, g)
			checkTable(t, k, table)
			checkTunInfo(t, k)
			if err := k.DeleteDestination(ctx, table[1].ServiceKey, g.DestinationKey); err != nil {
				t.Fatal(err)
			}
			table[1].Destinations = table[1].Destinations[:len(table[1].Destinations)-1]
			sync("after the single writes", Result{})
			if _, err := s.Sync(ctx, nil); err != nil {
				t.Fatal(err)
			}
			checkTable(t, k, nil)
		})
	}
}
