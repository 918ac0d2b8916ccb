package check

import "bytes"

// head10 is what a check needs of a response's head.
type head10 struct {
	code    int   // the status code
	length  int64 // the body's: 0 none, < 0 up to the end of the stream
	closing bool  // the connection is not reused after the body: http's Body.Close does not read the rest
}

// parseHead reads head, a response's status line and header lines up
// to and with the empty line, as http.ReadResponse does, when it is
// sure to: ok false leaves to http.ReadResponse any head with a line
// not ended by CRLF, a CR or LF inside a line, a status line other than
// "HTTP/1.0 " or "HTTP/1.1 ", three digits and an optional reason
// after a space, a continued or malformed header line, a header
// field that textproto refuses, a Transfer-Encoding, or a
// Content-Length that is not one run of at most 18 digits.
func parseHead(head []byte) (h head10, ok bool) {
	line, rest, ok := nextLine(head)
	if !ok || len(line) < 12 || string(line[:7]) != "HTTP/1." || (line[7] != '0' && line[7] != '1') ||
		line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return h, false
	}
	for _, b := range line[9:12] {
		if b < '0' || b > '9' {
			return h, false
		}
		h.code = 10*h.code + int(b-'0')
	}
	minor := line[7] - '0'
	h.length = -1
	var hasLength, hasClose, hasKeepAlive bool
	for {
		if line, rest, ok = nextLine(rest); !ok {
			return h, false
		}
		if len(line) == 0 {
			break
		}
		k, v, found := bytes.Cut(line, []byte{':'})
		if !found || len(k) == 0 {
			return h, false
		}
		for _, b := range k {
			if !tokenByte(b) {
				return h, false
			}
		}
		for _, b := range v {
			if (b < ' ' && b != '\t') || b == 0x7f {
				return h, false
			}
		}
		v = trimOWS(v)
		switch {
		case equalFold(k, "Content-Length"):
			if hasLength || len(v) == 0 || len(v) > 18 {
				return h, false
			}
			h.length = 0
			for _, b := range v {
				if b < '0' || b > '9' {
					return h, false
				}
				h.length = 10*h.length + int64(b-'0')
			}
			hasLength = true
		case equalFold(k, "Transfer-Encoding"):
			return h, false
		case equalFold(k, "Connection"):
			hasClose = hasClose || hasToken(v, "close")
			hasKeepAlive = hasKeepAlive || hasToken(v, "keep-alive")
		}
	}
	if len(rest) != 0 {
		return h, false
	}
	switch {
	case h.code/100 == 1, h.code == 204, h.code == 304: // no body, whatever the header says
		h.length = 0
	case h.length < 0:
		h.closing = true // the body ends with the stream
	case minor == 0:
		h.closing = hasClose || !hasKeepAlive
	default:
		h.closing = hasClose
	}
	return h, true
}

// nextLine cuts the first line off b: ok false unless it ends with CRLF
// and has no other CR.
func nextLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' || bytes.IndexByte(b[:i-1], '\r') >= 0 {
		return nil, nil, false
	}
	return b[:i-1], b[i+1:], true
}

// tokenByte reports whether b may be in a header field's name (RFC 7230's
// tchar, textproto's validHeaderFieldByte).
func tokenByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return b < 0x80 && bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), b) >= 0
}

// trimOWS trims spaces and tabs off both ends of b.
func trimOWS(b []byte) []byte {
	return bytes.Trim(b, " \t")
}

// equalFold reports whether b is s (ASCII) but for case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// hasToken reports whether the comma-separated list v has token t, as
// httpguts.HeaderValuesContainsToken.
func hasToken(v []byte, t string) bool {
	for len(v) > 0 {
		var e []byte
		e, v, _ = bytes.Cut(v, []byte{','})
		if equalFold(trimOWS(e), t) {
			return true
		}
	}
	return false
}
