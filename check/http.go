package check

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// HTTP checks a web server with a GET request (keepalived's HTTP_GET, and
// SSL_GET when TLS is set). The response's status must be in Status, and its
// body must match Digest and Regexp when they are set. Each check opens a
// new connection to Addr, whatever Host says; redirects are not followed
// unless FollowRedirects is set. Fields must not change after the first Check.
type HTTP struct {
	// Addr is the server to connect to (connect_ip, connect_port).
	Addr netip.AddrPort
	// Bind is the local source address (bind_to); zero lets the kernel choose.
	Bind netip.Addr
	// Interface, when not empty, binds the socket to that network
	// interface (bind_if; SO_BINDTODEVICE, Linux only).
	Interface string
	// Path is the request's path and query (url path); empty means "/".
	Path string
	// Host is the Host header (virtualhost); empty means Addr.
	Host string
	// TLS, when non-nil, makes the check use HTTPS. An empty ServerName is
	// set to Host (without port), or else Addr's address. Set
	// InsecureSkipVerify to turn certificate verification off.
	TLS *tls.Config
	// Status lists the accepted status codes (status_code); empty means
	// 200–299.
	Status []StatusRange
	// Digest, when non-nil, is the MD5 sum the body must have (digest).
	Digest []byte
	// Regexp, when non-nil, must match the body (regex).
	Regexp *regexp.Regexp
	// MaxBody bounds the body read for Digest and Regexp; a longer body
	// fails. Zero means 1 MiB.
	MaxBody int64
	// FollowRedirects makes the check follow up to 10 redirects and judge
	// the last response; by default a redirect is itself the response.
	// It needs Version HTTP11.
	FollowRedirects bool
	// Version is the request's HTTP version and Connection header
	// (http_protocol); zero is HTTP11.
	Version HTTPVersion

	once   sync.Once
	client *http.Client

	prep    sync.Once
	prepErr error  // Validate's
	request []byte // the HTTP/1.0 request without TLS, for checkOwn
}

//go:generate go tool stringer -type=HTTPVersion -linecomment

// HTTPVersion is the version of an HTTP check's request, with
// keepalived's names.
type HTTPVersion int

// HTTP versions: HTTP11 (String "1.1", the default) sends HTTP/1.1 with
// "Connection: close"; HTTP10 ("1.0", keepalived's default) HTTP/1.0
// without a Connection header; HTTP10Close ("1.0C") HTTP/1.0 with
// "Connection: close".
const (
	HTTP11      HTTPVersion = iota // 1.1
	HTTP10                         // 1.0
	HTTP10Close                    // 1.0C
)

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Min, Max int }

// String returns "200" or "200-299".
func (r StatusRange) String() string {
	if r.Min == r.Max {
		return strconv.Itoa(r.Min)
	}
	return fmt.Sprintf("%d-%d", r.Min, r.Max)
}

const defaultMaxBody = 1 << 20

// String returns the URL checked, and the address when Host is set.
func (c *HTTP) String() string {
	if c.Host != "" {
		return c.url(c.Host) + " at " + c.Addr.String()
	}
	return c.url(c.Addr.String())
}

// Key identifies the probe for Group's deduplication.
func (c *HTTP) Key() string {
	return fmt.Sprintf("http|%s|%s|%s|%s|%q|%s|%v|%x|%s|%d|%t|%s",
		c.Addr, c.Bind, c.Interface, c.url(c.Host), c.Host, tlsKey(c.TLS), c.Status, c.Digest,
		c.Regexp, c.MaxBody, c.FollowRedirects, c.Version)
}

func (c *HTTP) url(host string) string {
	scheme := "http"
	if c.TLS != nil {
		scheme = "https"
	}
	path := c.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return scheme + "://" + host + path
}

// init builds the checker's own client: no proxy, no keep-alives, no
// compression (the digest is of the body as sent), no cookies.
func (c *HTTP) init() {
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer("tcp", c.Bind, c.Interface).DialContext,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	if c.TLS != nil {
		tr.TLSClientConfig = c.tlsConfig()
	}
	c.client = &http.Client{Transport: tr}
	if !c.FollowRedirects {
		c.client.CheckRedirect = func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}
	}
}

