//go:build linux

package vrrp

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/vigil-ha/vigil/internal/nstest"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// oldControl is how the receive path read control data before
// parseControl: x/net's ControlMessage.Parse for the TTL or hop limit,
// the destination and the interface, unix.ParseSocketControlMessage for
// the timestamp. xnetOK and unixOK are whether each accepted oob. oob
// must be aligned to the word size (both cast it to struct cmsghdr).
func oldControl(oob []byte, v6 bool) (c rxControl, xnetOK, unixOK bool) {
	if v6 {
		var cm ipv6.ControlMessage
		if xnetOK = cm.Parse(oob) == nil; xnetOK {
			c.ttl, c.ifIndex = uint8(cm.HopLimit), cm.IfIndex
			c.dst, _ = netip.AddrFromSlice(cm.Dst)
		}
	} else {
		var cm ipv4.ControlMessage
		if xnetOK = cm.Parse(oob) == nil; xnetOK {
			c.ttl, c.ifIndex = uint8(cm.TTL), cm.IfIndex
			c.dst, _ = netip.AddrFromSlice(cm.Dst)
		}
	}
	c.dst = c.dst.Unmap()
	msgs, err := unix.ParseSocketControlMessage(oob)
	unixOK = err == nil
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_TIMESTAMPNS {
			continue
		}
		switch {
		case unsafe.Sizeof(unix.Timespec{}) == 16 && len(m.Data) >= 16:
			c.time = time.Unix(int64(binary.NativeEndian.Uint64(m.Data[0:])), int64(binary.NativeEndian.Uint64(m.Data[8:])))
		case unsafe.Sizeof(unix.Timespec{}) == 8 && len(m.Data) >= 8:
			c.time = time.Unix(int64(int32(binary.NativeEndian.Uint32(m.Data[0:]))), int64(binary.NativeEndian.Uint32(m.Data[4:])))
		default:
			continue
		}
		c.hasTime = true
		break
	}
	return c, xnetOK, unixOK
}

// aligned returns a copy of b whose first byte is aligned to 8 bytes (a
// fresh small []byte need not be, and the old parsers cast it).
func aligned(b []byte) []byte {
	w := make([]uint64, (len(b)+7)/8+1)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), len(w)*8)[:len(b):len(b)]
}

func alignedCopy(b []byte) []byte {
	a := aligned(b)
	copy(a, b)
	return a
}

// agree checks that parseControl and the old parsers read oob alike, and
// returns parseControl's result.
func agree(t *testing.T, oob []byte, v6 bool) (rxControl, bool) {
	t.Helper()
	oob = alignedCopy(oob)
	got, ok := parseControl(oob, v6)
	old, xnetOK, unixOK := oldControl(oob, v6)
	if ok != xnetOK || ok != unixOK {
		t.Fatalf("v6=%v %x: parseControl ok=%v, x/net ok=%v, unix ok=%v", v6, oob, ok, xnetOK, unixOK)
	}
	if ok && !sameControl(got, old) {
		t.Fatalf("v6=%v %x:\nparseControl %+v\nold          %+v", v6, oob, got, old)
	}
	return got, ok
}

func sameControl(a, b rxControl) bool {
	return a.ttl == b.ttl && a.ifIndex == b.ifIndex && a.dst == b.dst && a.hasTime == b.hasTime && a.time.Equal(b.time)
}

// cmsg is one control message for buildControl.
type cmsg struct {
	level, typ int
	data       []byte
	len        int  // cmsg_len if > 0, 0 if < 0; else the header's and data's length
	unpadded   bool // no padding after the data
}

// buildControl lays msgs out as the kernel would on a platform of
// layout lay (native byte order).
func buildControl(lay cmsgLayout, msgs ...cmsg) []byte {
	align := func(n int) int { return (n + lay.align - 1) &^ (lay.align - 1) }
	hl := align(lay.lenSize + 8)
	var b []byte
	for _, m := range msgs {
		h := make([]byte, hl)
		l := m.len
		switch {
		case l == 0:
			l = hl + len(m.data)
		case l < 0:
			l = 0
		}
		if lay.lenSize == 8 {
			binary.NativeEndian.PutUint64(h, uint64(l))
		} else {
			binary.NativeEndian.PutUint32(h, uint32(l))
		}
		binary.NativeEndian.PutUint32(h[lay.lenSize:], uint32(int32(m.level)))
		binary.NativeEndian.PutUint32(h[lay.lenSize+4:], uint32(int32(m.typ)))
		b = append(append(b, h...), m.data...)
		if !m.unpadded {
			b = append(b, make([]byte, align(len(m.data))-len(m.data))...)
		}
	}
	return b
}

