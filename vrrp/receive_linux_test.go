//go:build linux

package vrrp_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/goroutines"
	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
	"golang.org/x/sys/unix"
)

// rawSender is a raw IPv4 socket (protocol 112) in a namespace host,
// bound to one source address and connected to one destination, that
// sends pre-built messages with TTL 255. Its sends do not allocate, so an
// allocation count over send and receive is the receiver's.
type rawSender struct {
	fd       int
	src, dst netip.Addr
}

func newRawSender(tb testing.TB, h *nstest.Host, src, dst netip.Addr) *rawSender {
	tb.Helper()
	s := &rawSender{fd: -1, src: src, dst: dst}
	err := h.Do(func() (err error) {
		if s.fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 112); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(s.fd, unix.IPPROTO_IP, unix.IP_TTL, vrrp.TTL); err != nil {
			return err
		}
		if err := unix.Bind(s.fd, &unix.SockaddrInet4{Addr: src.As4()}); err != nil {
			return err
		}
		return unix.Connect(s.fd, &unix.SockaddrInet4{Addr: dst.As4()})
	})
	if s.fd >= 0 {
		tb.Cleanup(func() { unix.Close(s.fd) })
	}
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func (s *rawSender) send(tb testing.TB, b []byte) {
	if _, err := unix.Write(s.fd, b); err != nil {
		tb.Fatal(err)
	}
}

// benchAdvert is a VRRPv3 advert for vrid from src to dst, priority 200,
// interval 10 s (no Master_Down_Timer expires during a test).
func benchAdvert(tb testing.TB, vrid uint8, src, dst netip.Addr) []byte {
	tb.Helper()
	a := vrrp.Advertisement{Version: vrrp.V3, VRID: vrid, Priority: 200, Interval: 10 * time.Second,
		Addrs: []netip.Addr{vip.Addr()}}
	b, err := a.Marshal(src, dst)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// realReceiver is a backup host (h2, one vrrp.Socket) hearing adverts
// from two masters of equal priority on h1 (two source addresses), over
// a veth pair and a bridge in network namespaces.
type realReceiver struct {
	sock    *vrrp.Socket
	senders [2]*rawSender
}

func newRealReceiver(tb testing.TB) *realReceiver {
	tb.Helper()
	seg := nstest.NewSegment(tb, 2)
	h1, h2 := seg.Hosts[0], seg.Hosts[1]
	second := netip.AddrFrom4([4]byte{192, 0, 2, 11})
	if _, err := nstest.Run("ip", "-n", h1.Name, "addr", "add", netip.PrefixFrom(second, 24).String(), "dev", h1.Link); err != nil {
		tb.Fatal(err)
	}
	rr := &realReceiver{}
	if err := h2.Do(func() (err error) {
		rr.sock, err = vrrp.Listen(vrrp.SocketConfig{Interface: h2.Link})
		return err
	}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rr.sock.Close() })
	for i, src := range []netip.Addr{h1.Addr4.Addr(), second} {
		rr.senders[i] = newRawSender(tb, h1, src, h2.Addr4.Addr())
	}
	return rr
}

// signalConn is a Conn that signals on back each time its reader comes
// back for the next message: the Router's reader has handed the previous
// one to its loop.
type signalConn struct {
	vrrp.Conn
	back chan struct{}
}

func (c *signalConn) ReadAdvert(ctx context.Context, b []byte) (int, vrrp.PacketInfo, error) {
	select {
	case c.back <- struct{}{}:
	default:
	}
	return c.Conn.ReadAdvert(ctx, b)
}

// routerRig is a backup Router (VRID 52, priority 100) hearing two masters
// of equal priority in turn: round delivers the next one's advert and
// waits until the Router took it.
type routerRig struct {
	r       *vrrp.Router
	conn    *signalConn
	deliver func(i int) // delivers master i's advert to conn
	srcs    [2]netip.Addr
	i       int
	timer   *time.Timer
}

const rigVRID = 52

func newRouterRig(tb testing.TB, conn vrrp.Conn, timers vrrp.Timers, srcs [2]netip.Addr, deliver func(int)) *routerRig {
	tb.Helper()
	rig := &routerRig{conn: &signalConn{Conn: conn, back: make(chan struct{}, 1)}, deliver: deliver, srcs: srcs,
		timer: time.NewTimer(time.Hour)}
	var err error
	rig.r, err = vrrp.NewRouter(rig.conn, vrrptest.NewAddrs(), &vrrptest.Announcer{}, vrrp.Config{
		VRID: rigVRID, Version: vrrp.V3, Priority: 100, Interval: 10 * time.Second,
		VIPs: []netip.Prefix{vip}, InitialState: vrrp.Backup})
	if err != nil {
		tb.Fatal(err)
	}
	if err := rig.r.SetTimers(timers); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { rig.r.Run(ctx) })
	tb.Cleanup(func() { cancel(); wg.Wait(); rig.timer.Stop() })
	<-rig.conn.back // the reader's first call
	rig.round(tb)   // the router is running and backing up a master
	return rig
}

