//go:build linux

package vrrp_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/vrrp"
)

// SocketConn.TryReadAdvert does not wait: on an idle socket (its reader
// waiting in the poller) it returns at once, and it returns the adverts
// that arrived, from the Conn's queue or the socket itself.
func TestSocketConnTryReadAdvert(t *testing.T) {
	seg := nstest.NewSegment(t, 2)
	h1, h2 := seg.Hosts[0], seg.Hosts[1]
	sock := listenIn(t, h2, false)
	c, err := sock.Conn(7, vrrp.ConnConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The first poll (a router's first expiry: its takeover) allocates
	// no receive buffer: the socket has had one since it was made (an
	// allocation there started collections at takeovers).
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	c.TryTakeAdvert(func([]byte, vrrp.PacketInfo) {})
	runtime.ReadMemStats(&m1)
	if d := m1.TotalAlloc - m0.TotalAlloc; d > 4096 {
		t.Errorf("the first poll allocated %d bytes, want at most 4 KiB", d)
	}
	buf := make([]byte, 2048)
	try := func() (n int, info vrrp.PacketInfo, ok bool) {
		done := make(chan struct{})
		go func() { defer close(done); n, info, ok = c.TryReadAdvert(buf) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second): // a bound on a hang, not a timing
			t.Fatal("TryReadAdvert blocked")
		}
		return n, info, ok
	}
	if _, _, ok := try(); ok {
		t.Fatal("TryReadAdvert on an idle socket returned a message")
	}
	src := h1.Addr4.Addr()
	tx := newRawSender(t, h1, src, vrrp.GroupV4)
	want := benchAdvert(t, 7, src, vrrp.GroupV4)
	const sent = 3
	sentAt := time.Now()
	for range sent {
		tx.send(t, want)
	}
	got := 0
	for deadline := time.Now().Add(10 * time.Second); got < sent && time.Now().Before(deadline); {
		n, info, ok := try()
		if !ok {
			time.Sleep(time.Millisecond) // the delivery over the bridge is not instant
			continue
		}
		got++
		if string(buf[:n]) != string(want) || info.Src != src || info.Time.Before(sentAt.Add(-time.Second)) {
			t.Fatalf("got %x from %v at %v, want %x from %v", buf[:n], info.Src, info.Time, want, src)
		}
	}
	if got != sent {
		t.Fatalf("TryReadAdvert returned %d adverts, want %d", got, sent)
	}
	if _, _, ok := try(); ok {
		t.Error("TryReadAdvert returned more adverts than were sent")
	}
}
