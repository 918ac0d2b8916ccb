//go:build linux

package vrrp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"
	"unsafe"

	"github.com/vigil-ha/vigil/internal/nstest"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// TestRecvmsgKernelTimestamp: a message that waited in the socket is
// stamped with when the kernel received it, not when it was read, and its
// source, destination and TTL come through recvmsg.
func TestRecvmsgKernelTimestamp(t *testing.T) {
	nstest.Require(t)
	seg := nstest.NewSegment(t, 2)
	h1, h2 := seg.Hosts[0], seg.Hosts[1]

	var rx net.PacketConn
	if err := h2.Do(func() (err error) {
		rx, err = net.ListenPacket("ip4:112", "0.0.0.0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	if err := sockopt(rx, func(fd int) error {
		return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		t.Fatal(err)
	}
	if err := ipv4.NewPacketConn(rx).SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true); err != nil {
		t.Fatal(err)
	}

	var tx net.PacketConn
	if err := h1.Do(func() (err error) {
		tx, err = net.ListenPacket("ip4:112", "0.0.0.0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if err := ipv4.NewPacketConn(tx).SetTTL(TTL); err != nil {
		t.Fatal(err)
	}

	// The Socket's reader (mrecv), reading what is queued through
	// Control: its Read callback would wait for more.
	var got [][]byte
	var infos []PacketInfo
	r, err := newMrecv(rx, false, func(b []byte, info PacketInfo) {
		got, infos = append(got, bytes.Clone(b)), append(infos, info)
	})
	if err != nil {
		t.Fatal(err)
	}
	readMsg := func() ([]byte, PacketInfo, error) {
		got, infos = nil, nil
		if err := r.rc.Control(func(fd uintptr) { r.readAll(fd) }); err != nil {
			return nil, PacketInfo{}, err
		}
		if r.errno != 0 {
			return nil, PacketInfo{}, r.errno
		}
		if len(got) != 1 {
			return nil, PacketInfo{}, fmt.Errorf("%d messages read, want 1", len(got))
		}
		return got[0], infos[0], nil
	}
	payload := []byte{0x21, 51, 100, 1, 0, 1, 0, 0, 192, 0, 2, 100, 0, 0, 0, 0, 0, 0, 0, 0}
	// roundTrip sends one message, waits until it is queued on rx, and
	// reads it; stamped reports whether its time lies between the send and
	// the moment before the read (the kernel's receive time).
	roundTrip := func() (stamped bool) {
		t.Helper()
		sent := time.Now()
		if _, err := tx.WriteTo(payload, &net.IPAddr{IP: h2.Addr4.Addr().AsSlice()}); err != nil {
			t.Fatal(err)
		}
		queued := false
		for i := 0; i < 2000 && !queued; i++ {
			_ = sockopt(rx, func(fd int) error {
				n, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
				queued = err == nil && n > 0
				return nil
			})
			if !queued {
				time.Sleep(time.Millisecond)
			}
		}
		if !queued {
			t.Fatal("the message never reached the receiving socket")
		}
		// The message waits in the socket: from here on it is later than
		// its arrival.
		beforeRead := time.Now()
		b, info, err := readMsg()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, payload) {
			t.Errorf("payload %x, want %x (IP header not stripped?)", b, payload)
		}
		if info.Src != h1.Addr4.Addr() || info.Dst != h2.Addr4.Addr() || info.TTL != TTL || info.IfIndex == 0 {
			t.Errorf("info = %+v, want src %v dst %v TTL %d and an interface", info, h1.Addr4.Addr(), h2.Addr4.Addr(), TTL)
		}
		if info.Time.Before(sent) {
			t.Errorf("Time %v is before the send (%v)", info.Time.Format(time.StampMicro), sent.Format(time.StampMicro))
		}
		t.Logf("sent %v, stamped %v, read %v", sent.Format(time.StampMicro), info.Time.Format(time.StampMicro), beforeRead.Format(time.StampMicro))
		return info.Time.Before(beforeRead)
	}
	// When no socket of the system wanted receive timestamps before, the
	// kernel turns them on from a work queue (net_enable_timestamp's
	// netstamp_work), and until then stamps a message when it is read. So
	// the first messages may carry the read time; once one is stamped on
	// arrival, every later one must be.
	first := -1
	for i := range 50 {
		if roundTrip() {
			first = i
			break
		}
		time.Sleep(10 * time.Millisecond) // let the work queue run
	}
	if first < 0 {
		t.Fatal("50 messages were all stamped when read, none when received: not the kernel's receive time")
	}
	for i := range 5 {
		if !roundTrip() {
			t.Fatalf("message %d after the first stamped on arrival was stamped when read", i+1)
		}
	}
}

func TestRxTimestamp(t *testing.T) {
	ts := time.Unix(1700000000, 123456789)
	oob := make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{})))+unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_IP, unix.IP_TTL
	h.SetLen(unix.CmsgLen(4))
	first := unix.CmsgSpace(4)
	h = (*unix.Cmsghdr)(unsafe.Pointer(&oob[first]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
	h.SetLen(unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))))
	spec := unix.NsecToTimespec(ts.UnixNano())
	data := oob[first+unix.CmsgLen(0):]
	if unsafe.Sizeof(spec) == 16 {
		binary.NativeEndian.PutUint64(data, uint64(spec.Sec))
		binary.NativeEndian.PutUint64(data[8:], uint64(spec.Nsec))
	} else {
		binary.NativeEndian.PutUint32(data, uint32(spec.Sec))
		binary.NativeEndian.PutUint32(data[4:], uint32(spec.Nsec))
	}
	if c, ok := parseControl(oob, false); !ok || !c.hasTime || !c.time.Equal(ts) {
		t.Fatalf("parseControl = %+v, %v; want time %v", c, ok, ts)
	}
	if c, ok := parseControl(oob[:first], false); !ok || c.hasTime {
		t.Errorf("parseControl = %+v, %v: found a timestamp in a buffer without one", c, ok)
	}
	if c, _ := parseControl([]byte{1, 2, 3}, false); c.hasTime {
		t.Error("found a timestamp in garbage")
	}
}