var (
	lay64 = cmsgLayout{lenSize: 8, align: 8, timespec: 16}
	lay32 = cmsgLayout{lenSize: 4, align: 4, timespec: 8}
)

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func ts(lay cmsgLayout, t time.Time) []byte {
	if lay.timespec == 16 {
		return binary.NativeEndian.AppendUint64(binary.NativeEndian.AppendUint64(nil, uint64(t.Unix())), uint64(t.Nanosecond()))
	}
	return binary.NativeEndian.AppendUint32(binary.NativeEndian.AppendUint32(nil, uint32(t.Unix())), uint32(t.Nanosecond()))
}

func pktinfo4(ifIndex int32, spec, dst netip.Addr) []byte {
	b := u32(uint32(ifIndex))
	b = append(b, spec.AsSlice()...)
	return append(b, dst.AsSlice()...)
}

func pktinfo6(dst netip.Addr, ifIndex int32) []byte {
	a := dst.As16()
	return append(a[:], u32(uint32(ifIndex))...)
}

// controlCases are hand-built control data for layout lay and what
// parseControl must make of it.
func controlCases(lay cmsgLayout) []struct {
	name string
	v6   bool
	oob  []byte
	want rxControl
	ok   bool
} {
	at := time.Unix(1700000000, 123456789)
	later := at.Add(time.Second)
	d4, spec4 := netip.MustParseAddr("224.0.0.18"), netip.MustParseAddr("192.0.2.2")
	d6 := netip.MustParseAddr("ff02::12")
	ttl4 := cmsg{level: unix.IPPROTO_IP, typ: unix.IP_TTL, data: u32(255)}
	pi4 := cmsg{level: unix.IPPROTO_IP, typ: unix.IP_PKTINFO, data: pktinfo4(3, spec4, d4)}
	hop6 := cmsg{level: unix.IPPROTO_IPV6, typ: unix.IPV6_HOPLIMIT, data: u32(255)}
	pi6 := cmsg{level: unix.IPPROTO_IPV6, typ: unix.IPV6_PKTINFO, data: pktinfo6(d6, 7)}
	stamp := cmsg{level: unix.SOL_SOCKET, typ: unix.SCM_TIMESTAMPNS, data: ts(lay, at)}
	full4 := rxControl{ttl: 255, ifIndex: 3, dst: d4, time: at, hasTime: true}
	full6 := rxControl{ttl: 255, ifIndex: 7, dst: d6, time: at, hasTime: true}
	b := func(msgs ...cmsg) []byte { return buildControl(lay, msgs...) }
	hl := (lay.lenSize + 8 + lay.align - 1) &^ (lay.align - 1)
	with := func(m cmsg, f func(*cmsg)) cmsg { f(&m); return m }
	return []struct {
		name string
		v6   bool
		oob  []byte
		want rxControl
		ok   bool
	}{
		{"empty", false, nil, rxControl{}, true},
		{"IPv4 as the kernel orders it", false, b(stamp, pi4, ttl4), full4, true},
		{"IPv4 other order", false, b(ttl4, pi4, stamp), full4, true},
		{"IPv6 as the kernel orders it", true, b(stamp, pi6, hop6), full6, true},
		{"IPv6 v4-mapped destination", true, b(with(pi6, func(m *cmsg) {
			m.data = pktinfo6(netip.MustParseAddr("::ffff:192.0.2.9"), 7)
		})), rxControl{ifIndex: 7, dst: netip.MustParseAddr("192.0.2.9")}, true},
		{"IPv4 messages on an IPv6 socket are not read", true, b(ttl4, pi4, stamp), rxControl{time: at, hasTime: true}, true},
		{"IPv6 messages on an IPv4 socket are not read", false, b(hop6, pi6), rxControl{}, true},
		{"unknown levels and types, odd lengths", false, b(
			cmsg{level: unix.IPPROTO_IP, typ: unix.IP_TOS, data: []byte{0xc0}},
			ttl4,
			cmsg{level: 99, typ: 1, data: []byte{1, 2, 3}},
			pi4,
			cmsg{level: unix.SOL_SOCKET, typ: unix.SCM_TIMESTAMP, data: make([]byte, 16)},
			stamp,
			cmsg{level: unix.IPPROTO_IP, typ: 99},
		), full4, true},
		{"the last TTL and packet info, the first timestamp", false, b(
			with(ttl4, func(m *cmsg) { m.data = u32(1) }), with(pi4, func(m *cmsg) { m.data = pktinfo4(9, spec4, spec4) }),
			stamp, ttl4, pi4, with(stamp, func(m *cmsg) { m.data = ts(lay, later) }),
		), full4, true},
		{"TTL's low byte", false, b(with(ttl4, func(m *cmsg) { m.data = u32(0x1ff) })), rxControl{ttl: 255}, true},
		{"negative interface", false, b(with(pi4, func(m *cmsg) { m.data = pktinfo4(-2, spec4, d4) })),
			rxControl{ifIndex: -2, dst: d4}, true},
		{"data too short for what it carries is skipped", false, b(
			with(ttl4, func(m *cmsg) { m.data = []byte{255, 0} }),
			with(pi4, func(m *cmsg) { m.data = m.data[:8] }),
			with(stamp, func(m *cmsg) { m.data = m.data[:lay.timespec-1] }),
		), rxControl{}, true},
		{"IPv6 data too short", true, b(
			with(hop6, func(m *cmsg) { m.data = m.data[:3] }), with(pi6, func(m *cmsg) { m.data = m.data[:16] }),
		), rxControl{}, true},
		{"longer data than needed", true, b(
			with(hop6, func(m *cmsg) { m.data = append(u32(255), 1, 2, 3, 4) }),
			with(pi6, func(m *cmsg) { m.data = append(pktinfo6(d6, 7), 9, 9, 9, 9, 9) }),
		), rxControl{ttl: 255, ifIndex: 7, dst: d6}, true},
		{"the last message unpadded", false, b(stamp, pi4, with(ttl4, func(m *cmsg) { m.data = []byte{255, 0, 0} }),
			with(ttl4, func(m *cmsg) { m.unpadded = true; m.data = append(u32(255), 7) })),
			full4, true},
		{"trailing bytes too few for a header are ignored", false, append(b(ttl4), make([]byte, hl-1)...),
			rxControl{ttl: 255}, true},
		{"a header without data", false, b(cmsg{level: unix.IPPROTO_IP, typ: unix.IP_TTL}, ttl4), rxControl{ttl: 255}, true},
		{"cmsg_len 0", false, b(ttl4, with(pi4, func(m *cmsg) { m.len = -1 })), rxControl{}, false},
		{"cmsg_len shorter than the header", false, b(with(ttl4, func(m *cmsg) { m.len = hl - 1 }), pi4), rxControl{}, false},
		{"cmsg_len past the end (truncated)", false, b(ttl4, with(pi4, func(m *cmsg) { m.len = len(b(pi4)) + 1 })),
			rxControl{}, false},
		{"the buffer cut inside the data", false, b(ttl4, stamp)[:2*hl+lay.align+4], rxControl{}, false},
		{"cmsg_len huge", true, b(with(hop6, func(m *cmsg) { m.len = 1 << 30 })), rxControl{}, false},
	}
}