func (rig *routerRig) round(tb testing.TB) {
	rig.i ^= 1
	rig.deliver(rig.i)
	// The reader is back for the next advert; then the loop is done with
	// this one when the status shows its sender.
	rig.timer.Reset(5 * time.Second)
	select {
	case <-rig.conn.back:
	case <-rig.timer.C:
		tb.Fatalf("the router never read the advert from %v: %+v", rig.srcs[rig.i], rig.r.Stats())
	}
	rig.timer.Stop()
	for spins := 0; rig.r.Status().Master != rig.srcs[rig.i]; spins++ {
		if spins > 10_000_000 {
			tb.Fatalf("the router never took the advert from %v: %+v", rig.srcs[rig.i], rig.r.Stats())
		}
		runtime.Gosched()
	}
}

// feedConn is an in-memory Conn that delivers what is put in in.
type feedConn struct {
	in chan feedMsg
}

type feedMsg struct {
	b    []byte
	info vrrp.PacketInfo
}

func (c *feedConn) ReadAdvert(ctx context.Context, b []byte) (int, vrrp.PacketInfo, error) {
	select {
	case m := <-c.in:
		return copy(b, m.b), m.info, nil
	case <-ctx.Done():
		return 0, vrrp.PacketInfo{}, ctx.Err()
	}
}

func (c *feedConn) WriteAdvert(context.Context, []byte, netip.Addr) error { return nil }
func (c *feedConn) LocalAddr() netip.Addr                                 { return ourAddr }

// TestRouterReceiveNoAllocs: a backup Router reading, validating and
// stepping its machine for an advert allocates nothing, with Go timers
// and with precise ones, nor for one it drops (TTL 64, logged at debug
// level, which is off).
func TestRouterReceiveNoAllocs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		timers vrrp.Timers
		drops  bool
	}{
		{"go_timers", vrrp.Timers{}, false},
		{"precise_timers", vrrp.Timers{Precise: true}, false},
		{"drops", vrrp.Timers{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := &feedConn{in: make(chan feedMsg, 1)}
			srcs := [2]netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.11")}
			var msgs [2]feedMsg
			for i, src := range srcs {
				msgs[i] = feedMsg{b: benchAdvert(t, rigVRID, src, vrrp.GroupV4),
					info: vrrp.PacketInfo{Src: src, Dst: vrrp.GroupV4, TTL: vrrp.TTL, IfIndex: 2}}
			}
			rig := newRouterRig(t, conn, tc.timers, srcs, func(i int) {
				m := msgs[i]
				m.info.Time = time.Now()
				if tc.drops {
					bad := m
					bad.info.TTL = 64
					conn.in <- bad
				}
				conn.in <- m
			})
			const runs = 1000
			if allocs := testing.AllocsPerRun(runs, func() { rig.round(t) }); allocs != 0 {
				t.Errorf("%v allocations per advert, want 0", allocs)
			}
			st := rig.r.Stats()
			if st.AdvertsReceived != runs+2 || st.Transitions != 1 {
				t.Errorf("stats %+v, want %d adverts received and one transition (to BACKUP)", st, runs+2)
			}
			if want := map[bool]uint64{true: runs + 2}[tc.drops]; st.Drop(vrrp.DropTTL) != want || len(st.Drops) > 1 {
				t.Errorf("drops %v, want %d for TTL", st.Drops, want)
			}
		})
	}
}

// TestReceiveNoAllocs: on a real raw socket (network namespaces, root),
// an advert allocates nothing from the socket to a SocketConn's reader,
// nor from the socket to a backup Router's machine.
func TestReceiveNoAllocs(t *testing.T) {
	rr := newRealReceiver(t)
	t.Run("conn", func(t *testing.T) {
		one := rr.connRound(t)
		if allocs := testing.AllocsPerRun(500, one); allocs != 0 {
			t.Errorf("%v allocations per advert, want 0", allocs)
		}
	})
	t.Run("router", func(t *testing.T) {
		rig := rr.routerRig(t)
		if allocs := testing.AllocsPerRun(500, func() { rig.round(t) }); allocs != 0 {
			t.Errorf("%v allocations per advert, want 0", allocs)
		}
	})
	if st := rr.sock.Stats(); st.Received != st.Delivered || st.ReadErrors != 0 {
		t.Errorf("socket stats %+v, want every message delivered", st)
	}
}

