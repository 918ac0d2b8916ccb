package check

import (
	"bytes"
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
	FollowRedirects bool

	once   sync.Once
	client *http.Client
}

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
	return fmt.Sprintf("http|%s|%s|%s|%q|%s|%v|%x|%s|%d|%t",
		c.Addr, c.Bind, c.url(c.Host), c.Host, tlsKey(c.TLS), c.Status, c.Digest,
		c.Regexp, c.MaxBody, c.FollowRedirects)
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
		DialContext:            dialer("tcp", c.Bind).DialContext,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	if c.TLS != nil {
		name := c.Addr.Addr().String()
		if c.Host != "" {
			name = c.Host
			if h, _, err := net.SplitHostPort(c.Host); err == nil {
				name = h
			}
		}
		tr.TLSClientConfig = serverName(c.TLS, name)
	}
	c.client = &http.Client{Transport: tr}
	if !c.FollowRedirects {
		c.client.CheckRedirect = func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}
	}
}

// Validate reports every problem of c's configuration: Addr not a target
// address, a Digest that is not an MD5 sum, a Path that makes no URL. Each
// is a *FieldError.
func (c *HTTP) Validate() error {
	errs := []error{checkTarget(c, "Addr", c.Addr)}
	if c.Digest != nil && len(c.Digest) != md5.Size {
		errs = append(errs, invalid(c, "Digest", fmt.Sprintf("%d bytes, want %d", len(c.Digest), md5.Size)))
	}
	if _, err := url.Parse(c.url("localhost")); err != nil { // the path's part of the URL
		errs = append(errs, invalid(c, "Path", err.Error()))
	}
	return errors.Join(errs...)
}

// Check sends the request and judges the response.
func (c *HTTP) Check(ctx context.Context) error {
	if err := c.Validate(); err != nil {
		return err
	}
	c.once.Do(c.init)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(c.Addr.String()), nil)
	if err != nil {
		return invalid(c, "Path", err.Error())
	}
	req.Host = c.Host
	req.Header.Set("User-Agent", "vigil-check")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("check: %s: %w", c, ctxErr(ctx, err))
	}
	defer resp.Body.Close()
	if !c.statusOK(resp.StatusCode) {
		return fmt.Errorf("check: %s: status %d, want %s: %w", c, resp.StatusCode, c.wantStatus(), ErrUnexpected)
	}
	if c.Digest == nil && c.Regexp == nil {
		return nil
	}
	limit := c.MaxBody
	if limit <= 0 {
		limit = defaultMaxBody
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("check: %s: reading body: %w", c, ctxErr(ctx, err))
	}
	if int64(len(body)) > limit {
		return fmt.Errorf("check: %s: body longer than %d bytes: %w", c, limit, ErrUnexpected)
	}
	if c.Digest != nil {
		if sum := md5.Sum(body); !bytes.Equal(sum[:], c.Digest) {
			return fmt.Errorf("check: %s: body digest %x, want %x: %w", c, sum, c.Digest, ErrUnexpected)
		}
	}
	if c.Regexp != nil && !c.Regexp.Match(body) {
		return fmt.Errorf("check: %s: body does not match %q: %w", c, c.Regexp, ErrUnexpected)
	}
	return nil
}

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