// TestParseControl: hand-built control data in this platform's layout
// and the other word size's, and on this platform the old parsers agree.
func TestParseControl(t *testing.T) {
	for _, lay := range []cmsgLayout{lay64, lay32} {
		native := lay == nativeCmsg()
		for _, tc := range controlCases(lay) {
			name := tc.name + "/" + map[bool]string{true: "64-bit", false: "32-bit"}[lay.lenSize == 8]
			t.Run(name, func(t *testing.T) {
				oob := tc.oob
				got, ok := parseControlIn(lay, oob, tc.v6)
				if ok != tc.ok || !sameControl(got, tc.want) {
					t.Errorf("parseControlIn(%x) = %+v, %v; want %+v, %v", oob, got, ok, tc.want, tc.ok)
				}
				// Alignment does not matter to it.
				odd := make([]byte, len(oob)+1)[1:]
				copy(odd, oob)
				if got2, ok2 := parseControlIn(lay, odd, tc.v6); ok2 != ok || !sameControl(got2, got) {
					t.Errorf("misaligned: %+v, %v; aligned: %+v, %v", got2, ok2, got, ok)
				}
				if native {
					agree(t, oob, tc.v6)
				}
			})
		}
	}
}

// capturedControl is control data the kernel (Linux 6.18, amd64) returned
// to a socket set up as Listen sets it up, captured by
// TestParseControlKernel (go test -v -run TestParseControlKernel logs it):
// the receive timestamp, then IP_PKTINFO and IP_TTL or IPV6_PKTINFO and
// IPV6_HOPLIMIT. Host 2 of nstest's segment (interface 2) received from
// host 1.
var capturedControl = []struct {
	name string
	v6   bool
	hex  string
	want rxControl
}{
	{"IPv4 multicast", false,
		"20000000000000000100000023000000ccc20f6b000000004b13db0500000000" +
			"1c00000000000000000000000800000002000000c0000202e000001200000000" +
			"14000000000000000000000002000000ff00000000000000",
		rxControl{ttl: 255, ifIndex: 2, dst: netip.MustParseAddr("224.0.0.18"),
			time: time.Unix(1796195020, 98243403), hasTime: true}},
	{"IPv4 unicast", false,
		"20000000000000000100000023000000ccc20f6b00000000af5bf80500000000" +
			"1c00000000000000000000000800000002000000c0000202c000020200000000" +
			"14000000000000000000000002000000ff00000000000000",
		rxControl{ttl: 255, ifIndex: 2, dst: netip.MustParseAddr("192.0.2.2"),
			time: time.Unix(1796195020, 100162479), hasTime: true}},
	{"IPv6 multicast", true,
		"20000000000000000100000023000000ccc20f6b00000000d673130600000000" +
			"24000000000000002900000032000000ff020000000000000000000000000012" +
			"0200000000000000" +
			"14000000000000002900000034000000ff00000000000000",
		rxControl{ttl: 255, ifIndex: 2, dst: netip.MustParseAddr("ff02::12"),
			time: time.Unix(1796195020, 101938134), hasTime: true}},
	{"IPv6 unicast", true,
		"20000000000000000100000023000000ccc20f6b000000006894340600000000" +
			"24000000000000002900000032000000fe80000000000000000000fffe000102" +
			"0200000000000000" +
			"14000000000000002900000034000000ff00000000000000",
		rxControl{ttl: 255, ifIndex: 2, dst: netip.MustParseAddr("fe80::ff:fe00:102"),
			time: time.Unix(1796195020, 104109160), hasTime: true}},
}

