package check

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// udpServer serves datagrams on 127.0.0.1 with reply, which returns the
// answer or nil for none.
func udpServer(t *testing.T, reply func([]byte) []byte) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if r := reply(buf[:n]); r != nil {
				pc.WriteTo(r, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

// closedUDPPort returns a loopback port where nothing listens.
func closedUDPPort(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	return ap
}

func TestUDP(t *testing.T) {
	noLeaks(t)
	echo := udpServer(t, func(b []byte) []byte { return append([]byte("echo:"), b...) })
	silent := udpServer(t, func([]byte) []byte { return nil })
	closed := closedUDPPort(t)
	tests := []struct {
		name string
		c    *UDP
		want error
	}{
		{"reply required", &UDP{Addr: echo, Payload: []byte("hi"), RequireReply: true}, nil},
		{"expected reply", &UDP{Addr: echo, Payload: []byte("hi"), Expect: []byte("echo:hi")}, nil},
		{"unexpected reply", &UDP{Addr: echo, Payload: []byte("hi"), Expect: []byte("pong")}, ErrUnexpected},
		{"silent, reply required", &UDP{Addr: silent, RequireReply: true}, ErrNoReply},
		{"silent, reply optional", &UDP{Addr: silent, Wait: 50 * time.Millisecond}, nil},
		{"reply optional", &UDP{Addr: echo, Payload: []byte("hi")}, nil},
		{"port unreachable", &UDP{Addr: closed, Wait: time.Second}, syscall.ECONNREFUSED},
		{"port unreachable, reply required", &UDP{Addr: closed, RequireReply: true}, syscall.ECONNREFUSED},
		// "echo:hi" is 7 bytes.
		{"reply length in bounds", &UDP{Addr: echo, Payload: []byte("hi"), Expect: []byte("echo"), MinReply: 7, MaxReply: 7}, nil},
		{"reply too short", &UDP{Addr: echo, Payload: []byte("hi"), Expect: []byte("echo"), MinReply: 8}, ErrUnexpected},
		{"reply too long", &UDP{Addr: echo, Payload: []byte("hi"), Expect: []byte("echo"), MaxReply: 6}, ErrUnexpected},
		{"reply length without Expect", &UDP{Addr: echo, Payload: []byte("hi"), RequireReply: true, MaxReply: 1}, nil},
		{"no address", &UDP{}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.c.Check(testCtx(t, 300*time.Millisecond)), tt.want)
		})
	}
}

func TestUDPContext(t *testing.T) {
	noLeaks(t)
	got := make(chan struct{}, 1)
	silent := udpServer(t, func([]byte) []byte { got <- struct{}{}; return nil })
	c := &UDP{Addr: silent, RequireReply: true}
	if err := c.Check(testCtx(t, 100*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent: %v, want DeadlineExceeded", err)
	}
	<-got
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-got; cancel() }()
	if err := c.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v, want Canceled", err)
	}
	// Cancelled, a check that needs no reply is not healthy either.
	ctx2, cancel2 := context.WithCancel(t.Context())
	go func() { <-got; cancel2() }()
	if err := (&UDP{Addr: silent, Wait: time.Minute}).Check(ctx2); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v, want Canceled", err)
	}
	// The deadline, though, ends the wait for a port unreachable early.
	start := time.Now()
	checkErr(t, (&UDP{Addr: silent, Wait: time.Minute}).Check(testCtx(t, 50*time.Millisecond)), nil)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("waited %v", d)
	}
	if !bytes.Equal(trunc([]byte("abc"), 2), []byte("ab")) {
		t.Fatal("trunc")
	}
}
