//go:build linux

package vrrp

import (
	"bytes"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// datagramPair returns the two ends of a Unix datagram socket pair, the
// reading one in the runtime's poller: a write is queued on the other end
// before it returns, which makes the reads' batches exact.
func datagramPair(t *testing.T) (rd net.PacketConn, wr int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fds[1], unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[0]), "rd")
	rd, err = net.FilePacketConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close(); unix.Close(fds[1]) })
	return rd, fds[1]
}

func writeMsg(t *testing.T, fd int, b []byte) {
	t.Helper()
	if _, err := unix.Write(fd, b); err != nil {
		t.Fatal(err)
	}
}

// The Socket's reader takes up to mrecvBatch messages a call, in order,
// and a call that returns fewer has emptied the socket: it makes no
// further call to learn that. A message too long for its buffer is
// handed on empty (a short one).
func TestMrecvBatches(t *testing.T) {
	rd, wr := datagramPair(t)
	var got [][]byte
	r, err := newMrecv(rd, true, func(b []byte, _ PacketInfo) { got = append(got, bytes.Clone(b)) })
	if err != nil {
		t.Fatal(err)
	}
	readQueued := func() {
		t.Helper()
		got = nil
		r.calls = 0
		if err := r.rc.Control(func(fd uintptr) {
			if r.readAll(fd) {
				t.Errorf("readAll: %v", r.errno)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ msgs, calls int }{
		{40, 3},               // 16, 16, 8: the 8 say the socket is empty
		{32, 3},               // 16, 16, then one that finds it empty
		{1, 1},                // one, alone
		{0, 1},                // nothing: one call
		{mrecvBatch - 1, 1},   // fewer than a batch
		{2 * mrecvBatch, 3},   // two full batches
		{5*mrecvBatch + 3, 6}, // five full, three
	} {
		for i := range c.msgs {
			writeMsg(t, wr, []byte{0x31, byte(i), byte(i >> 8)})
		}
		readQueued()
		if len(got) != c.msgs || r.calls != c.calls {
			t.Errorf("%d queued: %d read in %d calls, want %d in %d", c.msgs, len(got), r.calls, c.msgs, c.calls)
			continue
		}
		for i, b := range got {
			if !bytes.Equal(b, []byte{0x31, byte(i), byte(i >> 8)}) {
				t.Fatalf("%d queued: message %d is %x: not in order", c.msgs, i, b)
			}
		}
	}
	long := bytes.Repeat([]byte{0x31}, mrecvSize+100)
	writeMsg(t, wr, long)
	writeMsg(t, wr, []byte{0x31, 7})
	readQueued()
	if len(got) != 2 || len(got[0]) != 0 || !bytes.Equal(got[1], []byte{0x31, 7}) {
		t.Errorf("a message of %d bytes, then a short one: read %q, want an empty one, then the short", len(long), got)
	}
}

// The reader waits in the poller inside one Read: a message that arrives
// while it is still handing on the last batch (after the call that
// emptied the socket, before the wait) wakes the wait at once, and is
// not left until the next one comes. Run returns once the socket is
// closed.
func TestMrecvRunWakes(t *testing.T) {
	rd, wr := datagramPair(t)
	out := make(chan []byte, 16)
	hold := make(chan struct{})
	first := true
	r, err := newMrecv(rd, true, func(b []byte, _ PacketInfo) {
		if first {
			first = false
			out <- bytes.Clone(b)
			<-hold // the test writes the second message meanwhile
			return
		}
		out <- bytes.Clone(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.run(func(err error) { t.Errorf("read error: %v", err) }) }()
	recv := func(want byte) {
		t.Helper()
		select {
		case b := <-out:
			if len(b) != 1 || b[0] != want {
				t.Fatalf("read %x, want %x", b, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("message %x not read within 5 s", want)
		}
	}
	writeMsg(t, wr, []byte{1})
	recv(1)
	writeMsg(t, wr, []byte{2}) // the reader is in the hand-on of 1: past its call
	// Let the runtime's poller see 2 arrive while no one waits (an idle
	// scheduler polls the network), so that a wait whose readiness was
	// reset since would miss it. Correct code reads 2 either way.
	time.Sleep(2 * time.Millisecond)
	close(hold)
	recv(2)
	for i := byte(3); i < 10; i++ {
		writeMsg(t, wr, []byte{i})
		recv(i)
	}
	rd.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("run after close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after the socket was closed")
	}
}

// Each read gives every message the whole control buffer again: the
// kernel writes back how much of it a message used, and a message whose
// control data is longer than the last one's in the same slot must not
// come cut short. VRRP's own control data (TTL, packet info, timestamp)
// has one size, so the test passes file descriptors on a Unix socket
// pair, one and then eight, whose control data differ in size.
func TestReadersResetLengths(t *testing.T) {
	// rights passes fd n times.
	rights := func(fd, n int) []byte {
		fds := make([]int, n)
		for i := range fds {
			fds[i] = fd
		}
		return unix.UnixRights(fds...)
	}
	// got closes the descriptors oob passes and returns how many it did.
	got := func(t *testing.T, oob []byte) int {
		t.Helper()
		msgs, err := unix.ParseSocketControlMessage(oob)
		if err != nil {
			t.Fatalf("control data %x: %v", oob, err)
		}
		n := 0
		for _, m := range msgs {
			fds, err := unix.ParseUnixRights(&m)
			if err != nil {
				t.Fatal(err)
			}
			for _, fd := range fds {
				unix.Close(fd)
			}
			n += len(fds)
		}
		return n
	}
	if need := unix.CmsgSpace(8 * 4); need > rxOOBLen {
		t.Fatalf("eight descriptors need %d bytes of control data, the readers have %d", need, rxOOBLen)
	}
	t.Run("batch", func(t *testing.T) {
		rd, wr := datagramPair(t)
		var r *mrecv
		var fds []int
		r, err := newMrecv(rd, true, func([]byte, PacketInfo) {
			h := &r.mm[0].Hdr
			fds = append(fds, got(t, r.oob[:h.Controllen]))
			if h.Flags&unix.MSG_CTRUNC != 0 {
				t.Errorf("control data cut short (MSG_CTRUNC)")
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 8, 1, 8} {
			if err := unix.Sendmsg(wr, []byte{byte(n)}, rights(wr, n), nil, 0); err != nil {
				t.Fatal(err)
			}
			fds = nil
			if err := r.rc.Control(func(fd uintptr) { r.readAll(fd) }); err != nil {
				t.Fatal(err)
			}
			if len(fds) != 1 || fds[0] != n {
				t.Fatalf("sent %d descriptors alone: read %v", n, fds)
			}
		}
	})
	t.Run("single", func(t *testing.T) {
		rd, wr := datagramPair(t)
		r, err := newRecvmsg(rd, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 8, 1, 8} {
			if err := unix.Sendmsg(wr, []byte{byte(n)}, rights(wr, n), nil, 0); err != nil {
				t.Fatal(err)
			}
			_, _, ok, err := r.tryReadMsg()
			if !ok || err != nil {
				t.Fatalf("sent %d descriptors: read ok %v, err %v", n, ok, err)
			}
			if m := got(t, r.oob[:r.oobn]); m != n || r.hdr.Flags&unix.MSG_CTRUNC != 0 {
				t.Fatalf("sent %d descriptors: read %d, flags %#x", n, m, r.hdr.Flags)
			}
		}
	})
}
