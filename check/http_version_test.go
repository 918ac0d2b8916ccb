package check

import (
	"bufio"
	"crypto/md5"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestHTTPVersion checks the request of each version on the wire, as
// keepalived's request_template writes it.
func TestHTTPVersion(t *testing.T) {
	noLeaks(t)
	addr, heads := recordingServer(t, "HTTP/1.0 200 OK\r\n\r\nall systems go")
	for _, tc := range []struct {
		v        HTTPVersion
		line     string
		wantConn bool
	}{
		{HTTP11, "GET /ok HTTP/1.1\r\n", true},
		{HTTP10, "GET /ok HTTP/1.0\r\n", false},
		{HTTP10Close, "GET /ok HTTP/1.0\r\n", true},
	} {
		t.Run(tc.v.String(), func(t *testing.T) {
			c := &HTTP{Addr: addr, Path: "ok", Host: "www.example.org", Version: tc.v, Digest: md5Of("all systems go")}
			checkErr(t, c.Check(testCtx(t, 5*time.Second)), nil)
			head := <-heads
			if !strings.HasPrefix(head, tc.line) {
				t.Errorf("request %q, want it to start with %q", head, tc.line)
			}
			if got := strings.Contains(head, "\r\nConnection: close\r\n"); got != tc.wantConn {
				t.Errorf("request %q: Connection: close %t, want %t", head, got, tc.wantConn)
			}
			if !strings.Contains(head, "\r\nHost: www.example.org\r\n") {
				t.Errorf("request %q: no Host www.example.org", head)
			}
		})
	}
	t.Run("Host without virtual host", func(t *testing.T) {
		checkErr(t, (&HTTP{Addr: addr, Version: HTTP10}).Check(testCtx(t, 5*time.Second)), nil)
		if head := <-heads; !strings.Contains(head, "\r\nHost: "+addr.String()+"\r\n") {
			t.Errorf("request %q: want Host %s", head, addr)
		}
	})
}

// TestHTTP10 runs HTTP/1.0 checks against a Go server, over TLS too.
func TestHTTP10(t *testing.T) {
	noLeaks(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMinor != 0 {
			http.Error(w, "want HTTP/1.0", 400)
			return
		}
		if r.URL.Path == "/fail" {
			http.Error(w, "down", 500)
			return
		}
		w.Write([]byte("all systems go"))
	})
	plain, secure := serverAddr(httpServer(t, false, h)), httpServer(t, true, h)
	tlsCfg := secure.Client().Transport.(*http.Transport).TLSClientConfig
	for _, tt := range []struct {
		name string
		c    *HTTP
		want error
	}{
		{"ok", &HTTP{Addr: plain, Path: "/ok", Version: HTTP10, Digest: md5Of("all systems go")}, nil},
		{"500", &HTTP{Addr: plain, Path: "/fail", Version: HTTP10Close}, ErrUnexpected},
		{"tls", &HTTP{Addr: serverAddr(secure), Path: "/ok", Version: HTTP10, TLS: tlsCfg}, nil},
		{"closed port", &HTTP{Addr: closedTCPPort(t), Version: HTTP10}, errRefused},
		{"redirects need 1.1", &HTTP{Addr: plain, Version: HTTP10, FollowRedirects: true}, ErrInvalid},
		{"unknown version", &HTTP{Addr: plain, Version: 7}, ErrInvalid},
		{"space in the path", &HTTP{Addr: plain, Path: "/a?b c", Version: HTTP10}, ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.c.Check(testCtx(t, 5*time.Second)), tt.want)
		})
	}
}

// recordingServer answers each request with resp, after sending its
// head (up to and with the empty line) on heads, which holds one.
func recordingServer(t *testing.T, resp string) (addr netip.AddrPort, heads <-chan string) {
	t.Helper()
	c := make(chan string, 1)
	return tcpServer(t, func(conn net.Conn) {
		var head strings.Builder
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			head.WriteString(line)
			if err != nil || line == "\r\n" {
				break
			}
		}
		c <- head.String()
		conn.Write([]byte(resp))
	}), c
}

func md5Of(s string) []byte {
	sum := md5.Sum([]byte(s))
	return sum[:]
}
