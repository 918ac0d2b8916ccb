//go:build linux

package vrrp_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/vrrp"
)

// header is what the wire tests look at in a captured advert.
type header struct {
	src, dst netip.Addr
	ttl      uint8
}

// adverts are the headers of the VRRP messages among frames.
func adverts(frames [][]byte) []header {
	var out []header
	for _, f := range frames {
		p := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
		var h header
		if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok && ip.Protocol == 112 {
			h.src, _ = netip.AddrFromSlice(ip.SrcIP)
			h.dst, _ = netip.AddrFromSlice(ip.DstIP)
			h.ttl = ip.TTL
		} else if ip, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok && ip.NextHeader == 112 {
			h.src, _ = netip.AddrFromSlice(ip.SrcIP)
			h.dst, _ = netip.AddrFromSlice(ip.DstIP)
			h.ttl = ip.HopLimit
		} else {
			continue
		}
		h.src, h.dst = h.src.Unmap(), h.dst.Unmap()
		out = append(out, h)
	}
	return out
}

// TestRealSocketWireOptions: keepalived's mcast_src_ip (ConnConfig.Source
// on a multicast Conn), vrrp_mcast_group4/6 (Config.Group and
// ConnConfig.Group) and unicast_ttl (ConnConfig.TTL) change the adverts
// on the wire as they say, and a backup configured alike hears them: it
// stays BACKUP while the master advertises.
func TestRealSocketWireOptions(t *testing.T) {
	g4, g6 := netip.MustParseAddr("224.0.0.19"), netip.MustParseAddr("ff02::13")
	for _, tc := range []struct {
		name    string
		v6      bool
		unicast bool
		ttl     int
		group   netip.Addr
		extra   string // a second address of the master's, its source
	}{
		{"ipv4 mcast_src_ip and group", false, false, 0, g4, "198.51.100.1/24"},
		{"ipv6 group", true, false, 0, g6, ""},
		{"ipv4 unicast_ttl", false, true, 5, netip.Addr{}, ""},
		{"ipv6 unicast_ttl", true, true, 7, netip.Addr{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seg := nstest.NewSegment(t, 2)
			h1, h2 := seg.Hosts[0], seg.Hosts[1]
			frames := nstest.Capture(t, h2, "ip proto 112 or ip6 proto 112")
			vip := netip.MustParsePrefix("192.0.2.100/24")
			addr := func(h *nstest.Host) netip.Addr { return h.Addr4.Addr() }
			if tc.v6 {
				vip = netip.MustParsePrefix("2001:db8:1::100/64")
				addr = func(h *nstest.Host) netip.Addr { return h.LinkLocal }
			}
			src := addr(h1)
			if tc.extra != "" {
				nstest.MustRun(t, "ip", "-n", h1.Name, "addr", "add", tc.extra, "dev", h1.Link)
				src = netip.MustParsePrefix(tc.extra).Addr()
			}
			node := func(h, peer *nstest.Host, prio uint8, ttl int, src netip.Addr) *realNode {
				cfg := vrrp.Config{Name: h.Name, VRID: 60, Version: vrrp.V3, Priority: prio,
					Interval: 50 * time.Millisecond, VIPs: []netip.Prefix{vip}, Group: tc.group}
				cc := vrrp.ConnConfig{Source: src, Group: tc.group, TTL: ttl}
				if tc.unicast {
					cfg.Peers = []netip.Addr{addr(peer)}
					cc.Peers = cfg.Peers
				}
				return startReal(t, h, cfg, cc)
			}
			master := node(h1, h2, 200, tc.ttl, src)
			master.await(t, vrrp.Master, 2*time.Second)
			backup := node(h2, h1, 100, 0, netip.Addr{})
			backup.await(t, vrrp.Backup, 2*time.Second)
			time.Sleep(time.Second) // 20 adverts; a deaf backup takes over after 150 ms
			if st := backup.r.State(); st != vrrp.Backup {
				t.Fatalf("backup is %v (stats %+v)", st, backup.r.Stats())
			}
			backup.stop()
			master.stop()
			wantDst, wantTTL := vrrp.GroupV4, uint8(255)
			switch {
			case tc.unicast:
				wantDst, wantTTL = addr(h2), uint8(tc.ttl)
			case tc.group.IsValid():
				wantDst = tc.group
			case tc.v6:
				wantDst = vrrp.GroupV6
			}
			n := 0
			for _, h := range adverts(frames()) {
				if h.src != src {
					continue // the backup's
				}
				n++
				if h.dst != wantDst || h.ttl != wantTTL {
					t.Errorf("advert %v -> %v TTL %d, want -> %v TTL %d", h.src, h.dst, h.ttl, wantDst, wantTTL)
				}
			}
			if n < 10 {
				t.Errorf("captured %d adverts from %v", n, src)
			}
		})
	}
}
