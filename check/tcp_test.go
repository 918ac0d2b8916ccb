package check

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestTCP(t *testing.T) {
	noLeaks(t)
	pong := tcpServer(t, func(c net.Conn) {
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && line == "PING\n" {
			c.Write([]byte("+PONG\r\n"))
		}
	})
	tests := []struct {
		name string
		c    *TCP
		want error // nil: healthy; else errors.Is target
	}{
		{"connect", &TCP{Addr: pong}, nil},
		{"send expect", &TCP{Addr: pong, Send: []byte("PING\n"), Expect: []byte("PONG")}, nil},
		{"wrong expect", &TCP{Addr: pong, Send: []byte("PING\n"), Expect: []byte("OK")}, ErrUnexpected},
		{"bind", &TCP{Addr: pong, Bind: netip.MustParseAddr("127.0.0.1")}, nil},
		{"closed port", &TCP{Addr: closedTCPPort(t)}, errRefused},
		{"no address", &TCP{}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Check(testCtx(t, 5*time.Second))
			checkErr(t, err, tt.want)
		})
	}
	t.Run("bind to the wrong family", func(t *testing.T) {
		if !haveIPv6Loopback() {
			t.Skip("no ::1")
		}
		err := (&TCP{Addr: pong, Bind: netip.MustParseAddr("::1")}).Check(testCtx(t, 5*time.Second))
		if err == nil {
			t.Fatal("connecting from ::1 to 127.0.0.1 worked: Bind was ignored")
		}
	})
}

// errRefused stands for "connection refused".
var errRefused = errors.New("connection refused")

// checkErr fails t unless err matches want: nil, errRefused, or a target
// for errors.Is. Every error must name the checker.
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("Check: %v, want healthy", err)
	case want == nil:
	case err == nil:
		t.Fatalf("Check: healthy, want %v", want)
	case want == errRefused && !strings.Contains(err.Error(), "connection refused"):
		t.Fatalf("Check: %v, want connection refused", err)
	case want != errRefused && !errors.Is(err, want):
		t.Fatalf("Check: %v, want %v", err, want)
	case !strings.HasPrefix(err.Error(), "check: "):
		t.Fatalf("error %q does not start with check:", err)
	}
}

func TestTCPTLS(t *testing.T) {
	noLeaks(t)
	srv := httpServer(t, true, http.NotFoundHandler())
	addr := serverAddr(srv)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	checkErr(t, (&TCP{Addr: addr, TLS: &tls.Config{RootCAs: roots}}).Check(testCtx(t, 5*time.Second)), nil)
	checkErr(t, (&TCP{Addr: addr, TLS: &tls.Config{InsecureSkipVerify: true}}).Check(testCtx(t, 5*time.Second)), nil)
	var unknown x509.UnknownAuthorityError
	err := (&TCP{Addr: addr, TLS: &tls.Config{}}).Check(testCtx(t, 5*time.Second))
	if !errors.As(err, &unknown) {
		t.Fatalf("unverifiable certificate: %v, want x509.UnknownAuthorityError", err)
	}
	err = (&TCP{Addr: addr, TLS: &tls.Config{RootCAs: roots, ServerName: "wrong.test"}}).Check(testCtx(t, 5*time.Second))
	if err == nil {
		t.Fatal("certificate for the wrong name accepted")
	}
}

func TestTCPContext(t *testing.T) {
	noLeaks(t)
	accepted := make(chan struct{}, 1)
	silent := tcpServer(t, func(c net.Conn) {
		accepted <- struct{}{}
		c.Read(make([]byte, 1)) // until the client goes away
	})
	c := &TCP{Addr: silent, Expect: []byte("hello")}

	start := time.Now()
	err := c.Check(testCtx(t, 100*time.Millisecond))
	<-accepted
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent server: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Check took %v past a 100ms deadline", d)
	}

	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-accepted; cancel() }()
	if err := c.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v, want Canceled", err)
	}
}

func TestKeys(t *testing.T) {
	a := netip.MustParseAddrPort("127.0.0.1:80")
	b := netip.MustParseAddrPort("127.0.0.1:81")
	same := [][2]Keyer{
		{&TCP{Addr: a}, &TCP{Addr: a}},
		{&HTTP{Addr: a, Path: "/x"}, &HTTP{Addr: a, Path: "/x"}},
		{&DNS{Server: a, Name: "Example.org"}, &DNS{Server: a, Name: "example.org.", Type: 6}},
		{&Exec{Path: "/bin/true"}, &Exec{Path: "/bin/true"}},
	}
	for _, p := range same {
		if p[0].Key() != p[1].Key() {
			t.Errorf("keys differ: %q, %q", p[0].Key(), p[1].Key())
		}
	}
	differ := [][2]Keyer{
		{&TCP{Addr: a}, &TCP{Addr: b}},
		{&TCP{Addr: a}, &TCP{Addr: a, Expect: []byte("x")}},
		{&TCP{Addr: a}, &TCP{Addr: a, TLS: &tls.Config{}}},
		{&TCP{Addr: a, TLS: &tls.Config{}}, &TCP{Addr: a, TLS: &tls.Config{}}}, // could differ in roots
		{&HTTP{Addr: a, Path: "/x"}, &HTTP{Addr: a, Path: "/y"}},
		{&HTTP{Addr: a}, &HTTP{Addr: a, Status: []StatusRange{{200, 200}}}},
		{&UDP{Addr: a}, &UDP{Addr: a, RequireReply: true}},
		{&ICMP{Addr: a.Addr()}, &ICMP{Addr: a.Addr(), Privileged: true}},
		{&SMTP{Addr: a}, &SMTP{Addr: a, HELO: "x"}},
		{&Exec{Path: "/bin/true"}, &Exec{Path: "/bin/true", Args: []string{"x"}}},
		{&Exec{Path: "/bin/a b"}, &Exec{Path: "/bin/a", Args: []string{"b"}}},
		{&File{Path: "/a"}, &File{Path: "/a", Reverse: true}},
	}
	for _, p := range differ {
		if p[0].Key() == p[1].Key() {
			t.Errorf("same key %q for different checks", p[0].Key())
		}
	}
}
