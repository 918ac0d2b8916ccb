package check

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestHTTP(t *testing.T) {
	noLeaks(t)
	const body = "<html>all systems go</html>"
	sum := md5.Sum([]byte(body))
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 2<<20)) })
	mux.HandleFunc("/vhost", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "www.example.org" || r.Method != http.MethodGet {
			http.NotFound(w, r)
		}
	})
	addr := serverAddr(httpServer(t, false, mux))
	other := sum
	other[0]++

	tests := []struct {
		name string
		c    *HTTP
		want error
	}{
		{"ok", &HTTP{Addr: addr, Path: "/ok"}, nil},
		{"path without slash", &HTTP{Addr: addr, Path: "ok"}, nil},
		{"500", &HTTP{Addr: addr, Path: "/fail"}, ErrUnexpected},
		{"500 accepted", &HTTP{Addr: addr, Path: "/fail", Status: []StatusRange{{200, 200}, {500, 599}}}, nil},
		{"404", &HTTP{Addr: addr, Path: "/none"}, ErrUnexpected},
		{"only 204", &HTTP{Addr: addr, Path: "/ok", Status: []StatusRange{{204, 204}}}, ErrUnexpected},
		{"redirect not followed", &HTTP{Addr: addr, Path: "/moved"}, ErrUnexpected},
		{"redirect accepted", &HTTP{Addr: addr, Path: "/moved", Status: []StatusRange{{300, 399}}}, nil},
		{"redirect followed", &HTTP{Addr: addr, Path: "/moved", FollowRedirects: true, Digest: sum[:]}, nil},
		{"digest", &HTTP{Addr: addr, Path: "/ok", Digest: sum[:]}, nil},
		{"wrong digest", &HTTP{Addr: addr, Path: "/ok", Digest: other[:]}, ErrUnexpected},
		{"bad digest", &HTTP{Addr: addr, Path: "/ok", Digest: []byte{1}}, ErrInvalid},
		{"regexp", &HTTP{Addr: addr, Path: "/ok", Regexp: regexp.MustCompile(`systems\s+go`)}, nil},
		{"wrong regexp", &HTTP{Addr: addr, Path: "/ok", Regexp: regexp.MustCompile(`down`)}, ErrUnexpected},
		{"digest and regexp", &HTTP{Addr: addr, Path: "/ok", Digest: sum[:], Regexp: regexp.MustCompile(`go`)}, nil},
		{"body too big", &HTTP{Addr: addr, Path: "/big", Regexp: regexp.MustCompile(`x`)}, ErrUnexpected},
		{"big body unread", &HTTP{Addr: addr, Path: "/big"}, nil},
		{"virtual host", &HTTP{Addr: addr, Path: "/vhost", Host: "www.example.org"}, nil},
		{"wrong virtual host", &HTTP{Addr: addr, Path: "/vhost"}, ErrUnexpected},
		{"closed port", &HTTP{Addr: closedTCPPort(t)}, errRefused},
		{"no address", &HTTP{}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.c.Check(testCtx(t, 5*time.Second)), tt.want)
		})
	}
	// The checker is reusable, also concurrently.
	c := &HTTP{Addr: addr, Path: "/ok", Digest: sum[:]}
	errs := make(chan error, 8)
	for range cap(errs) {
		go func() { errs <- c.Check(testCtx(t, 5*time.Second)) }()
	}
	for range cap(errs) {
		checkErr(t, <-errs, nil)
	}
}

func TestHTTPS(t *testing.T) {
	noLeaks(t)
	srv := httpServer(t, true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || r.TLS.ServerName != "example.com" {
			http.Error(w, "wrong SNI", http.StatusMisdirectedRequest)
		}
	}))
	addr := serverAddr(srv)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate()) // valid for example.com and 127.0.0.1

	checkErr(t, (&HTTP{Addr: addr, Host: "example.com", TLS: &tls.Config{RootCAs: roots}}).Check(testCtx(t, 5*time.Second)), nil)
	checkErr(t, (&HTTP{Addr: addr, TLS: &tls.Config{RootCAs: roots, ServerName: "example.com"}}).Check(testCtx(t, 5*time.Second)), nil)
	// Verified against the address, no SNI: the handler says 421.
	checkErr(t, (&HTTP{Addr: addr, TLS: &tls.Config{RootCAs: roots}}).Check(testCtx(t, 5*time.Second)), ErrUnexpected)
	checkErr(t, (&HTTP{Addr: addr, Host: "example.com", TLS: &tls.Config{InsecureSkipVerify: true}}).Check(testCtx(t, 5*time.Second)), nil)
	var unknown x509.UnknownAuthorityError
	if err := (&HTTP{Addr: addr, Host: "example.com", TLS: &tls.Config{}}).Check(testCtx(t, 5*time.Second)); !errors.As(err, &unknown) {
		t.Fatalf("verification on, unknown CA: %v, want x509.UnknownAuthorityError", err)
	}
	if err := (&HTTP{Addr: addr, Host: "wrong.test", TLS: &tls.Config{RootCAs: roots}}).Check(testCtx(t, 5*time.Second)); err == nil {
		t.Fatal("certificate for the wrong name accepted")
	}
	// Plain HTTP to a TLS server fails.
	if err := (&HTTP{Addr: addr}).Check(testCtx(t, 5*time.Second)); !errors.Is(err, ErrUnexpected) {
		t.Fatalf("plain HTTP to HTTPS: %v, want ErrUnexpected (status 400)", err)
	}
}

func TestHTTPContext(t *testing.T) {
	noLeaks(t)
	arrived := make(chan struct{}, 1)
	addr := serverAddr(httpServer(t, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done() // hang until the client goes away
	})))
	c := &HTTP{Addr: addr}
	err := c.Check(testCtx(t, 100*time.Millisecond))
	<-arrived
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung server: %v, want DeadlineExceeded", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-arrived; cancel() }()
	if err := c.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v, want Canceled", err)
	}
	if s := c.String(); !strings.HasPrefix(s, "http://127.0.0.1:") {
		t.Errorf("String() = %q", s)
	}
}
