//go:build linux

package main

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// Priorities of the master and the backup node.
const (
	masterPriority = 150
	backupPriority = 100
)

var firstVIP = netip.MustParsePrefix("198.18.0.1/15")

// layout spreads n instances over interfaces: VRIDs are 1..255 per
// interface, so n > 255 needs several. Each interface of a node is on a
// bridge of its own (its own L2 segment, as VLANs would be): a multicast
// advert from one interface must not reach the node's other interfaces,
// where the same VRID runs too.
type layout struct {
	n      int // instances
	ifaces int // interfaces per node, eth0..
	per    int // instances (VRIDs 1..per) on each interface
}

// layoutFor uses as few interfaces as VRIDs allow, with the same number
// of instances on each; n must divide evenly.
func layoutFor(n int) (layout, error) {
	if n < 1 || n > 255*16 {
		return layout{}, fmt.Errorf("%d instances: want 1..%d", n, 255*16)
	}
	k := (n + 254) / 255
	if n%k != 0 {
		return layout{}, fmt.Errorf("%d instances need %d interfaces; want a multiple of %d to put as many on each", n, k, k)
	}
	return layout{n: n, ifaces: k, per: n / k}, nil
}

// iface is the name of interface j of a node.
func iface(j int) string { return fmt.Sprintf("eth%d", j) }

// ifaceList is "eth0,eth1,...".
func (l layout) ifaceList() string {
	var names []string
	for j := range l.ifaces {
		names = append(names, iface(j))
	}
	return strings.Join(names, ",")
}

// vip is instance g's (from 0) virtual address.
func vip(g int) netip.Prefix {
	a := firstVIP.Addr()
	for range g {
		a = a.Next()
	}
	return netip.PrefixFrom(a, firstVIP.Bits())
}

// nodeMACs are the MACs of a host's interfaces: eth0's is nstest's,
// ethj's (j ≥ 1) 02:00:00:00:1j:i for host i.
func nodeMACs(h *nstest.Host, l layout) []net.HardwareAddr {
	macs := []net.HardwareAddr{h.MAC}
	for j := 1; j < l.ifaces; j++ {
		macs = append(macs, net.HardwareAddr{0x02, 0, 0, 0, byte(0x10 + j), byte(h.Index)})
	}
	return macs
}

// addInterfaces gives every host of seg the interfaces eth1.. of l, each
// on bridge brj (made in the switch namespace) with address
// 198.19.j.i/24 for host i; nstest made eth0 on br0. Deleting the
// segment's namespaces deletes them.
func addInterfaces(seg *nstest.Segment, l layout) error {
	for j := 1; j < l.ifaces; j++ {
		br := fmt.Sprintf("br%d", j)
		sw := func(args ...string) error {
			_, err := nstest.Run(append([]string{"ip", "-n", seg.Switch}, args...)...)
			return err
		}
		if err := sw("link", "add", br, "type", "bridge", "mcast_snooping", "0", "forward_delay", "0", "stp_state", "0"); err != nil {
			return err
		}
		if err := sw("link", "set", br, "up"); err != nil {
			return err
		}
		for _, h := range seg.Hosts {
			port := fmt.Sprintf("p%d-%d", h.Index, j)
			hn := func(args ...string) error {
				_, err := nstest.Run(append([]string{"ip", "-n", h.Name}, args...)...)
				return err
			}
			for _, err := range []error{
				hn("link", "add", iface(j), "address", nodeMACs(h, l)[j].String(), "type", "veth", "peer", "name", port, "netns", seg.Switch),
				sw("link", "set", port, "master", br),
				sw("link", "set", port, "up"),
				hn("addr", "add", fmt.Sprintf("198.19.%d.%d/24", j, h.Index), "dev", iface(j)),
				hn("link", "set", iface(j), "up"),
			} {
				if err != nil {
					return err
				}
			}
		}
	}
	// The veths take a moment to come up (carrier): wait for the last one.
	deadline := time.Now().Add(5 * time.Second)
	for _, h := range seg.Hosts {
		for j := 1; j < l.ifaces; j++ {
			for {
				out, _ := nstest.Run("ip", "-n", h.Name, "link", "show", "dev", iface(j))
				if strings.Contains(out, "LOWER_UP") {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%s: %s not up: %s", h.Name, iface(j), out)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	return nil
}

// keepalivedConf is a node's keepalived.conf: instance g (from 0) is
// VI_g+1 on interface g/per with VRID g%per+1.
func keepalivedConf(h *nstest.Host, l layout, interval time.Duration, state string, prio int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    router_id %s\n}\n", h.Name)
	for g := range l.n {
		fmt.Fprintf(&b, `vrrp_instance VI_%d {
    state %s
    interface %s
    version 3
    virtual_router_id %d
    priority %d
    advert_int %g
    virtual_ipaddress {
        %s
    }
}
`, g+1, state, iface(g/l.per), g%l.per+1, prio, interval.Seconds(), vip(g))
	}
	return b.String()
}

// vrrpdArgs are the same instances for vrrpd.
func vrrpdArgs(l layout, interval time.Duration, state string, prio int) []string {
	return []string{"-interface", l.ifaceList(), "-vrid", "1", "-count", fmt.Sprint(l.per),
		"-priority", fmt.Sprint(prio), "-version", "3", "-advert", interval.String(),
		"-vip", firstVIP.String(), "-state", state}
}
