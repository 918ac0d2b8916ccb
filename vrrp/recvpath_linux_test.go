//go:build linux

package vrrp

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sys/unix"
)

// testSocket is a Socket without a raw socket, for dispatch: its Conns
// are multicast ones that need not join the group.
func testSocket(v6 bool) *Socket {
	primary := netip.MustParseAddr("192.0.2.2")
	if v6 {
		primary = netip.MustParseAddr("fe80::ff:fe00:102")
	}
	return &Socket{cfg: SocketConfig{Interface: "eth0", IPv6: v6}, ifi: &net.Interface{Index: 2, Name: "eth0"},
		primary: primary, done: make(chan struct{}), conns: map[uint8]*SocketConn{},
		joined: []netip.Addr{mcastGroup(netip.Addr{}, v6)}}
}

// received is one message as recvmsg returns it: the payload (with the
// IPv4 header on an IPv4 socket), the raw sockaddr of the sender and the
// control data the kernel gave it (capturedControl).
type received struct {
	v6      bool
	payload []byte // the VRRP message
	msg     []byte // what recvmsg read
	from    []byte // struct sockaddr_in or sockaddr_in6
	oob     []byte
	src     netip.Addr
	want    rxControl
}

func capturedMessage(tb testing.TB, i int) received {
	tb.Helper()
	c := capturedControl[i]
	oob, err := hex.DecodeString(c.hex)
	if err != nil {
		tb.Fatal(err)
	}
	r := received{v6: c.v6, oob: oob, want: c.want}
	if c.v6 {
		r.src = netip.MustParseAddr("fe80::ff:fe00:101")
	} else {
		r.src = netip.MustParseAddr("192.0.2.1")
	}
	a := Advertisement{Version: V3, VRID: 51, Priority: 200, Interval: time.Second, Addrs: []netip.Addr{r.src}}
	if r.payload, err = a.Marshal(r.src, c.want.dst); err != nil {
		tb.Fatal(err)
	}
	if c.v6 {
		r.msg = r.payload
		r.from = make([]byte, unix.SizeofSockaddrInet6)
		binary.NativeEndian.PutUint16(r.from, unix.AF_INET6)
		copy(r.from[8:], r.src.AsSlice())
	} else {
		ip := []byte{0x45, 0xc0, 0, byte(20 + len(r.payload)), 0, 0, 0x40, 0, TTL, 112, 0, 0}
		ip = append(append(ip, r.src.AsSlice()...), c.want.dst.AsSlice()...)
		r.msg = append(ip, r.payload...)
		r.from = make([]byte, unix.SizeofSockaddrInet4)
		binary.NativeEndian.PutUint16(r.from, unix.AF_INET)
		copy(r.from[4:], r.src.AsSlice())
	}
	return r
}

// pathRig takes a captured message from what recvmsg returned to a
// Conn's reader: the sender's address, the IP header, the control data,
// dispatch by VRID, the Conn's queue and ReadAdvert.
type pathRig struct {
	received
	s    *Socket
	conn *SocketConn
	buf  []byte
}