func TestKernelTime(t *testing.T) {
	now := time.Now() // has a monotonic reading
	for _, tc := range []struct {
		name string
		ts   time.Time
		want time.Duration // now minus result
	}{
		{"300µs ago", now.Round(0).Add(-300 * time.Microsecond), 300 * time.Microsecond},
		{"in the future: clock stepped", now.Round(0).Add(time.Millisecond), 0},
		{"over a second ago: clock stepped", now.Round(0).Add(-2 * time.Second), 0},
	} {
		got := kernelTime(now, tc.ts)
		if d := now.Sub(got); d != tc.want {
			t.Errorf("%s: now − kernelTime = %v, want %v", tc.name, d, tc.want)
		}
	}
}

// The socket's receive buffer holds a burst from many VRIDs: the default is
// DefaultReceiveBuffer (the kernel reports twice what was set), negative
// leaves the kernel's default.
func TestListenReceiveBuffer(t *testing.T) {
	nstest.Require(t)
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	for _, tc := range []struct {
		set      int
		min, max int
	}{
		{0, 2 * DefaultReceiveBuffer, 2 * DefaultReceiveBuffer},
		{4 << 20, 8 << 20, 8 << 20},
		{-1, 1, DefaultReceiveBuffer - 1},
	} {
		var s *Socket
		if err := h.Do(func() (err error) {
			s, err = Listen(SocketConfig{Interface: h.Link, ReceiveBuffer: tc.set})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		var got int
		if err := sockopt(s.raw, func(fd int) (err error) {
			got, err = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if got < tc.min || got > tc.max {
			t.Errorf("ReceiveBuffer %d: SO_RCVBUF is %d, want %d..%d", tc.set, got, tc.min, tc.max)
		}
	}
}
