//go:build linux

package vrrp_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// realNode is a router on a real raw socket in a namespace host.
type realNode struct {
	h      *nstest.Host
	sock   *vrrp.Socket
	conn   *vrrp.SocketConn
	r      *vrrp.Router
	addrs  *vrrptest.Addrs
	sub    *vrrp.Subscription
	cancel context.CancelFunc
	done   chan error
}

func listenIn(t *testing.T, h *nstest.Host, v6 bool) *vrrp.Socket {
	t.Helper()
	var s *vrrp.Socket
	err := h.Do(func() (err error) {
		s, err = vrrp.Listen(vrrp.SocketConfig{Interface: h.Link, IPv6: v6})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// startReal runs a router for cfg on host h. Its socket is closed and the
// router stopped in t.Cleanup.
func startReal(t *testing.T, h *nstest.Host, cfg vrrp.Config, cc vrrp.ConnConfig) *realNode {
	t.Helper()
	v6 := len(cfg.VIPs) > 0 && cfg.VIPs[0].Addr().Is6()
	n := &realNode{h: h, sock: listenIn(t, h, v6), addrs: vrrptest.NewAddrs(), done: make(chan error, 1)}
	conn, err := n.sock.Conn(cfg.VRID, cc)
	if err != nil {
		t.Fatal(err)
	}
	n.conn = conn
	n.r, err = vrrp.NewRouter(conn, n.addrs, &vrrptest.Announcer{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.sub = n.r.Subscribe(32)
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.done <- n.r.Run(ctx) }()
	t.Cleanup(n.stop)
	return n
}

func (n *realNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	n.cancel = nil
}

// await waits (bounded) for the router to enter state want and returns
// when it did.
func (n *realNode) await(t *testing.T, want vrrp.State, limit time.Duration) time.Time {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-n.sub.C():
			if !ok {
				t.Fatalf("%s: stopped before %v", n.h.Name, want)
			}
			if e.To == want {
				return e.Time
			}
		case <-timer.C:
			t.Fatalf("%s: not %v within %v (state %v, stats %+v)", n.h.Name, want, limit, n.r.State(), n.r.Stats())
		}
	}
}

func noDrops(t *testing.T, n *realNode) {
	t.Helper()
	st := n.r.Stats()
	for d := vrrp.DropTTL; d <= vrrp.DropPeer; d++ {
		if st.Drop(d) != 0 {
			t.Errorf("%s: %d adverts dropped for %v", n.h.Name, st.Drop(d), d)
		}
	}
	if st.AddrMismatch != 0 {
		t.Errorf("%s: %d address list mismatches", n.h.Name, st.AddrMismatch)
	}
}

func TestRealSocketFailover(t *testing.T) {
	const ival = 100 * time.Millisecond
	cases := []struct {
		name string
		v6   bool
		uni  bool
	}{
		{"ipv4_multicast", false, false},
		{"ipv6_multicast", true, false},
		{"ipv4_unicast", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seg := nstest.NewSegment(t, 3)
			cfg := func(h *nstest.Host, prio uint8) (vrrp.Config, vrrp.ConnConfig) {
				vc := vrrp.Config{Name: h.Name, VRID: 51, Version: vrrp.V3, Priority: prio, Interval: ival,
					VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24")}}
				var cc vrrp.ConnConfig
				if c.v6 {
					vc.VIPs = []netip.Prefix{netip.MustParsePrefix("fe80::100/64"), netip.MustParsePrefix("2001:db8::100/64")}
				}
				if c.uni {
					for _, o := range seg.Hosts {
						if o != h {
							vc.Peers = append(vc.Peers, o.Addr4.Addr())
						}
					}
					cc = vrrp.ConnConfig{Source: h.Addr4.Addr(), Peers: vc.Peers}
				}
				return vc, cc
			}
			nodes := make([]*realNode, 3)
			for i, prio := range []uint8{200, 150, 100} {
				vc, cc := cfg(seg.Hosts[i], prio)
				nodes[i] = startReal(t, seg.Hosts[i], vc, cc)
			}
			a, b, cc := nodes[0], nodes[1], nodes[2]
			a.await(t, vrrp.Master, 5*time.Second)
			// Let a few adverts flow, then check both backups accept them.
			time.Sleep(5 * ival) // real sockets: give adverts time to cross; no timing asserted
			if b.r.State() != vrrp.Backup || cc.r.State() != vrrp.Backup {
				t.Fatalf("backups: %v %v", b.r.State(), cc.r.State())
			}
			wantMaster := seg.Hosts[0].Addr4.Addr()
			if c.v6 {
				wantMaster = seg.Hosts[0].LinkLocal
			}
			if got := b.r.Status().Master; got != wantMaster {
				t.Errorf("b sees master %v, want %v", got, wantMaster)
			}
			if b.r.Stats().AdvertsReceived == 0 {
				t.Fatal("b received nothing")
			}
			// Crash: a's link goes down, then a stops (its priority 0 is lost).
			if err := seg.Hosts[0].SetLink(false); err != nil {
				t.Fatal(err)
			}
			crashed := time.Now()
			a.stop()
			took := b.await(t, vrrp.Master, 5*time.Second).Sub(crashed)
			t.Logf("takeover %v after the crash (Master_Down_Interval %v)", took, 3*ival+106*ival/256)
			// Graceful: b stops, c takes over after its Skew_Time.
			stopped := time.Now()
			b.stop()
			took = cc.await(t, vrrp.Master, 5*time.Second).Sub(stopped)
			t.Logf("handover %v after the graceful stop (Skew_Time %v)", took, 156*ival/256)
			if took > 3*ival {
				t.Errorf("graceful handover took %v: priority 0 not heard?", took)
			}
			if cc.r.Stats().PriorityZeroRx != 1 {
				t.Errorf("c heard %d priority 0 adverts", cc.r.Stats().PriorityZeroRx)
			}
			for _, n := range nodes {
				noDrops(t, n)
			}
			if st := cc.sock.Stats(); st.ReadErrors != 0 || st.QueueFull != 0 {
				t.Errorf("c's socket: %+v", st)
			}
		})
	}
}

// Several routers share one socket per interface and family; messages
// are demultiplexed by VRID.
func TestRealSocketShared(t *testing.T) {
	seg := nstest.NewSegment(t, 2)
	socks := []*vrrp.Socket{listenIn(t, seg.Hosts[0], false), listenIn(t, seg.Hosts[1], false)}
	type inst struct {
		r    *vrrp.Router
		sub  *vrrp.Subscription
		done chan error
	}
	ctx, cancel := context.WithCancel(context.Background())
	var all []inst
	t.Cleanup(func() {
		cancel()
		for _, i := range all {
			<-i.done
		}
	})
	// VRIDs 1..10 on both hosts: host 1 wins odd VRIDs, host 2 even ones.
	for vrid := uint8(1); vrid <= 10; vrid++ {
		for hi, s := range socks {
			conn, err := s.Conn(vrid, vrrp.ConnConfig{})
			if err != nil {
				t.Fatal(err)
			}
			prio := uint8(100)
			if int(vrid)%2 == hi {
				prio = 200
			}
			r, err := vrrp.NewRouter(conn, nil, nil, vrrp.Config{Name: fmt.Sprintf("h%d-vrid%d", hi+1, vrid), VRID: vrid,
				Version: vrrp.V3, Priority: prio, Interval: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			i := inst{r: r, sub: r.Subscribe(8), done: make(chan error, 1)}
			go func() { i.done <- r.Run(ctx) }()
			all = append(all, i)
		}
	}
	if _, err := socks[0].Conn(3, vrrp.ConnConfig{}); !errors.Is(err, vrrp.ErrInvalid) {
		t.Errorf("second Conn for VRID 3: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		masters := 0
		for _, i := range all {
			if i.r.State() == vrrp.Master {
				masters++
			}
		}
		if masters == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d masters after 5s, want 10", masters)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a few adverts on every VRID
	for _, i := range all {
		st := i.r.Status()
		wantPrio := uint8(100)
		if st.State == vrrp.Master {
			wantPrio = 200
		}
		if st.Priority != wantPrio {
			t.Errorf("%s is %v with priority %d", i.r.Name(), st.State, st.Priority)
		}
		if d := i.r.Stats().Drop(vrrp.DropVRID); d != 0 {
			t.Errorf("%s: %d other-VRID adverts reached the router (socket should demultiplex)", i.r.Name(), d)
		}
	}
	for _, s := range socks {
		if st := s.Stats(); st.Delivered == 0 || st.UnknownVRID != 0 {
			t.Errorf("socket stats %+v", st)
		}
	}
}

func TestListenErrors(t *testing.T) {
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	err := h.Do(func() error {
		_, err := vrrp.Listen(vrrp.SocketConfig{Interface: "nosuch0"})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "nosuch0") {
		t.Errorf("Listen on a missing interface: %v", err)
	}
	// An interface without IPv4 address: lo has 127.0.0.1, so remove
	// eth0's and ask for IPv4 there.
	if _, err := h.Exec("ip", "-4", "addr", "flush", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	err = h.Do(func() error {
		_, err := vrrp.Listen(vrrp.SocketConfig{Interface: "eth0"})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "no IPv4 address") {
		t.Errorf("Listen without IPv4: %v", err)
	}
	s := listenIn(t, h, true)
	if _, err := s.Conn(0, vrrp.ConnConfig{}); !errors.Is(err, vrrp.ErrInvalid) {
		t.Errorf("VRID 0: %v", err)
	}
	if _, err := s.Conn(1, vrrp.ConnConfig{Source: netip.MustParseAddr("192.0.2.1")}); !errors.Is(err, vrrp.ErrInvalid) {
		t.Errorf("IPv4 source on IPv6 socket: %v", err)
	}
	s.Close()
	if _, err := s.Conn(1, vrrp.ConnConfig{}); err == nil {
		t.Error("Conn on a closed socket")
	}
}

// A unicast peer without VRRP answers with ICMP protocol-unreachable: the
// socket reports it (counted and logged), and the router goes on as master.
func TestRealSocketUnicastPeerWithoutVRRP(t *testing.T) {
	seg := nstest.NewSegment(t, 2)
	h1, h2 := seg.Hosts[0], seg.Hosts[1]
	cfg := vrrp.Config{Name: "uni", VRID: 54, Version: vrrp.V2, Priority: 150, Interval: time.Second,
		VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24")}, Peers: []netip.Addr{h2.Addr4.Addr()}}
	n := startReal(t, h1, cfg, vrrp.ConnConfig{Source: h1.Addr4.Addr(), Peers: cfg.Peers})
	n.await(t, vrrp.Master, 6*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for n.sock.Stats().ReadErrors == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no ICMP error reported; socket stats %+v", n.sock.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n.r.State() != vrrp.Master {
		t.Errorf("router state %v after the ICMP error", n.r.State())
	}
	sent := n.r.Stats().AdvertsSent
	time.Sleep(1100 * time.Millisecond)
	if n.r.Stats().AdvertsSent <= sent {
		t.Error("router stopped advertising after the ICMP error")
	}
}

// On the wire, as keepalived: TTL / hop limit 255, DSCP CS6 (0xc0), to
// 224.0.0.18 from the interface address / to ff02::12 from the link-local.
func TestRealSocketWireFormat(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		t.Run(map[bool]string{false: "ipv4", true: "ipv6"}[v6], func(t *testing.T) {
			seg := nstest.NewSegment(t, 2)
			h := seg.Hosts[0]
			frames := nstest.Capture(t, seg.Hosts[1], "ip proto 112 or ip6 proto 112")
			vips := []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24")}
			if v6 {
				vips = []netip.Prefix{netip.MustParsePrefix("fe80::100/64")}
			}
			n := startReal(t, h, vrrp.Config{Name: "w", VRID: 51, Version: vrrp.V3, Priority: 255,
				Interval: 50 * time.Millisecond, VIPs: vips}, vrrp.ConnConfig{})
			n.await(t, vrrp.Master, 2*time.Second)
			time.Sleep(200 * time.Millisecond)
			n.stop()
			got := 0
			for _, f := range frames() {
				p := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
				var payload []byte
				var src, dst netip.Addr
				if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
					if ip.TTL != 255 || ip.TOS != 0xc0 {
						t.Errorf("IPv4 TTL %d TOS %#x", ip.TTL, ip.TOS)
					}
					src, _ = netip.AddrFromSlice(ip.SrcIP)
					dst, _ = netip.AddrFromSlice(ip.DstIP)
					payload = ip.Payload
				} else if ip, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok {
					if ip.HopLimit != 255 || ip.TrafficClass != 0xc0 {
						t.Errorf("IPv6 hop limit %d class %#x", ip.HopLimit, ip.TrafficClass)
					}
					src, _ = netip.AddrFromSlice(ip.SrcIP)
					dst, _ = netip.AddrFromSlice(ip.DstIP)
					payload = ip.Payload
				} else {
					continue
				}
				src, dst = src.Unmap(), dst.Unmap()
				wantSrc, wantDst := h.Addr4.Addr(), vrrp.GroupV4
				if v6 {
					wantSrc, wantDst = h.LinkLocal, vrrp.GroupV6
				}
				if src != wantSrc || dst != wantDst {
					t.Errorf("advert %v -> %v, want %v -> %v", src, dst, wantSrc, wantDst)
				}
				a, err := vrrp.Parse(payload, src, dst)
				if err != nil {
					t.Fatalf("captured advert does not parse: %v", err)
				}
				if a.VRID != 51 || len(a.Addrs) != 1 {
					t.Errorf("advert %+v", a)
				}
				got++
			}
			if got < 3 {
				t.Errorf("captured %d adverts", got)
			}
		})
	}
}

// ICMP errors are queued on the socket's error queue (IP_RECVERR), which
// the kernel charges to the same receive budget as adverts: a master
// sending to a unicast peer without VRRP for long enough must still hear
// its other peers.
func TestRealSocketErrorQueueDoesNotStarveReceive(t *testing.T) {
	seg := nstest.NewSegment(t, 3)
	h1, h2, h3 := seg.Hosts[0], seg.Hosts[1], seg.Hosts[2]
	// h2 answers every advert with protocol-unreachable, unthrottled.
	if err := h2.Sysctl("net.ipv4.icmp_ratelimit", "0"); err != nil {
		t.Fatal(err)
	}
	s1 := listenIn(t, h1, false)
	c1, err := s1.Conn(54, vrrp.ConnConfig{Source: h1.Addr4.Addr(), Peers: []netip.Addr{h2.Addr4.Addr(), h3.Addr4.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	s3 := listenIn(t, h3, false)
	c3, err := s3.Conn(54, vrrp.ConnConfig{Source: h3.Addr4.Addr(), Peers: []netip.Addr{h1.Addr4.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	adv := vrrp.Advertisement{Version: vrrp.V3, VRID: 54, Priority: 100, Interval: time.Second,
		Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
	ctx := context.Background()
	to2, err := adv.Marshal(h1.Addr4.Addr(), h2.Addr4.Addr())
	if err != nil {
		t.Fatal(err)
	}
	// Far more errors than a default receive buffer (212992 bytes) holds,
	// paced under the kernel's global ICMP limit (1000/s).
	for i := range 1500 {
		if err := c1.WriteAdvert(ctx, to2, h2.Addr4.Addr()); err != nil {
			t.Fatal(err)
		}
		if i%20 == 19 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for s1.Stats().ReadErrors == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no ICMP error reported; socket stats %+v", s1.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	to1, err := adv.Marshal(h3.Addr4.Addr(), h1.Addr4.Addr())
	if err != nil {
		t.Fatal(err)
	}
	// A burst, as many VRIDs' adverts arrive together: each must get in.
	const burst = 20
	for range burst {
		if err := c3.WriteAdvert(ctx, to1, h1.Addr4.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	buf := make([]byte, 1500)
	for i := range burst {
		n, info, err := c1.ReadAdvert(rctx, buf)
		if err != nil {
			t.Fatalf("advert %d of %d from the live peer never arrived (%v); socket stats %+v", i+1, burst, err, s1.Stats())
		}
		if info.Src != h3.Addr4.Addr() || n != len(to1) {
			t.Errorf("read %d bytes from %v, want %d from %v", n, info.Src, len(to1), h3.Addr4.Addr())
		}
	}
}

// SetPeers (Router.Reconfigure's seam) changes which senders a unicast
// SocketConn takes: a new peer's adverts are delivered, an old one's are
// counted as NotPeer; it cannot switch between multicast and unicast.
func TestRealSocketSetPeers(t *testing.T) {
	seg := nstest.NewSegment(t, 3)
	h1, h2, h3 := seg.Hosts[0], seg.Hosts[1], seg.Hosts[2]
	s1 := listenIn(t, h1, false)
	c1, err := s1.Conn(55, vrrp.ConnConfig{Source: h1.Addr4.Addr(), Peers: []netip.Addr{h2.Addr4.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	send := func(from *nstest.Host) {
		t.Helper()
		s := listenIn(t, from, false)
		c, err := s.Conn(55, vrrp.ConnConfig{Source: from.Addr4.Addr(), Peers: []netip.Addr{h1.Addr4.Addr()}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		adv := vrrp.Advertisement{Version: vrrp.V3, VRID: 55, Priority: 100, Interval: time.Second,
			Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
		b, err := adv.Marshal(from.Addr4.Addr(), h1.Addr4.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteAdvert(context.Background(), b, h1.Addr4.Addr()); err != nil {
			t.Fatal(err)
		}
	}
	read := func() (netip.Addr, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, info, err := c1.ReadAdvert(ctx, make([]byte, 1500))
		return info.Src, err
	}
	send(h3)
	deadline := time.Now().Add(5 * time.Second)
	for s1.Stats().NotPeer != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("h3, not a peer, was not counted: %+v", s1.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c1.SetPeers([]netip.Addr{h2.Addr4.Addr(), h3.Addr4.Addr()}); err != nil {
		t.Fatal(err)
	}
	send(h3)
	if src, err := read(); err != nil || src != h3.Addr4.Addr() {
		t.Fatalf("after SetPeers: read from %v, %v; want h3's advert", src, err)
	}
	if err := c1.SetPeers(nil); !errors.Is(err, vrrp.ErrInvalid) {
		t.Errorf("unicast to multicast: %v, want ErrInvalid", err)
	}
	mc, err := s1.Conn(56, vrrp.ConnConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.SetPeers([]netip.Addr{h2.Addr4.Addr()}); !errors.Is(err, vrrp.ErrInvalid) {
		t.Errorf("multicast to unicast: %v, want ErrInvalid", err)
	}
	if err := c1.SetPeers([]netip.Addr{netip.MustParseAddr("2001:db8::1")}); !errors.Is(err, vrrp.ErrInvalid) {
		t.Errorf("an IPv6 peer on an IPv4 socket: %v, want ErrInvalid", err)
	}
}