func newPathRig(tb testing.TB, i int) *pathRig {
	tb.Helper()
	r := capturedMessage(tb, i)
	s := testSocket(r.v6)
	conn, err := s.Conn(51, ConnConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &pathRig{received: r, s: s, conn: conn, buf: make([]byte, 2048)}
}

// dispatch hands the message to the socket's dispatch n times.
func (p *pathRig) dispatch(n int) {
	b, info := parseMsg(p.msg, p.oob, rawSockaddrAddr(p.from), p.v6, time.Now())
	for range n {
		p.s.dispatch(b, info)
	}
}

// read reads a message from the Conn into p.buf.
func (p *pathRig) read(tb testing.TB) (int, PacketInfo) {
	n, info, err := p.conn.ReadAdvert(context.Background(), p.buf)
	if err != nil {
		tb.Fatal(err)
	}
	return n, info
}

// TestReceivePathNoAllocs: from what recvmsg returned to the bytes in the
// Router's buffer, a message allocates nothing once its Conn has a
// buffer, also when the Conn's queue fills before it is read.
func TestReceivePathNoAllocs(t *testing.T) {
	for i, c := range capturedControl {
		t.Run(c.name, func(t *testing.T) {
			p := newPathRig(t, i)
			var n int
			var info PacketInfo
			if allocs := testing.AllocsPerRun(1000, func() { p.dispatch(1); n, info = p.read(t) }); allocs != 0 {
				t.Errorf("%v allocations per message, want 0", allocs)
			}
			if !bytes.Equal(p.buf[:n], p.payload) {
				t.Errorf("read %x, want %x", p.buf[:n], p.payload)
			}
			if info.Src != p.src || info.Dst != p.want.dst || info.TTL != TTL || info.IfIndex != p.want.ifIndex {
				t.Errorf("info %+v, want from %v to %v, TTL %d, interface %d", info, p.src, p.want.dst, TTL, p.want.ifIndex)
			}
			if st := p.s.Stats(); st.Delivered != 1001 || st.Short+st.UnknownVRID+st.QueueFull != 0 {
				t.Errorf("socket stats %+v, want 1001 delivered and nothing else", st)
			}
			// A full queue's worth at once, then read (a Router that was
			// busy) reuses the buffers of the last burst.
			burst := func() {
				p.dispatch(DefaultQueue)
				for range DefaultQueue {
					p.read(t)
				}
			}
			if allocs := testing.AllocsPerRun(10, burst); allocs != 0 {
				t.Errorf("%v allocations per burst of %d, want 0", allocs, DefaultQueue)
			}
		})
	}
}

// TestSocketConnQueue: messages wait in a Conn's queue in buffers it
// reuses, each intact until read, whatever their lengths; a full queue
// drops and counts the oldest, so the newest is read.
func TestSocketConnQueue(t *testing.T) {
	s := testSocket(false)
	const q = 4
	conn, err := s.Conn(7, ConnConfig{Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	buf := make([]byte, 5000)
	msg := func(i, n int) []byte {
		b := bytes.Repeat([]byte{byte(i)}, n)
		b[1] = 7 // the VRID
		return b
	}
	lengths := []int{20, 3, 40, 20, 5000, 4200, 20, 2}
	for round := range 3 {
		// Fill the queue and one more; the first is dropped.
		for i := range q + 1 {
			n := lengths[(round+i)%len(lengths)]
			s.dispatch(msg(round*10+i, n), PacketInfo{TTL: byte(i)})
		}
		for i := 1; i <= q; i++ {
			n, info, err := conn.ReadAdvert(ctx, buf)
			if err != nil {
				t.Fatal(err)
			}
			if want := msg(round*10+i, lengths[(round+i)%len(lengths)]); !bytes.Equal(buf[:n], want) || info.TTL != byte(i) {
				t.Fatalf("round %d, message %d: %d bytes %x…, TTL %d; want %d bytes of %d", round, i, n, buf[:min(n, 8)],
					info.TTL, len(want), want[0])
			}
		}
	}
	if st := s.Stats(); st.Delivered != 3*q || st.QueueFull != 3 {
		t.Errorf("stats %+v, want %d delivered, 3 dropped (queue full)", st, 3*q)
	}
	// Two buffers at most stay beyond the queue's.
	if len(conn.free) > q+2 {
		t.Errorf("%d free buffers, want ≤ %d", len(conn.free), q+2)
	}
	for range len(conn.free) {
		if m := <-conn.free; cap(m.b) > maxReuse {
			t.Errorf("a %d-byte buffer kept for reuse", cap(m.b))
		}
	}

	// A short read buffer gets the start of the message.
	s.dispatch(msg(9, 30), PacketInfo{})
	if n, _, err := conn.ReadAdvert(ctx, buf[:10]); err != nil || n != 10 || !bytes.Equal(buf[:10], msg(9, 30)[:10]) {
		t.Errorf("short read: %d, %v, %x", n, err, buf[:n])
	}

}

// TestSocketConnNoQueue: a Conn without a queue gets a message only while
// its reader waits.
func TestSocketConnNoQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := testSocket(false)
		conn, err := s.Conn(8, ConnConfig{Queue: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		m := []byte{0x31, 8, 100, 1, 0, 100, 0, 0}
		s.dispatch(m, PacketInfo{})
		if st := s.Stats(); st.QueueFull != 1 || st.Delivered != 0 {
			t.Errorf("no reader: stats %+v, want 1 dropped (queue full)", st)
		}
		got := make(chan []byte)
		go func() {
			b := make([]byte, 100)
			n, _, _ := conn.ReadAdvert(context.Background(), b)
			got <- b[:n]
		}()
		synctest.Wait() // the reader waits
		s.dispatch(m, PacketInfo{})
		if b := <-got; !bytes.Equal(b, m) {
			t.Errorf("read %x, want %x", b, m)
		}
		if st := s.Stats(); st.QueueFull != 1 || st.Delivered != 1 {
			t.Errorf("stats %+v, want 1 delivered", st)
		}
	})
}

// BenchmarkReceivePath: one message from what recvmsg returned to the
// bytes in the Router's buffer, as TestReceivePathNoAllocs (no syscalls,
// no other goroutine).
func BenchmarkReceivePath(b *testing.B) {
	for i, c := range capturedControl {
		b.Run(c.name, func(b *testing.B) {
			p := newPathRig(b, i)
			b.ReportAllocs()
			for b.Loop() {
				p.dispatch(1)
				p.read(b)
			}
		})
	}
}

// BenchmarkParseControl: the control data of a received advert, with
// parseControl and with what it replaced (x/net's ControlMessage.Parse and
// unix.ParseSocketControlMessage).
func BenchmarkParseControl(b *testing.B) {
	for _, c := range capturedControl {
		oob, err := hex.DecodeString(c.hex)
		if err != nil {
			b.Fatal(err)
		}
		oob = alignedCopy(oob)
		b.Run(c.name+"/new", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				parseControl(oob, c.v6)
			}
		})
		b.Run(c.name+"/old", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				oldControl(oob, c.v6)
			}
		})
	}
}

// TestSocketConnMemory: a Conn with the default queue costs a router
// little memory while nothing waits in it (the queue's messages are made
// as they arrive): 1,000 routers on one host each have one.
func TestSocketConnMemory(t *testing.T) {
	s := testSocket(false)
	const n = 200
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]*SocketConn, 0, n)
	for i := range n {
		c, err := s.Conn(uint8(i+1), ConnConfig{})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	runtime.ReadMemStats(&after)
	per := float64(after.TotalAlloc-before.TotalAlloc) / n
	t.Logf("%.0f bytes allocated per Conn (queue %d)", per, DefaultQueue)
	if per > 2048 {
		t.Errorf("%.0f bytes allocated per Conn, want at most 2 KiB", per)
	}
	// Messages come as they are needed and are reused: a steady stream
	// into every Conn keeps a couple each.
	for round := range 3 {
		for _, c := range conns {
			s.dispatch([]byte{0x31, c.vrid, byte(round)}, PacketInfo{})
			if m := <-c.q; m.b[2] != byte(round) {
				t.Fatalf("VRID %d: message %x", c.vrid, m.b)
			} else {
				c.reuse(m)
			}
		}
	}
	for _, c := range conns {
		if len(c.free) != 1 {
			t.Fatalf("VRID %d: %d free messages after 3 read one at a time, want 1", c.vrid, len(c.free))
		}
		c.Close()
	}
}