// tlsConfig returns TLS with its server name: Host's (without port),
// or else Addr's address.
func (c *HTTP) tlsConfig() *tls.Config {
	name := c.Addr.Addr().String()
	if c.Host != "" {
		name = c.Host
		if h, _, err := net.SplitHostPort(c.Host); err == nil {
			name = h
		}
	}
	return serverName(c.TLS, name)
}

// Validate reports every problem of c's configuration: Addr not a target
// address, Interface not an interface name, a Digest that is not an MD5 sum, a Path that makes no URL. Each
// is a *FieldError.
func (c *HTTP) Validate() error {
	errs := []error{checkTarget(c, "Addr", c.Addr), checkInterface(c, c.Interface)}
	if c.Digest != nil && len(c.Digest) != md5.Size {
		errs = append(errs, invalid(c, "Digest", fmt.Sprintf("%d bytes, want %d", len(c.Digest), md5.Size)))
	}
	if _, err := url.Parse(c.url("localhost")); err != nil { // the path's part of the URL
		errs = append(errs, invalid(c, "Path", err.Error()))
	} else if c.Version != HTTP11 && strings.ContainsAny(c.Path, " \r\n") {
		errs = append(errs, invalid(c, "Path", fmt.Sprintf("%q has white space", c.Path)))
	}
	switch {
	case c.Version < HTTP11 || c.Version > HTTP10Close:
		errs = append(errs, invalid(c, "Version", fmt.Sprintf("unknown version %d", int(c.Version))))
	case c.Version != HTTP11 && c.FollowRedirects:
		errs = append(errs, invalid(c, "FollowRedirects", "needs Version HTTP11"))
	}
	return errors.Join(errs...)
}

// Check sends the request and judges the response. It validates c at its
// first call only. On Linux, an HTTP/1.0 check (HTTP10, HTTP10Close)
// without TLS or Interface, to an address without a zone, runs on a
// socket of its own rather than through net.Dialer and net/http, with
// the same request, verdicts and errors.
func (c *HTTP) Check(ctx context.Context) error {
	c.prep.Do(c.prepare)
	if c.prepErr != nil {
		return c.prepErr
	}
	if c.request != nil {
		if ok, err := c.checkOwn(ctx); ok {
			return err
		}
	}
	return c.checkNetConn(ctx)
}

// checkNetConn is Check through net/http (HTTP11) or net.Dialer and
// http.ReadResponse (HTTP10, HTTP10Close), after prepare.
func (c *HTTP) checkNetConn(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(c.Addr.String()), nil)
	if err != nil {
		return invalid(c, "Path", err.Error())
	}
	req.Host = c.Host
	req.Header.Set("User-Agent", userAgent)
	var resp *http.Response
	if c.Version == HTTP11 {
		c.once.Do(c.init)
		resp, err = c.client.Do(req)
	} else {
		var conn net.Conn
		if conn, err = c.dial10(ctx); err == nil {
			br := readerPool.Get().(*bufio.Reader)
			defer putReader(br) // after the body's Close, which may read
			defer conn.Close()
			stop := watchConn(ctx, conn)
			defer stop()
			resp, err = c.get10(conn, req, br)
		}
	}
	if err != nil {
		return fmt.Errorf("check: %s: %w", c, ctxErr(ctx, err))
	}
	defer resp.Body.Close()
	return c.judge(ctx, resp.StatusCode, resp.Body)
}

// prepare validates c once, for every Check, and makes the request of an
// HTTP/1.0 check without TLS, which checkOwn sends.
func (c *HTTP) prepare() {
	if c.prepErr = c.Validate(); c.prepErr != nil || c.Version == HTTP11 || c.TLS != nil {
		return
	}
	u, err := url.Parse(c.url(c.Addr.String()))
	if err != nil {
		return // Check's http.NewRequestWithContext says so
	}
	c.request = c.request10(u.RequestURI(), cmp.Or(c.Host, u.Host))
}

