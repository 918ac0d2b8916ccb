package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// dialerCheck is TCP.Check of a connect-only check through net.Dialer,
// as it was before connectOnly: what connectOnly must be like.
func dialerCheck(ctx context.Context, c *TCP) error {
	conn, err := dialTCP(ctx, c, c.Addr, c.Bind, c.Interface)
	if err != nil {
		return err
	}
	return conn.Close()
}

// sameAsDialer fails t unless err, connectOnly's, is what net.Dialer
// returns for c: the same text and the same failure class.
func sameAsDialer(t *testing.T, err error, c *TCP, ctx context.Context) {
	t.Helper()
	derr := dialerCheck(ctx, c)
	if (err == nil) != (derr == nil) || (err != nil && err.Error() != derr.Error()) {
		t.Errorf("connectOnly: %v\nnet.Dialer:  %v", err, derr)
	}
	if Classify(err) != Classify(derr) {
		t.Errorf("class %v, net.Dialer's %v", Classify(err), Classify(derr))
	}
}

func TestConnectOnlyAsDialer(t *testing.T) {
	noLeaks(t)
	up := tcpServer(t, func(net.Conn) {})
	tests := []struct {
		name string
		c    *TCP
		want error
	}{
		{"up", &TCP{Addr: up}, nil},
		{"bind", &TCP{Addr: up, Bind: netip.MustParseAddr("127.0.0.1")}, nil},
		{"refused", &TCP{Addr: closedTCPPort(t)}, errRefused},
		{"bind to an address not here", &TCP{Addr: up, Bind: netip.MustParseAddr("192.0.2.1")}, syscall.EADDRNOTAVAIL},
		{"no address", &TCP{}, ErrInvalid},
	}
	if haveIPv6Loopback() {
		tests = append(tests, struct {
			name string
			c    *TCP
			want error
		}{"IPv6", &TCP{Addr: tcpServerOn(t, "[::1]:0", func(net.Conn) {}), Bind: netip.IPv6Loopback()}, nil})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t, 5*time.Second)
			ok, err := connectOnly(ctx, tt.c)
			if !ok {
				t.Fatal("connectOnly left the check to net.Dialer")
			}
			checkErr(t, err, tt.want)
			sameAsDialer(t, err, tt.c, ctx)
		})
	}
}

// TestOwnSocketDeclines: what ownSocket leaves to net.Dialer, connectOnly
// and checkOwn leave to it too.
func TestOwnSocketDeclines(t *testing.T) {
	up := netip.MustParseAddrPort("127.0.0.1:7")
	done, cancel := context.WithCancel(t.Context())
	cancel()
	for name, tc := range map[string]struct {
		ctx   context.Context
		addr  netip.AddrPort
		bind  netip.Addr
		iface string
	}{
		"interface":       {t.Context(), up, netip.Addr{}, "lo"},
		"zone":            {t.Context(), netip.MustParseAddrPort("[fe80::1%lo]:7"), netip.Addr{}, ""},
		"IPv4-mapped":     {t.Context(), netip.MustParseAddrPort("[::ffff:127.0.0.1]:7"), netip.Addr{}, ""},
		"bind of IPv6":    {t.Context(), up, netip.IPv6Loopback(), ""},
		"context is done": {done, up, netip.Addr{}, ""},
	} {
		if ownSocket(tc.ctx, tc.addr, tc.bind, tc.iface) {
			t.Errorf("%s: ownSocket takes it", name)
		}
		if ok, err := connectOnly(tc.ctx, &TCP{Addr: tc.addr, Bind: tc.bind, Interface: tc.iface}); ok {
			t.Errorf("%s: connectOnly handled it (%v)", name, err)
		}
		c := &HTTP{Addr: tc.addr, Bind: tc.bind, Interface: tc.iface, Version: HTTP10}
		if c.prep.Do(c.prepare); c.request == nil {
			continue // not even a request: the net.Conn path
		}
		if ok, err := c.checkOwn(tc.ctx); ok {
			t.Errorf("%s: checkOwn handled it (%v)", name, err)
		}
	}
}

// rawListener listens on 127.0.0.1 with the given backlog, without
// accepting, until the test ends; it returns the socket and its address.
func rawListener(t testing.TB, backlog int) (int, netip.AddrPort) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sa.(*unix.SockaddrInet4).Port))
}

