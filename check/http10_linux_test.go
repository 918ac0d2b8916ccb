package check

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// readRequest reads conn's request up to the empty line ending its head.
func readRequest(conn net.Conn) error {
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" {
			return nil
		}
	}
}

// answering is a server that reads each request and writes resp.
func answering(t *testing.T, resp string) netip.AddrPort {
	return tcpServer(t, func(c net.Conn) {
		if readRequest(c) == nil {
			c.Write([]byte(resp))
		}
	})
}

// localPort matches the local port in net.Conn's errors, which differs
// from one connection to the next.
var localPort = regexp.MustCompile(`(tcp [0-9.]+|tcp \[[0-9a-f:]+\]):[0-9]+->`)

// sameAsNetConn fails t unless err, checkOwn's, is what the net.Conn
// path (net.Dialer, http.ReadResponse) returns for c: the same text but
// for the local port, and the same failure class.
func sameAsNetConn(t *testing.T, err error, c *HTTP, ctx context.Context) {
	t.Helper()
	nerr := c.checkNetConn(ctx)
	text := func(err error) string {
		if err == nil {
			return "<nil>"
		}
		return localPort.ReplaceAllString(err.Error(), "$1:PORT->")
	}
	if text(err) != text(nerr) {
		t.Errorf("checkOwn: %v\nnet.Conn: %v", err, nerr)
	}
	if Classify(err) != Classify(nerr) {
		t.Errorf("class %v, the net.Conn path's %v", Classify(err), Classify(nerr))
	}
}