// judge returns the verdict on a response with status code and body
// (read for Digest and Regexp only, up to MaxBody).
func (c *HTTP) judge(ctx context.Context, code int, body io.Reader) error {
	if !c.statusOK(code) {
		return fmt.Errorf("check: %s: status %d, want %s: %w", c, code, c.wantStatus(), ErrUnexpected)
	}
	if c.Digest == nil && c.Regexp == nil {
		return nil
	}
	limit := c.MaxBody
	if limit <= 0 {
		limit = defaultMaxBody
	}
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return fmt.Errorf("check: %s: reading body: %w", c, ctxErr(ctx, err))
	}
	if int64(len(b)) > limit {
		return fmt.Errorf("check: %s: body longer than %d bytes: %w", c, limit, ErrUnexpected)
	}
	if c.Digest != nil {
		if sum := md5.Sum(b); !bytes.Equal(sum[:], c.Digest) {
			return fmt.Errorf("check: %s: body digest %x, want %x: %w", c, sum, c.Digest, ErrUnexpected)
		}
	}
	if c.Regexp != nil && !c.Regexp.Match(b) {
		return fmt.Errorf("check: %s: body does not match %q: %w", c, c.Regexp, ErrUnexpected)
	}
	return nil
}

// userAgent is the User-Agent header of the requests.
const userAgent = "vigil-check"

// dial10 connects for an HTTP/1.0 request, with TLS if set.
func (c *HTTP) dial10(ctx context.Context) (net.Conn, error) {
	conn, err := dialer("tcp", c.Bind, c.Interface).DialContext(ctx, "tcp", c.Addr.String())
	if err != nil || c.TLS == nil {
		return conn, err
	}
	tc := tls.Client(conn, c.tlsConfig())
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// readerPool holds the HTTP/1.0 checks' response readers: a 4 KiB
// buffer per check was half the bytes a Group of HTTP checks allocated.
var readerPool = sync.Pool{New: func() any { return bufio.NewReader(nil) }}

// putReader returns br to readerPool, holding no connection.
func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readerPool.Put(br)
}

// get10 sends req on conn as keepalived's HTTP/1.0 request
// (request10) and reads the response with br, which must not be used
// again until the response's body is closed.
func (c *HTTP) get10(conn net.Conn, req *http.Request, br *bufio.Reader) (*http.Response, error) {
	if _, err := conn.Write(c.request10(req.URL.RequestURI(), cmp.Or(req.Host, req.URL.Host))); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	br.Reset(io.LimitReader(conn, c.responseLimit()))
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, fmt.Errorf("reading the response: %w", err)
	}
	return resp, nil
}

// request10 is keepalived's HTTP/1.0 request for uri at host, with
// "Connection: close" for HTTP10Close.
func (c *HTTP) request10(uri, host string) []byte {
	hdr := ""
	if c.Version == HTTP10Close {
		hdr = "Connection: close\r\n"
	}
	return []byte("GET " + uri + " HTTP/1.0\r\nUser-Agent: " + userAgent + "\r\n" + hdr + "Host: " + host + "\r\n\r\n")
}

// responseLimit bounds the bytes an HTTP/1.0 check reads: its head
// (64 KiB) and its body (MaxBody or 1 MiB, whichever is more), and one.
func (c *HTTP) responseLimit() int64 { return 64<<10 + max(c.MaxBody, defaultMaxBody) + 1 }

func (c *HTTP) statusOK(code int) bool {
	if len(c.Status) == 0 {
		return code >= 200 && code <= 299
	}
	for _, r := range c.Status {
		if code >= r.Min && code <= r.Max {
			return true
		}
	}
	return false
}

func (c *HTTP) wantStatus() string {
	if len(c.Status) == 0 {
		return "200-299"
	}
	s := make([]string, len(c.Status))
	for i, r := range c.Status {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}
