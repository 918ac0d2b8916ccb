package check

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// noLeaks checks, after everything else the test cleans up, that the test
// left no goroutine behind.
func noLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// testCtx returns a context that ends after d, or when the test ends.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// tcpServer listens on 127.0.0.1 and runs serve for each connection,
// closing it afterwards. Everything is stopped at the test's end.
func tcpServer(t testing.TB, serve func(net.Conn)) netip.AddrPort {
	t.Helper()
	return tcpServerOn(t, "127.0.0.1:0", serve)
}

// tcpServerOn is tcpServer listening on address.
func tcpServerOn(t testing.TB, address string, serve func(net.Conn)) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", address)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			serve(c)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// httpServer starts an HTTP (or, with tls, HTTPS) server on 127.0.0.1 that
// does not log, closed at the test's end.
func httpServer(t *testing.T, tls bool, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

func serverAddr(srv *httptest.Server) netip.AddrPort {
	return srv.Listener.Addr().(*net.TCPAddr).AddrPort()
}

// closedTCPPort returns a loopback address where nothing listens.
func closedTCPPort(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	return ap
}

// haveIPv6Loopback reports whether ::1 can be used.
func haveIPv6Loopback() bool {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