// connRound returns a func that sends an advert from the first sender
// and reads it from a Conn (VRID 51) of the socket.
func (rr *realReceiver) connRound(tb testing.TB) func() {
	conn, err := rr.sock.Conn(51, vrrp.ConnConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	pkt := benchAdvert(tb, 51, rr.senders[0].src, rr.senders[0].dst)
	buf := make([]byte, 2048)
	ctx := context.Background()
	return func() {
		rr.senders[0].send(tb, pkt)
		if _, _, err := conn.ReadAdvert(ctx, buf); err != nil {
			tb.Fatal(err)
		}
	}
}

// routerRig is a backup Router with precise timers (as vigil.Host runs
// it) on a Conn of the socket, fed by the two senders.
func (rr *realReceiver) routerRig(tb testing.TB) *routerRig {
	sc, err := rr.sock.Conn(rigVRID, vrrp.ConnConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sc.Close() })
	var pkts [2][]byte
	var srcs [2]netip.Addr
	for i, s := range rr.senders {
		pkts[i], srcs[i] = benchAdvert(tb, rigVRID, s.src, s.dst), s.src
	}
	return newRouterRig(tb, sc, vrrp.Timers{Precise: true}, srcs, func(i int) { rr.senders[i].send(tb, pkts[i]) })
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReceive measures the receive path of a backup per advert, over
// a real raw socket in network namespaces (root only): one op is one
// advert sent on the veth pair and received.
//
//   - conn: the Socket's reader (recvmsg, control messages, dispatch by
//     VRID) and SocketConn.ReadAdvert.
//   - router: all of that, then a backup Router with precise timers (as
//     vigil.Host runs it) reading, validating and stepping its machine;
//     the op ends when Router.Status shows the advert's sender as master
//     (two senders alternate).
//
// ns/op is the latency of one advert through the path, wake-ups
// included; cpu-ns/op the CPU time of the whole process per advert, the
// sender's syscall (in which the kernel also delivers the packet)
// included; allocs/op counts the whole process (the senders do not
// allocate).
func BenchmarkReceive(b *testing.B) {
	rr := newRealReceiver(b)
	b.Run("conn", func(b *testing.B) {
		one := rr.connRound(b)
		b.ReportAllocs()
		cpu := processCPU(b)
		for b.Loop() {
			one()
		}
		b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
	})
	b.Run("router", func(b *testing.B) {
		rig := rr.routerRig(b)
		b.ReportAllocs()
		cpu := processCPU(b)
		for b.Loop() {
			rig.round(b)
		}
		b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
	})
}

// A Router on a SocketConn reads it in its own loop (no reader
// goroutine: Run starts only its precise timer's), and a backup's advert
// from the socket to its machine allocates nothing on that path either.
// When the Conn closes, Run stops with an error wrapping net.ErrClosed.
func TestRouterInlineConn(t *testing.T) {
	rr := newRealReceiver(t)
	sc, err := rr.sock.Conn(rigVRID, vrrp.ConnConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var pkts [2][]byte
	for i, s := range rr.senders {
		pkts[i] = benchAdvert(t, rigVRID, s.src, s.dst)
	}
	r, err := vrrp.NewRouter(sc, vrrptest.NewAddrs(), &vrrptest.Announcer{}, vrrp.Config{
		VRID: rigVRID, Version: vrrp.V3, Priority: 100, Interval: 10 * time.Second,
		VIPs: []netip.Prefix{vip}, InitialState: vrrp.Backup})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetTimers(vrrp.Timers{Precise: true}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	i := 0
	round := func() {
		i ^= 1
		rr.senders[i].send(t, pkts[i])
		want := rr.senders[i].src
		for deadline := time.Now().Add(5 * time.Second); r.Status().Master != want; {
			if time.Now().After(deadline) {
				t.Fatalf("the router did not take the advert of %v: %+v", want, r.Status())
			}
			// Parked, not spinning: a spinning goroutine keeps the
			// scheduler from polling the network (10 ms per round).
			time.Sleep(20 * time.Microsecond)
		}
	}
	round()
	round()
	// Counted from Run's goroutine down: runtime.NumGoroutine would count
	// what earlier tests left to end on their own.
	if n := goroutines.Under("vrrp.(*Router).Run("); n != 2 {
		t.Errorf("Run runs %d goroutines, want 2 (itself and its precise timer's reader)", n)
	}
	if allocs := testing.AllocsPerRun(300, round); allocs != 0 {
		t.Errorf("%v allocations per advert, want 0", allocs)
	}
	sc.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Run after its Conn closed: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its Conn closed")
	}
}