func TestHTTPOwnAsNetConn(t *testing.T) {
	noLeaks(t)
	const ok = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"
	good := answering(t, ok)
	okSum, otherSum := md5Of("ok\n"), md5Of("ko\n")
	long := strings.Repeat("x", 100)
	arrived := make(chan struct{}, 1)
	hang := tcpServer(t, func(c net.Conn) { // until the client goes away
		if readRequest(c) == nil {
			arrived <- struct{}{}
			io.Copy(io.Discard, c)
		}
	})
	tests := []struct {
		name string
		c    *HTTP
		want error
	}{
		{"ok", &HTTP{Addr: good}, nil},
		{"1.0C", &HTTP{Addr: good, Version: HTTP10Close}, nil},
		{"bind", &HTTP{Addr: good, Bind: netip.MustParseAddr("127.0.0.1")}, nil},
		{"bind to an address not here", &HTTP{Addr: good, Bind: netip.MustParseAddr("192.0.2.1")}, syscall.EADDRNOTAVAIL},
		{"refused", &HTTP{Addr: closedTCPPort(t)}, errRefused},
		{"status", &HTTP{Addr: good, Status: []StatusRange{{204, 204}}}, ErrUnexpected},
		{"status 500", &HTTP{Addr: answering(t, "HTTP/1.0 500 Internal Server Error\r\nContent-Length: 5\r\n\r\ndown\n")}, ErrUnexpected},
		{"status 500 accepted", &HTTP{Addr: answering(t, "HTTP/1.0 500 Internal Server Error\r\n\r\n"), Status: []StatusRange{{500, 599}}}, nil},
		{"digest", &HTTP{Addr: good, Digest: okSum}, nil},
		{"digest mismatch", &HTTP{Addr: good, Digest: otherSum}, ErrUnexpected},
		{"regexp", &HTTP{Addr: good, Regexp: regexp.MustCompile(`^ok`)}, nil},
		{"regexp mismatch", &HTTP{Addr: good, Regexp: regexp.MustCompile(`down`)}, ErrUnexpected},
		{"body too long", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\n"+long), MaxBody: 10, Digest: okSum}, ErrUnexpected},
		{"body too long, to the end", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\n\r\n"+long), MaxBody: 10, Regexp: regexp.MustCompile(`x`)}, ErrUnexpected},
		{"body too long, unread", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\n\r\n"+long), MaxBody: 10}, nil},
		{"body to the end", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\n\r\nok\n"), Digest: okSum}, nil},
		{"body cut short", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nok\n"), Digest: okSum}, io.ErrUnexpectedEOF},
		{"204", &HTTP{Addr: answering(t, "HTTP/1.0 204 No Content\r\nContent-Length: 3\r\n\r\nok\n"), Digest: md5Of("")}, nil},
		{"1.1, kept alive", &HTTP{Addr: answering(t, "HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\n"+long), Status: []StatusRange{{500, 500}}}, nil},
		{"1.1, closing", &HTTP{Addr: answering(t, "HTTP/1.1 200 OK\r\nConnection: x, Close\r\nContent-Length: 3\r\n\r\nok\n"), Digest: okSum}, nil},
		{"1.0, keep-alive", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nok\n"), Digest: okSum}, nil},
		{"chunked 1.1", &HTTP{Addr: answering(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nok\n\r\n0\r\n\r\n"), Digest: okSum}, nil},
		{"chunked 1.0 is not", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nok\n\r\n0\r\n\r\n"), Digest: okSum}, ErrUnexpected},
		{"chunked badly", &HTTP{Addr: answering(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n"), Digest: okSum}, nil},
		{"bare LF", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\nContent-Length: 3\n\nok\n"), Digest: okSum}, nil},
		{"folded header", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 3\r\n\r\nok\n"), Digest: okSum}, nil},
		{"head past the buffer", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\nX-Long: "+strings.Repeat("y", 5000)+"\r\nContent-Length: 3\r\n\r\nok\n"), Digest: okSum}, nil},
		{"malformed status line", &HTTP{Addr: answering(t, "HTTP/1.0 2OO OK\r\n\r\n")}, nil},
		{"not HTTP", &HTTP{Addr: answering(t, "SSH-2.0-OpenSSH_9.6\r\n")}, nil},
		{"HTTP/2.0", &HTTP{Addr: answering(t, "HTTP/2.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"), Digest: okSum}, nil},
		{"status code 99", &HTTP{Addr: answering(t, "HTTP/1.0 099 Old\r\n\r\n"), Status: []StatusRange{{0, 99}}}, nil},
		{"space before colon", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\nContent-Length : 3\r\n\r\nok\n"), Digest: okSum}, nil},
		{"bad header name", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\nX(1): 3\r\n\r\n")}, nil},
		{"control in a header", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\nX: a\x01b\r\n\r\n")}, nil},
		{"bad Content-Length", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\nContent-Length: 3x\r\n\r\nok\n")}, nil},
		{"two Content-Lengths", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nok\n")}, nil},
		{"the same Content-Length twice", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\nContent-Length: 3\r\ncontent-length:3 \r\n\r\nok\n"), Digest: okSum}, nil},
		{"headers without end", &HTTP{Addr: answering(t, "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n")}, io.ErrUnexpectedEOF},
		{"closed early", &HTTP{Addr: answering(t, "")}, io.ErrUnexpectedEOF},
		{"reset", &HTTP{Addr: tcpServer(t, func(c net.Conn) {
			if readRequest(c) == nil {
				c.(*net.TCPConn).SetLinger(0)
			}
		})}, syscall.ECONNRESET},
		{"slow", &HTTP{Addr: tcpServer(t, func(c net.Conn) {
			if readRequest(c) == nil {
				// Whatever the timing, the verdict is the same; this
				// delay makes checkOwn wait in the runtime's poller.
				<-time.After(20 * kernelWait)
				c.Write([]byte(ok))
			}
		}), Digest: okSum}, nil},
		{"no address", &HTTP{}, ErrInvalid},
	}
	// Malformed responses: an error that is not ErrUnexpected (the net.Conn
	// path's), checked as such below.
	malformed := map[string]bool{"malformed status line": true, "not HTTP": true, "bad header name": true,
		"control in a header": true, "bad Content-Length": true, "two Content-Lengths": true, "chunked badly": true}
	if haveIPv6Loopback() {
		v6 := tcpServerOn(t, "[::1]:0", func(c net.Conn) {
			if readRequest(c) == nil {
				c.Write([]byte(ok))
			}
		})
		tests = append(tests, struct {
			name string
			c    *HTTP
			want error
		}{"IPv6", &HTTP{Addr: v6, Bind: netip.IPv6Loopback(), Digest: okSum}, nil})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t, 5*time.Second)
			if tt.c.Version == HTTP11 { // the zero Version: keepalived's default instead
				tt.c.Version = HTTP10
			}
			tt.c.prep.Do(tt.c.prepare)
			err := tt.c.prepErr
			if err != nil { // Check's error, on either path
				checkErr(t, err, tt.want)
				return
			}
			{
				if tt.c.request == nil {
					t.Fatal("no request for checkOwn")
				}
				var handled bool
				if handled, err = tt.c.checkOwn(ctx); !handled {
					t.Fatal("checkOwn left the check to the net.Conn path")
				}
			}
			if malformed[tt.name] {
				if err == nil || Classify(err) != ClassOther || !strings.Contains(err.Error(), "reading the response: ") &&
					!strings.Contains(err.Error(), "reading body: ") {
					t.Errorf("%v (class %v), want a malformed response", err, Classify(err))
				}
			} else {
				checkErr(t, err, tt.want)
			}
			sameAsNetConn(t, err, tt.c, ctx)
		})
	}

	t.Run("request", func(t *testing.T) {
		addr, heads := recordingServer(t, ok)
		for _, c := range []*HTTP{
			{Addr: addr, Version: HTTP10},
			{Addr: addr, Version: HTTP10Close, Path: "caf\u00e9/?q=1&r=%41#top", Host: "www.example.org"},
		} {
			c.prep.Do(c.prepare)
			if _, err := c.checkOwn(testCtx(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			own := <-heads
			if err := c.checkNetConn(testCtx(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			if nc := <-heads; own != nc {
				t.Errorf("checkOwn sent %q\nnet.Conn: %q", own, nc)
			}
		}
	})

	t.Run("timeout", func(t *testing.T) {
		c := &HTTP{Addr: hang, Version: HTTP10}
		err := c.Check(testCtx(t, 100*time.Millisecond))
		<-arrived
		checkErr(t, err, context.DeadlineExceeded)
		if Classify(err) != ClassTimeout {
			t.Errorf("class %v, want timeout", Classify(err))
		}
		nerr := c.checkNetConn(testCtx(t, 100*time.Millisecond))
		<-arrived
		if text := localPort.ReplaceAllString(err.Error(), "$1:PORT->"); text != localPort.ReplaceAllString(nerr.Error(), "$1:PORT->") {
			t.Errorf("checkOwn: %v\nnet.Conn: %v", err, nerr)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		c := &HTTP{Addr: hang}
		run := func(check func(context.Context) error) error {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go func() { <-arrived; cancel() }()
			return check(ctx)
		}
		err := run(c.Check)
		checkErr(t, err, context.Canceled)
		nerr := run(c.checkNetConn)
		if text := localPort.ReplaceAllString(err.Error(), "$1:PORT->"); text != localPort.ReplaceAllString(nerr.Error(), "$1:PORT->") {
			t.Errorf("checkOwn: %v\nnet.Conn: %v", err, nerr)
		}
		if Classify(err) != Classify(nerr) {
			t.Errorf("class %v, the net.Conn path's %v", Classify(err), Classify(nerr))
		}
	})
}

func TestHTTPOwnNoRequest(t *testing.T) {
	// HTTP11 and TLS have no request for checkOwn: the net.Conn path.
	up := netip.MustParseAddrPort("127.0.0.1:7")
	for _, c := range []*HTTP{{Addr: up, Version: HTTP11}, {Addr: up, Version: HTTP10, TLS: &tls.Config{}}} {
		if c.prep.Do(c.prepare); c.request != nil {
			t.Errorf("%v (TLS %t): a request for checkOwn", c.Version, c.TLS != nil)
		}
	}
}

func TestParseHead(t *testing.T) {
	for _, tc := range []struct {
		head string
		want head10
		ok   bool
	}{
		{"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", head10{200, 3, true}, true},
		{"HTTP/1.0 200\r\n\r\n", head10{200, -1, true}, true},
		{"HTTP/1.1 404 Not Found\r\ncontent-length:  12 \r\nServer: x\r\n\r\n", head10{404, 12, false}, true},
		{"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", head10{200, 1, true}, true},
		{"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n", head10{200, 1, false}, true},
		{"HTTP/1.1 200 OK\r\n\r\n", head10{200, -1, true}, true},
		{"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", head10{304, 0, false}, true},
		{"HTTP/1.0 101 Switching\r\n\r\n", head10{101, 0, false}, true},
		{"HTTP/1.0 200 OK\r\nX: caf\xc3\xa9\r\n\r\n", head10{200, -1, true}, true},
		// Left to http.ReadResponse:
		{"HTTP/1.0 200 OK\nContent-Length: 3\r\n\r\n", head10{}, false},
		{"HTTP/1.0 200 OK\r\nA: b\rc\r\n\r\n", head10{}, false},
		{"HTTP/1.0  200 OK\r\n\r\n", head10{}, false},
		{"HTTP/1.0 200OK\r\n\r\n", head10{}, false},
		{"HTTP/1.2 200 OK\r\n\r\n", head10{}, false},
		{"HTTP/1.0 2x0 OK\r\n\r\n", head10{}, false},
		{"HTTP/1.0 200 OK\r\n folded\r\n\r\n", head10{}, false},
		{"HTTP/1.0 200 OK\r\nNo colon\r\n\r\n", head10{}, false},
		{"HTTP/1.0 200 OK\r\n: empty name\r\n\r\n", head10{}, false},
		{"HTTP/1.0 200 OK\r\nA\x7f: b\r\n\r\n", head10{}, false},
		{"HTTP/1.0 200 OK\r\nA: b\x00\r\n\r\n", head10{}, false},
		{"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", head10{}, false},
		{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", head10{}, false},
		{"HTTP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n", head10{}, false},
		{"HTTP/1.0 200 OK\r\nContent-Length: \r\n\r\n", head10{}, false},
		{"HTTP/1.0 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n", head10{}, false},
		{"HTTP/1.0 200 OK\r\n", head10{}, false},
	} {
		h, ok := parseHead([]byte(tc.head))
		if ok != tc.ok || (ok && h != tc.want) {
			t.Errorf("parseHead(%q) = %+v, %t; want %+v, %t", tc.head, h, ok, tc.want, tc.ok)
		}
	}
}

// rawHTTPServer answers each connection's request with resp, on 127.0.0.1,
// in blocking system calls that allocate nothing, until the test ends.
func rawHTTPServer(t testing.TB, resp string) netip.AddrPort {
	t.Helper()
	fd, ap := rawListener(t, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf, out := make([]byte, 4096), []byte(resp)
		for {
			nfd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), 0, 0, unix.SOCK_CLOEXEC, 0, 0)
			if errno == unix.EINTR {
				continue
			}
			if errno != 0 {
				return // shut down
			}
			for n := 0; n < len(buf) && !bytes.Contains(buf[:n], crlfcrlf); {
				m, err := unix.Read(int(nfd), buf[n:])
				if err == unix.EINTR {
					continue
				}
				if err != nil || m == 0 {
					break
				}
				n += m
			}
			unix.Write(int(nfd), out)
			unix.Close(int(nfd))
		}
	}()
	t.Cleanup(func() {
		unix.Shutdown(fd, unix.SHUT_RDWR) // ends the accept
		<-done
	})
	return ap
}

func TestHTTPOwnAllocs(t *testing.T) {
	const resp = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
	c := &HTTP{Addr: rawHTTPServer(t, resp), Version: HTTP10}
	ctx := t.Context()
	n := testing.AllocsPerRun(100, func() {
		if err := c.Check(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if n > 2 { // the socket address and the exchange
		t.Errorf("an HTTP/1.0 check allocates %v times, want 2", n)
	}
}

func BenchmarkHTTP10(b *testing.B) {
	c := &HTTP{Addr: rawHTTPServer(b, "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"), Version: HTTP10}
	c.prep.Do(c.prepare)
	ctx, cancel := context.WithTimeout(b.Context(), time.Hour)
	defer cancel()
	benchPaths(b, []benchPath{
		{"Check", func() error { return c.Check(ctx) }},
		{"NetConn", func() error { return c.checkNetConn(ctx) }},
	})
}