// fullListener returns a loopback address whose listener accepts nothing
// and whose accept queue is full, so that the kernel drops a new
// connect's SYNs (it stays in progress), and a function that accepts one
// queued connection, making room for one.
func fullListener(t *testing.T) (netip.AddrPort, func()) {
	t.Helper()
	fd, ap := rawListener(t, 0)
	// Backlog 0 queues one connection (the queue is full when it holds
	// more than the backlog): one connection fills it.
	var d net.Dialer
	conn, err := d.DialContext(testCtx(t, 10*time.Second), "tcp", ap.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	accept := func() {
		nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
		if err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(func() { unix.Close(nfd) })
	}
	return ap, accept
}

// synSent waits (up to 10 s) until a socket of this network namespace is
// in SYN_SENT towards ap (IPv4), from /proc/thread-self/net/tcp: not
// /proc/self/net, the main thread's, which another test may have left in
// a namespace of its own (Go wedges a locked thread it cannot end).
func synSent(t *testing.T, ap netip.AddrPort) {
	t.Helper()
	b := ap.Addr().As4()
	rem := fmt.Sprintf("%02X%02X%02X%02X:%04X", b[3], b[2], b[1], b[0], ap.Port())
	for range 1000 {
		tab, err := os.ReadFile("/proc/thread-self/net/tcp")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(tab), "\n") {
			if f := strings.Fields(l); len(f) > 3 && f[2] == rem && f[3] == "02" {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no connect to %v in progress", ap)
}

func TestConnectOnlyInProgress(t *testing.T) {
	noLeaks(t)
	addr, accept := fullListener(t)
	c := &TCP{Addr: addr}

	t.Run("deadline", func(t *testing.T) {
		ctx := testCtx(t, 100*time.Millisecond)
		start := time.Now()
		ok, err := connectOnly(ctx, c)
		if !ok {
			t.Fatal("connectOnly left the check to net.Dialer")
		}
		if !errors.Is(err, context.DeadlineExceeded) || Classify(err) != ClassTimeout || !isTimeout(err) {
			t.Fatalf("%v (class %v), want a timeout", err, Classify(err))
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("returned after %v past a 100ms deadline", d)
		}
		// net.Dialer's text depends on whether the runtime's deadline or
		// ctx's timer fires first; the class and the causes do not.
		derr := dialerCheck(testCtx(t, 100*time.Millisecond), c)
		if !errors.Is(derr, context.DeadlineExceeded) || Classify(derr) != ClassTimeout || !isTimeout(derr) {
			t.Errorf("net.Dialer: %v (class %v)", derr, Classify(derr))
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		stop := time.AfterFunc(50*time.Millisecond, cancel)
		defer stop.Stop()
		err := c.Check(ctx)
		if !errors.Is(err, context.Canceled) || err.Error() != "check: tcp "+addr.String()+": connect: dial tcp "+addr.String()+": operation was canceled" {
			t.Fatalf("%v, want Canceled", err)
		}
	})

	t.Run("connects later", func(t *testing.T) {
		// The SYN is dropped; once there is room, its retransmission
		// (after about 1 s) completes the connection.
		ctx := testCtx(t, 10*time.Second)
		errc := make(chan error, 1)
		go func() { errc <- c.Check(ctx) }()
		synSent(t, addr)
		accept()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	})
}

func TestTCPConnectOnlyAllocs(t *testing.T) {
	// A listener that accepts nothing, so that no allocation but the
	// check's is counted: the kernel completes the connections and
	// queues them.
	_, ap := rawListener(t, 1000)
	c := &TCP{Addr: ap}
	ctx := t.Context()
	n := testing.AllocsPerRun(100, func() {
		if err := c.Check(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if n > 1 { // the socket address
		t.Errorf("a connect-only check allocates %v times, want 1", n)
	}
}

func BenchmarkTCPConnectOnly(b *testing.B) {
	c := &TCP{Addr: tcpServer(b, func(net.Conn) {})}
	ctx, cancel := context.WithTimeout(b.Context(), time.Hour)
	defer cancel()
	benchPaths(b, []benchPath{
		{"Check", func() error { return c.Check(ctx) }},
		{"Dialer", func() error { return dialerCheck(ctx, c) }},
	})
}

// TestSockInPoller runs a request and its answer through a sock in the
// runtime's poller, where it goes after a long wait.
func TestSockInPoller(t *testing.T) {
	noLeaks(t)
	const resp = "HTTP/1.0 200 OK\r\n\r\nok\n"
	ap := rawHTTPServer(t, resp)
	ctx := testCtx(t, 5*time.Second)
	s, err := dialSock(ctx, ap, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	s.toPoller(ctx)
	if err := s.write(ctx, []byte("GET / HTTP/1.0\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 4)
	for {
		n, err := s.read(ctx, buf, len(got) == 0)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if string(got) != resp {
		t.Errorf("read %q, want %q", got, resp)
	}
}
