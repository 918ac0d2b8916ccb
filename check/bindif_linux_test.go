package check

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// TestInterfaceReachesSocket checks that every connecting checker binds
// its socket to Interface: an interface that does not exist fails the
// check at setsockopt, whoever runs the test (but ICMP's raw socket,
// which needs root).
func TestInterfaceReachesSocket(t *testing.T) {
	noLeaks(t)
	tcp := tcpServer(t, func(net.Conn) {})
	udp := udpServer(t, func(b []byte) []byte { return b })
	const none = "vigil-none0"
	for _, c := range []Checker{
		&TCP{Addr: tcp, Interface: none},
		&HTTP{Addr: tcp, Interface: none},
		&HTTP{Addr: tcp, Interface: none, Version: HTTP10},
		&SMTP{Addr: tcp, Interface: none},
		&DNS{Server: udp, Interface: none},
		&DNS{Server: tcp, Interface: none, TCP: true},
		&UDP{Addr: udp, Interface: none, RequireReply: true},
		&ICMP{Addr: netip.MustParseAddr("127.0.0.1"), Interface: none, Privileged: true},
	} {
		t.Run(checkerName(c), func(t *testing.T) {
			if i, ok := c.(*ICMP); ok && i.Privileged {
				// The raw socket is refused before the bind is tried.
				nstest.Root(t)
			}
			err := c.Check(testCtx(t, 5*time.Second))
			if err == nil || !strings.Contains(err.Error(), "SO_BINDTODEVICE "+none) {
				t.Errorf("%T with Interface %s: %v, want a SO_BINDTODEVICE error", c, none, err)
			}
		})
	}
	t.Run("name too long", func(t *testing.T) {
		checkErr(t, (&TCP{Addr: tcp, Interface: "sixteen-letters0"}).Check(testCtx(t, 5*time.Second)), ErrInvalid)
	})
}

// TestInterfaceLoopback checks through "lo" (root: SO_BINDTODEVICE may
// need CAP_NET_RAW, ICMP's raw socket does).
func TestInterfaceLoopback(t *testing.T) {
	nstest.Root(t)
	noLeaks(t)
	tcp := tcpServer(t, func(net.Conn) {})
	udp := udpServer(t, func(b []byte) []byte { return b })
	web := serverAddr(httpServer(t, false, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	lo := netip.MustParseAddr("127.0.0.1")
	for _, c := range []Checker{
		&TCP{Addr: tcp, Interface: "lo"},
		&HTTP{Addr: web, Interface: "lo"},
		&HTTP{Addr: web, Interface: "lo", Version: HTTP10},
		&UDP{Addr: udp, Interface: "lo", Payload: []byte("hi"), Expect: []byte("hi")},
		&ICMP{Addr: lo, Interface: "lo", Privileged: true},
	} {
		t.Run(checkerName(c), func(t *testing.T) {
			checkErr(t, c.Check(testCtx(t, 5*time.Second)), nil)
		})
	}
	// A ping socket, where the namespace allows them.
	t.Run("icmp", func(t *testing.T) {
		var none error
		err := inNetns(t, map[string]string{"ipv4/ping_group_range": "0 2147483647"}, func() error {
			none = (&ICMP{Addr: lo, Interface: "vigil-none0"}).Check(testCtx(t, 5*time.Second))
			return (&ICMP{Addr: lo, Interface: "lo"}).Check(testCtx(t, 5*time.Second))
		})
		checkErr(t, err, nil)
		if none == nil || !strings.Contains(none.Error(), "SO_BINDTODEVICE vigil-none0") {
			t.Errorf("ping socket bound to vigil-none0: %v, want a SO_BINDTODEVICE error", none)
		}
	})
	// Bound to lo, a target elsewhere is out of reach.
	t.Run("other interface", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		if err := (&TCP{Addr: netip.MustParseAddrPort("192.0.2.1:80"), Interface: "lo"}).Check(ctx); err == nil {
			t.Error("a TCP check bound to lo reached 192.0.2.1")
		}
	})
}