func littleEndian() bool { return binary.NativeEndian.Uint16([]byte{1, 0}) == 1 }

// TestParseControlCaptured: the captured control data reads as it did,
// with parseControl and the old parsers alike (little-endian 64-bit
// platforms: the bytes are amd64's).
func TestParseControlCaptured(t *testing.T) {
	if nativeCmsg() != lay64 || !littleEndian() {
		t.Skip("captured on a little-endian 64-bit platform")
	}
	for _, tc := range capturedControl {
		oob, err := hex.DecodeString(tc.hex)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := agree(t, oob, tc.v6)
		if !ok || !sameControl(got, tc.want) {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, ok, tc.want)
		}
	}
}

// TestParseControlKernel: control data from the kernel, on sockets set up
// as Listen sets them up, reads the same with parseControl as with the
// old parsers, and says what was sent: TTL 255, the destination, the
// interface and a receive time.
func TestParseControlKernel(t *testing.T) {
	seg := nstest.NewSegment(t, 2)
	h1, h2 := seg.Hosts[0], seg.Hosts[1]
	for _, tc := range []struct {
		name string
		v6   bool
		dst  netip.Addr
	}{
		{"IPv4 multicast", false, GroupV4},
		{"IPv4 unicast", false, h2.Addr4.Addr()},
		{"IPv6 multicast", true, GroupV6},
		{"IPv6 unicast", true, h2.LinkLocal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tx *Socket
			if err := h1.Do(func() (err error) {
				tx, err = Listen(SocketConfig{Interface: h1.Link, IPv6: tc.v6})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer tx.Close()
			conn, err := tx.Conn(51, ConnConfig{})
			if err != nil {
				t.Fatal(err)
			}
			// The receiver: a raw socket set up as Listen does, read
			// here instead of by a Socket's reader.
			var c net.PacketConn
			var ifi *net.Interface
			network, laddr := "ip4:112", "0.0.0.0"
			if tc.v6 {
				network, laddr = "ip6:112", "::"
			}
			if err := h2.Do(func() (err error) {
				if ifi, err = net.InterfaceByName(h2.Link); err != nil {
					return err
				}
				c, err = net.ListenPacket(network, laddr)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s := &Socket{cfg: SocketConfig{Interface: h2.Link, IPv6: tc.v6}, ifi: ifi}
			s.index.Store(int32(ifi.Index))
			if err := s.setup(c); err != nil {
				t.Fatal(err)
			}
			if tc.dst.IsMulticast() {
				if err := s.join(tc.dst); err != nil {
					t.Fatal(err)
				}
			}
			r, err := newRecvmsg(c, tc.v6)
			if err != nil {
				t.Fatal(err)
			}
			src := h1.Addr4.Addr()
			if tc.v6 {
				src = h1.LinkLocal
			}
			a := Advertisement{Version: V3, VRID: 51, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{src}}
			pkt, err := a.Marshal(src, tc.dst)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			sent := time.Now()
			if err := conn.WriteAdvert(context.Background(), pkt, tc.dst); err != nil {
				t.Fatal(err)
			}
			// Read the next message to us (IPv6 multicast may bring
			// others, e.g. MLD reports are not ours: protocol 112 only).
			if err := r.rc.Read(r.read); err != nil {
				t.Fatal(err)
			}
			if r.errno != 0 {
				t.Fatal(r.errno)
			}
			oob := bytes.Clone(r.oob[:r.oobn])
			t.Logf("control data: %x", oob)
			got, ok := agree(t, oob, tc.v6)
			if !ok || got.ttl != TTL || got.dst != tc.dst || got.ifIndex != ifi.Index || !got.hasTime {
				t.Errorf("%+v, %v; want TTL %d, dst %v, interface %d and a time", got, ok, TTL, tc.dst, ifi.Index)
			}
			if d := got.time.Sub(sent); d < -time.Second || d > 5*time.Second {
				t.Errorf("receive time %v is %v from the send", got.time, d)
			}
			b, info := parseMsg(r.buf[:r.n], oob, rawSockaddrAddr(r.from[:r.hdr.Namelen]), tc.v6, time.Now())
			if !bytes.Equal(b, pkt) || info.Src != src || info.Dst != tc.dst || info.TTL != TTL {
				t.Errorf("parseMsg = %x, %+v; want %x from %v to %v", b, info, pkt, src, tc.dst)
			}
		})
	}
}

// FuzzParseCmsg: parseControl never panics, and accepts what
// unix.ParseSocketControlMessage and x/net accept, reading it alike.
func FuzzParseCmsg(f *testing.F) {
	for _, lay := range []cmsgLayout{nativeCmsg()} {
		for _, tc := range controlCases(lay) {
			f.Add(tc.oob, tc.v6)
		}
	}
	for _, tc := range capturedControl {
		if b, err := hex.DecodeString(tc.hex); err == nil {
			f.Add(b, tc.v6)
		}
	}
	f.Fuzz(func(t *testing.T, oob []byte, v6 bool) {
		got, ok := parseControl(oob, v6) // as given: any alignment
		parseControlIn(lay32, oob, v6)   // the other layout must not panic either
		agreed, agreedOK := agree(t, oob, v6)
		if ok != agreedOK || !sameControl(got, agreed) {
			t.Fatalf("misaligned %+v, %v; aligned %+v, %v", got, ok, agreed, agreedOK)
		}
	})
}
