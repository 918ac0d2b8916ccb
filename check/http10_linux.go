package check

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sync"
)

// checkOwn is Check of an HTTP/1.0 check without TLS (c.request set) on
// a socket of its own (sock) rather than through net.Dialer and
// net/http: it sends c.request, reads the response's head into a pooled
// buffer and judges it as the net.Conn path does. It reads the heads
// that parseHead is sure of itself, and hands any other (longer than
// the buffer, cut short, malformed, chunked ...) with what it has read
// to http.ReadResponse, as the net.Conn path does. So its verdicts,
// and its errors but for the local port, are the net.Conn path's. It
// reports handled false, having done nothing, for what it leaves to
// that path (ownSocket).
func (c *HTTP) checkOwn(ctx context.Context) (handled bool, err error) {
	if !ownSocket(ctx, c.Addr, c.Bind, c.Interface) {
		return false, nil
	}
	s, err := dialSock(ctx, c.Addr, c.Bind)
	if err != nil {
		return true, fmt.Errorf("check: %s: %w", c, ctxErr(ctx, dialError(c.Addr, c.Bind, err)))
	}
	x := &exchange{ctx: ctx, s: s, raddr: c.Addr, left: c.responseLimit(), wait: true}
	defer x.s.close()
	if err := x.s.write(ctx, c.request); err != nil {
		return true, fmt.Errorf("check: %s: send: %w", c, ctxErr(ctx, x.s.opError("write", c.Addr, err)))
	}

	buf := headPool.Get().(*[headSize]byte)
	defer headPool.Put(buf)
	n, end := 0, -1
	var rerr error
	for end < 0 && rerr == nil && n < len(buf) {
		var m int
		m, rerr = x.Read(buf[n:])
		from := max(n-3, 0)
		n += m
		if i := bytes.Index(buf[from:n], crlfcrlf); i >= 0 {
			end = from + i + len(crlfcrlf)
		}
	}
	if end >= 0 {
		if h, ok := parseHead(buf[:end]); ok {
			var body io.Reader = http.NoBody
			var b *body10
			if h.length != 0 && (c.Digest != nil || c.Regexp != nil || (h.length > 0 && !h.closing)) {
				b = &body10{x: x, rest: buf[end:n], n: h.length}
				body = b
			}
			err := c.judge(ctx, h.code, body)
			if b != nil && h.length > 0 && !h.closing && !b.eof {
				_, _ = io.Copy(io.Discard, b) // as http's Body.Close, which reads the rest
			}
			return true, err
		}
	}
	br := readerPool.Get().(*bufio.Reader)
	defer putReader(br) // after the body's Close, which may read
	br.Reset(&replay{b: buf[:n], err: rerr, r: x})
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return true, fmt.Errorf("check: %s: %w", c, ctxErr(ctx, fmt.Errorf("reading the response: %w", err)))
	}
	defer resp.Body.Close()
	return true, c.judge(ctx, resp.StatusCode, resp.Body)
}

// headSize is the buffer for a response's head (and what comes with
// it), as the net.Conn path's bufio.Reader's.
const headSize = 4 << 10

// headPool holds checkOwn's buffers.
var headPool = sync.Pool{New: func() any { return new([headSize]byte) }}

var crlfcrlf = []byte("\r\n\r\n")

// exchange is checkOwn's connection, read as the net.Conn path reads
// its own: through an io.LimitReader of left bytes, with net.Conn's
// errors.
type exchange struct {
	ctx   context.Context
	s     sock
	raddr netip.AddrPort
	left  int64 // bytes it may still read
	wait  bool  // the next read waits first: the request has just left
}

func (x *exchange) Read(p []byte) (int, error) {
	if x.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > x.left {
		p = p[:x.left]
	}
	n, err := x.s.read(x.ctx, p, x.wait)
	x.wait = false
	x.left -= int64(n)
	if err != nil && err != io.EOF {
		err = x.s.opError("read", x.raddr, err)
	}
	return n, err
}

// replay reads b, then returns err if not nil (and again at every
// call), else reads r: http.ReadResponse's view of a connection of which
// b has been read, with err.
type replay struct {
	b   []byte
	err error
	r   io.Reader
}

func (p *replay) Read(q []byte) (int, error) {
	if len(p.b) > 0 {
		n := copy(q, p.b)
		p.b = p.b[n:]
		return n, nil
	}
	if p.err != nil {
		return 0, p.err
	}
	return p.r.Read(q)
}

// body10 is a response's body as http.ReadResponse's reads it from the
// head's buffer and the connection: n bytes (a Content-Length) or up to
// the end of the stream (n < 0), io.ErrUnexpectedEOF if the stream ends
// short of n.
type body10 struct {
	x    io.Reader
	rest []byte // read with the head
	n    int64  // bytes left; < 0: up to the end of the stream
	eof  bool   // the body has ended
}

func (b *body10) Read(p []byte) (int, error) {
	if b.eof || b.n == 0 {
		return 0, io.EOF
	}
	if b.n > 0 && int64(len(p)) > b.n {
		p = p[:b.n]
	}
	var n int
	var err error
	if len(b.rest) > 0 {
		n = copy(p, b.rest)
		b.rest = b.rest[n:]
	} else {
		n, err = b.x.Read(p)
	}
	if b.n > 0 {
		b.n -= int64(n)
	}
	switch {
	case err == io.EOF:
		b.eof = true
		if b.n > 0 {
			err = io.ErrUnexpectedEOF
		}
	case err == nil && n > 0 && b.n == 0:
		b.eof, err = true, io.EOF
	}
	return n, err
}
