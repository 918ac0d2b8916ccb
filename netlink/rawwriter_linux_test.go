package netlink

import (
	"bytes"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRawWriter: a rawWriter writes each frame whole; on a full socket
// it waits in the poller and writes the frame once there is room (not
// lost, not an error); a failed write is its error.
func TestRawWriter(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Non-blocking descriptors: os.NewFile gives them to the poller.
	local, peer := os.NewFile(uintptr(fds[0]), "local"), os.NewFile(uintptr(fds[1]), "peer")
	defer local.Close()
	defer func() { peer.Close() }()
	w := newRawWriter(local)
	if w == nil {
		t.Fatal("newRawWriter: nil")
	}
	buf := make([]byte, 2048)
	read := func() []byte {
		t.Helper()
		if err := peer.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, err := peer.Read(buf)
		if err != nil {
			t.Fatalf("reading a frame: %v", err)
		}
		return buf[:n]
	}

	if err := w.send([]byte("frame 1")); err != nil {
		t.Fatalf("send: %v", err)
	}
	if got := read(); string(got) != "frame 1" {
		t.Fatalf("read %q, want frame 1", got)
	}

	// Fill the socket until a write would block.
	filler := bytes.Repeat([]byte{'x'}, 1000)
	full := 0
	for ; full < 100000; full++ {
		if _, err := unix.Write(fds[0], filler); err != nil {
			if !errors.Is(err, unix.EAGAIN) {
				t.Fatal(err)
			}
			break
		}
	}
	if full == 0 || full == 100000 {
		t.Fatalf("the socket took %d frames before EAGAIN", full)
	}
	waiting := make(chan struct{}, 1)
	rawWriterFull = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	defer func() { rawWriterFull = func() {} }()
	sent := make(chan error, 1)
	go func() { sent <- w.send([]byte("the last")) }()
	<-waiting // it found the socket full and waits in the poller
	// Drain: the fillers, then the frame the writer waited to send.
	for i := 0; ; i++ {
		got := read()
		if string(got) == "the last" {
			if i != full {
				t.Errorf("the waiting frame came after %d fillers, want %d", i, full)
			}
			break
		}
		if i > full {
			t.Fatalf("%d frames read, the waiting one not among them", i+1)
		}
	}
	if err := <-sent; err != nil {
		t.Errorf("send on a full socket: %v", err)
	}

	// With the peer gone, the write fails, and send says so.
	peer.Close()
	err = w.send([]byte("to no one"))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("send with the peer closed: %v, want ECONNREFUSED", err)
	}
}
