//go:build linux

package vrrp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
	"golang.org/x/sys/unix"
)

// The adverts a Socket's sender has due at one wake-up go out in one
// sendmmsg(2), each with its own bytes, destination and source, as a
// Router's own send would make them (the other host receives them); one
// that fails is sent alone and reported to its Router, and the others
// still go out.
func TestRepeatsOneSystemCall(t *testing.T) {
	seg := nstest.NewSegment(t, 2)
	tx, rx := seg.Hosts[0], seg.Hosts[1]
	listen := func(h *nstest.Host) *Socket {
		var s *Socket
		if err := h.Do(func() (err error) {
			s, err = Listen(SocketConfig{Interface: h.Link})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	ts, rs := listen(tx), listen(rx)
	const n = 5
	type master struct {
		c      *SocketConn
		r      *SocketConn // the receiver's
		b      []byte
		sent   atomic.Uint64
		mu     sync.Mutex
		failed []error
	}
	ms := make([]*master, n)
	for i := range ms {
		vrid := uint8(10 + i)
		c, err := ts.Conn(vrid, ConnConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		r, err := rs.Conn(vrid, ConnConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		a := Advertisement{Version: V3, VRID: vrid, Priority: uint8(100 + i), Interval: time.Second,
			Addrs: []netip.Addr{netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)})}}
		b, err := a.Marshal(c.LocalAddr(), GroupV4)
		if err != nil {
			t.Fatal(err)
		}
		ms[i] = &master{c: c, r: r, b: b}
	}
	// hand hands each master's advert to the sender, due at due plus its
	// offset (the sender takes them in that order); master bad's is too
	// long for an IP packet.
	hand := func(due time.Time, bad int) {
		for i, m := range ms {
			b := m.b
			if i == bad {
				b = make([]byte, 1<<16)
			}
			m.c.sendRepeats(b, GroupV4, due.Add(time.Duration(i)), time.Hour, 0, &m.sent, func(_ netip.Addr, err error) {
				m.mu.Lock()
				m.failed = append(m.failed, err)
				m.mu.Unlock()
			})
		}
	}
	// receive reads one advert for each master but skip, and checks it
	// is the master's, from its source.
	receive := func(skip int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		buf := make([]byte, 1500)
		for i, m := range ms {
			if i == skip {
				continue
			}
			k, info, err := m.r.ReadAdvert(ctx, buf)
			if err != nil {
				t.Fatalf("master %d: %v", i, err)
			}
			if !bytes.Equal(buf[:k], m.b) || info.Src != m.c.LocalAddr() || info.TTL != TTL || info.Dst != GroupV4 {
				t.Fatalf("master %d: received %x from %v (TTL %d, to %v); want %x from %v", i, buf[:k], info.Src, info.TTL,
					info.Dst, m.b, m.c.LocalAddr())
			}
		}
	}
	takeBack := func() {
		for _, m := range ms {
			m.c.takeBack()
		}
	}

	hand(time.Now().Add(5*time.Millisecond), -1)
	receive(-1)
	takeBack()
	if st := ts.Stats(); st.RepeatsSent != n || st.RepeatWrites != 1 {
		t.Fatalf("all due at once: %d sent in %d system calls; want %d in 1", st.RepeatsSent, st.RepeatWrites, n)
	}

	// The third too long: the call sends the first two, the third fails
	// alone, the last two go alone.
	hand(time.Now().Add(5*time.Millisecond), 2)
	receive(2)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ms[2].mu.Lock()
		f := len(ms[2].failed)
		ms[2].mu.Unlock()
		if f > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	takeBack()
	ms[2].mu.Lock()
	failed := fmt.Sprint(ms[2].failed)
	ok := len(ms[2].failed) == 1 && errors.Is(ms[2].failed[0], unix.EMSGSIZE)
	ms[2].mu.Unlock()
	if !ok {
		t.Fatalf("the advert too long: failures %s; want one, EMSGSIZE", failed)
	}
	if st := ts.Stats(); st.RepeatsSent != 2*n-1 || st.RepeatWrites != 1+1+2 {
		t.Fatalf("with a failure: %d sent in %d system calls; want %d in %d", st.RepeatsSent, st.RepeatWrites, 2*n-1, 1+1+2)
	}
	for i, m := range ms {
		want := uint64(2)
		if i == 2 {
			want = 1
		}
		if got := m.sent.Load(); got != want {
			t.Errorf("master %d: counted %d sent, want %d", i, got, want)
		}
	}
}
