//go:build linux

package main

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestHTTPStatus(t *testing.T) {
	for _, tc := range []struct {
		resp string
		code int // 0: an error
	}{
		{httpResponse, 200},
		{"HTTP/1.1 200 OK\r\n\r\n", 200},
		{"HTTP/1.0 200\r\n\r\n", 200},
		{"HTTP/1.0 503 Service Unavailable\r\nServer: x\r\n\r\nbusy", 503},
		{"HTTP/1.1 404 Not Found\r\nA: b\r\nC: d\r\n\r\n", 404},
		{"", 0},
		{"HTTP/1.0 200 OK", 0},                        // no line end
		{"HTTP/1.0 200 OK\r\nServer: x\r\n", 0},       // headers not ended
		{"HTTP/1.0 200 OK\r\n", 0},                    // no empty line
		{"HTTP/2.0 200 OK\r\n\r\n", 0},                // not 1.x
		{"HTTP/1.2 200 OK\r\n\r\n", 0},                // no such 1.x
		{"HTTP/1.0 20 OK\r\n\r\n", 0},                 // two digits
		{"HTTP/1.0 2000 OK\r\n\r\n", 0},               // four digits
		{"HTTP/1.0 2x0 OK\r\n\r\n", 0},                // not a number
		{"HTTP/1.0 099 OK\r\n\r\n", 0},                // below 100
		{"HTTP/1.0  200 OK\r\n\r\n", 0},               // two spaces
		{"HTTP/1.0x200 OK\r\n\r\n", 0},                // no space
		{"http/1.0 200 OK\r\n\r\n", 0},                // lower case
		{"SSH-2.0-OpenSSH_9.2\r\n\r\n", 0},            // not HTTP
		{"HTTP/1.0 200 OK\nContent-Length: 0\n\n", 0}, // bare LF
	} {
		code, err := httpStatus([]byte(tc.resp))
		if tc.code == 0 {
			if err == nil {
				t.Errorf("httpStatus(%q) = %d, want an error", tc.resp, code)
			}
			continue
		}
		if err != nil || code != tc.code {
			t.Errorf("httpStatus(%q) = %d, %v, want %d", tc.resp, code, err, tc.code)
		}
	}
}

// TestRawHTTP runs the raw loop's check against serveHTTP, and against
// servers that answer wrong, on 127.0.0.1.
func TestRawHTTP(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(net.Conn)
		ok    bool
	}{
		{"serveHTTP", serveHTTP, true},
		{"503", func(c net.Conn) {
			_, _ = c.Read(make([]byte, 4096))
			_, _ = c.Write([]byte("HTTP/1.0 503 Busy\r\n\r\n"))
		}, false},
		{"close at once", func(net.Conn) {}, false},
		{"too long", func(c net.Conn) {
			_, _ = c.Read(make([]byte, 4096))
			_, _ = c.Write([]byte("HTTP/1.0 200 OK\r\n\r\n" + strings.Repeat("x", 5000)))
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			var req []byte
			done := make(chan struct{})
			go func() {
				defer close(done)
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				if tc.ok {
					// serveHTTP reads the request; peek at it first.
					buf := make([]byte, 4096)
					_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
					n, _ := c.Read(buf)
					req = buf[:n]
					tc.serve(&replay{Conn: c, buf: buf[:n]})
					return
				}
				tc.serve(c)
			}()
			ap := netip.MustParseAddrPort(ln.Addr().String())
			sas := []unix.SockaddrInet4{{Port: int(ap.Port()), Addr: ap.Addr().As4()}}
			err = rawHTTP(sas, [][]byte{httpRequest(ap.String())}, 5*time.Second)(0)
			<-done
			if tc.ok != (err == nil) {
				t.Fatalf("rawHTTP: %v, want ok %v", err, tc.ok)
			}
			if tc.ok {
				want := "GET / HTTP/1.0\r\nUser-Agent: vigil-check\r\nHost: " + ap.String() + "\r\n\r\n"
				if string(req) != want {
					t.Errorf("request %q, want %q", req, want)
				}
			}
		})
	}
}

// replay is a net.Conn whose first reads return buf.
type replay struct {
	net.Conn
	buf []byte
}

func (r *replay) Read(p []byte) (int, error) {
	if len(r.buf) > 0 {
		n := copy(p, r.buf)
		r.buf = r.buf[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}

// TestHTTPCheckerServe checks that the group's checker passes against
// the listener's answer, and fails against a 503.
func TestHTTPCheckerServe(t *testing.T) {
	for _, tc := range []struct {
		serve func(net.Conn)
		ok    bool
	}{
		{serveHTTP, true},
		{func(c net.Conn) {
			_, _ = c.Read(make([]byte, 4096))
			_, _ = c.Write([]byte("HTTP/1.0 503 Busy\r\n\r\n"))
		}, false},
	} {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err == nil {
				tc.serve(c)
				c.Close()
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = httpChecker(netip.MustParseAddrPort(ln.Addr().String())).Check(ctx)
		cancel()
		ln.Close()
		if tc.ok != (err == nil) {
			t.Errorf("check: %v, want ok %v", err, tc.ok)
		}
	}
}
