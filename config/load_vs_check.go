package config

import (
	"cmp"
	"encoding/hex"
	"maps"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/check"
)

// The checkers of a real server (check_api.c, check_tcp.c, check_http.c,
// check_misc.c, check_smtp.c, check_dns.c, check_ping.c, check_udp.c,
// check_file.c).

// Checker defaults that are not check.Policy's.
const (
	smtpDefaultHELO     = "smtpchecker.keepalived.org"
	httpRetryDelay      = 3 * time.Second
	fileCheckInterval   = time.Second
	maxMiscTimeout      = math.MaxUint32 / 1000000 // seconds
	defaultCheckRetries = 1
)

// connOpts are a checker's connection keywords (and an SMTP_CHECK host
// block's).
type connOpts struct {
	s       *Statement
	ip      opt[netip.Addr]
	port    opt[uint16]
	bind    netip.Addr
	iface   string // bind_if
	timeout opt[time.Duration]
	set     bool // any of them given
}

// chkDef is a checker while its virtual server is read: the checkers are
// made when the real server's port and the inherited settings are known.
type chkDef struct {
	r    *rsDef
	s    *Statement
	kind *checkKind
	t    timing
	// conn is the target of a checker that connects (kind.conn), hosts
	// SMTP_CHECK's host blocks: the targets are conn unless only hosts
	// are given, and the hosts.
	conn  connOpts
	hosts []*connOpts
	// retries and retryDelay are the checker type's defaults; a zero
	// retryDelay is the interval (DNS_CHECK).
	retries    int
	retryDelay time.Duration
	logAll     bool // log_all_failures
	// misc is set for MISC_CHECK: its timeout is misc_timeout, or the
	// virtual server's delay_loop.
	misc        bool
	miscTimeout opt[time.Duration]
	interval    opt[time.Duration] // FILE_CHECK: fixed
	needPort    bool
	// The settings of the checker types but TCP_CHECK and PING_CHECK.
	http *httpDef
	exec *check.Exec
	smtp *check.SMTP
	dns  *check.DNS
	udp  *check.UDP
	file *fileDef
}

// what describes c's block in diagnostics.
func (c *chkDef) what() string { return c.r.what() + ": " + c.s.Words[0] }

// checkKind is a type of checker.
type checkKind struct {
	keys    kwTable[*chkDef]
	ignored map[string]string
	conn    bool // the checker connects to a target
	// start gives a new checker its type's defaults; finish completes
	// it after its block and reports whether it is valid.
	start  func(c *chkDef)
	finish func(l *loader, c *chkDef) bool
	// build appends the checks of one target to out: dst and co are
	// zero without a target.
	build func(c *chkDef, out []vigil.RealServerCheck, pol check.Policy, dst netip.AddrPort, co *connOpts, vhost string) []vigil.RealServerCheck
}

// readCheck reads checker block s of real server r.
func readCheck(l *loader, r *rsDef, s *Statement) {
	k := checkKinds[s.Words[0]]
	c := l.free.chk()
	c.r, c.s, c.kind, c.retries, c.retryDelay = r, s, k, defaultCheckRetries, check.DefaultRetryDelay
	if k.conn {
		c.conn.s = s
		c.needPort = true
	}
	if k.start != nil {
		k.start(c)
	}
	l.count(s, 0, 0)
	readBlock(l, c.what, s.Block, k.keys, c, k.ignored)
	if k.finish == nil || k.finish(l, c) {
		r.checks = append(r.checks, c)
	}
}

// connKeys are the handlers of the connection keywords.
func connKeys() kwTable[*connOpts] {
	return kwTable[*connOpts]{
		"connect_ip": func(l *loader, c *connOpts, s *Statement) {
			if l.args(s, 1, 1) {
				if a, ok := l.addr(s, 1); ok {
					if c.bind.IsValid() && c.bind.Is6() != a.Is6() {
						l.errorf(s.WordPos(1), "connect_ip %v does not match the family of bindto %v: ignored", a, c.bind)
						return
					}
					c.ip.put(a)
					c.set = true
				}
			}
		},
		"connect_port": func(l *loader, c *connOpts, s *Statement) {
			if l.args(s, 1, 1) {
				if n, ok := l.intArg(s, 1, 1, 65535); ok {
					c.port.put(uint16(n))
					c.set = true
				}
			}
		},
		"bindto": func(l *loader, c *connOpts, s *Statement) {
			if l.args(s, 1, 1) {
				if a, ok := l.addr(s, 1); ok {
					if c.ip.set && c.ip.v.Is6() != a.Is6() {
						l.errorf(s.WordPos(1), "bindto %v does not match the family of connect_ip %v: ignored", a, c.ip.v)
						return
					}
					c.bind = a
					c.set = true
				}
			}
		},
		"bind_if": func(l *loader, c *connOpts, s *Statement) {
			if l.args(s, 1, 1) {
				if len(s.Words[1]) > maxInterfaceName {
					l.errorf(s.WordPos(1), "bind_if: interface name %q is too long (%d bytes at most): ignored", s.Words[1], maxInterfaceName)
					return
				}
				c.iface = s.Words[1]
				c.set = true
			}
		},
		"connect_timeout": func(l *loader, c *connOpts, s *Statement) {
			if l.args(s, 1, 1) {
				if d, ok := l.secsArg(s, 1, 1e-6, maxTimer, time.Microsecond); ok {
					c.timeout.put(d)
					c.set = true
				}
			}
		},
	}
}

// maxInterfaceName is the longest interface name (IFNAMSIZ - 1).
const maxInterfaceName = 15

// connIgnored are the connection keywords vigil does not map.
var connIgnored = map[string]string{
	"bind_port": "not supported (the kernel chooses the source port)",
	"fwmark":    "not supported (checks set no SO_MARK)",
}

// checkTable returns the checker types by keyword.
func checkTable() map[string]*checkKind {
	conn := connKeys()
	// keys are the handlers of a checker's keywords: own, the connection
	// keywords on the checker's target with conn, and the timing ones.
	keys := func(own kwTable[*chkDef], withConn bool) kwTable[*chkDef] {
		hs := merge(own)
		if withConn {
			for kw, h := range conn {
				hs[kw] = func(l *loader, c *chkDef, s *Statement) { h(l, &c.conn, s) }
			}
		}
		hs["log_all_failures"] = func(l *loader, c *chkDef, s *Statement) {
			if b, ok := l.boolArg(s); ok {
				c.logAll = b
			}
		}
		return merge(hs, timingKeys(func(c *chkDef) *timing { return &c.t }, 0, false))
	}
	// ignored are the ignored keywords of a checker: own and the
	// connection ones with conn.
	ignored := func(own map[string]string, withConn bool) map[string]string {
		ign := map[string]string{}
		if withConn {
			ign = maps.Clone(connIgnored)
		}
		maps.Copy(ign, own)
		return ign
	}
	kind := func(k *checkKind, own map[string]string) *checkKind {
		k.keys, k.ignored = keys(k.keys, k.conn), ignored(own, k.conn)
		return k
	}
	one := func(out []vigil.RealServerCheck, ch check.Checker, pol check.Policy) []vigil.RealServerCheck {
		return append(out, vigil.RealServerCheck{Checker: ch, Policy: pol})
	}
	http := kind(&checkKind{
		keys:   httpKeys(),
		conn:   true,
		start:  func(c *chkDef) { c.http = &httpDef{ssl: c.s.Words[0] == "SSL_GET"} },
		finish: finishHTTP,
		build:  buildHTTP,
	}, map[string]string{
		"tls_compliant": "not supported (vigil always ends TLS with close_notify)",
	})
	return map[string]*checkKind{
		"TCP_CHECK": kind(&checkKind{
			conn: true,
			build: func(_ *chkDef, out []vigil.RealServerCheck, pol check.Policy, dst netip.AddrPort, co *connOpts, _ string) []vigil.RealServerCheck {
				return one(out, &check.TCP{Addr: dst, Bind: co.bind, Interface: co.iface}, pol)
			},
		}, nil),
		"HTTP_GET": http,
		"SSL_GET":  http,
		"MISC_CHECK": kind(&checkKind{
			keys:  miscKeys(),
			start: func(c *chkDef) { c.exec = &check.Exec{} },
			finish: func(l *loader, c *chkDef) bool {
				if c.exec.Path == "" {
					l.errorf(c.s.Pos, "MISC_CHECK: no misc_path: ignored")
					return false
				}
				c.misc, c.retries = true, 0
				return true
			},
			build: func(c *chkDef, out []vigil.RealServerCheck, pol check.Policy, _ netip.AddrPort, _ *connOpts, _ string) []vigil.RealServerCheck {
				return one(out, c.exec, pol)
			},
		}, nil),
		"SMTP_CHECK": kind(&checkKind{
			keys:  smtpKeys(conn),
			conn:  true,
			start: func(c *chkDef) { c.smtp = &check.SMTP{HELO: smtpDefaultHELO} },
			finish: func(l *loader, c *chkDef) bool {
				if len(c.hosts) > 0 {
					l.warnf(c.s.Pos, "SMTP_CHECK: the host block is deprecated: define more checkers")
				}
				return true
			},
			build: func(c *chkDef, out []vigil.RealServerCheck, pol check.Policy, dst netip.AddrPort, co *connOpts, _ string) []vigil.RealServerCheck {
				m := *c.smtp
				m.Addr, m.Bind, m.Interface = dst, co.bind, co.iface
				return one(out, &m, pol)
			},
		}, nil),
		"DNS_CHECK": kind(&checkKind{
			keys:  dnsKeys(),
			conn:  true,
			start: func(c *chkDef) { c.dns = &check.DNS{Type: dns.TypeSOA} },
			finish: func(_ *loader, c *chkDef) bool {
				c.retries, c.retryDelay = 3, 0
				return true
			},
			build: func(c *chkDef, out []vigil.RealServerCheck, pol check.Policy, dst netip.AddrPort, co *connOpts, _ string) []vigil.RealServerCheck {
				q := *c.dns
				q.Server, q.Bind, q.Interface = dst, co.bind, co.iface
				return one(out, &q, pol)
			},
		}, nil),
		"PING_CHECK": kind(&checkKind{
			conn: true,
			finish: func(_ *loader, c *chkDef) bool {
				c.needPort = false
				return true
			},
			build: func(_ *chkDef, out []vigil.RealServerCheck, pol check.Policy, dst netip.AddrPort, co *connOpts, _ string) []vigil.RealServerCheck {
				return one(out, &check.ICMP{Addr: dst.Addr(), Bind: co.bind, Interface: co.iface}, pol)
			},
		}, nil),
		"UDP_CHECK": kind(&checkKind{
			keys:  udpKeys(),
			conn:  true,
			start: func(c *chkDef) { c.udp = &check.UDP{} },
			build: func(c *chkDef, out []vigil.RealServerCheck, pol check.Policy, dst netip.AddrPort, co *connOpts, _ string) []vigil.RealServerCheck {
				q := *c.udp
				q.Addr, q.Bind, q.Interface = dst, co.bind, co.iface
				return one(out, &q, pol)
			},
			finish: func(l *loader, c *chkDef) bool {
				if u := c.udp; u.MaxReply > 0 && u.MinReply > u.MaxReply {
					l.warnf(c.s.Pos, "UDP_CHECK: min_reply_length %d > max_reply_length %d: will always fail", u.MinReply, u.MaxReply)
				}
				return true
			},
		}, nil),
		"FILE_CHECK": kind(&checkKind{
			keys:  fileKeys(),
			start: func(c *chkDef) { c.file = &fileDef{} },
			finish: func(l *loader, c *chkDef) bool {
				if c.file.def == nil {
					l.errorf(c.s.Pos, "FILE_CHECK: no track_file: ignored")
					return false
				}
				c.file.def.used = true
				c.interval.put(fileCheckInterval)
				return true
			},
			build: func(c *chkDef, out []vigil.RealServerCheck, pol check.Policy, _ netip.AddrPort, _ *connOpts, _ string) []vigil.RealServerCheck {
				q := c.file.f
				return one(out, &q, pol)
			},
		}, nil),
	}
}

func miscKeys() kwTable[*chkDef] {
	return kwTable[*chkDef]{
		"misc_path": func(l *loader, c *chkDef, s *Statement) {
			if sc, ok := l.scriptWords(s, false); ok {
				c.exec.Path, c.exec.Args = sc.Args[0], sc.Args[1:]
			}
		},
		"misc_timeout": func(l *loader, c *chkDef, s *Statement) {
			if l.args(s, 1, 1) {
				if n, ok := l.intArg(s, 1, 0, maxMiscTimeout); ok && n > 0 {
					c.miscTimeout.put(time.Duration(n) * time.Second)
				}
			}
		},
		"misc_dynamic": flagKey(func(_ *loader, c *chkDef) { c.exec.Dynamic = true }),
		"user": func(l *loader, c *chkDef, s *Statement) {
			if l.args(s, 1, 2) {
				c.exec.User = s.Words[1]
				if len(s.Words) > 2 {
					c.exec.Group = strings.TrimPrefix(s.Words[2], ":")
				}
			}
		},
	}
}

func smtpKeys(conn kwTable[*connOpts]) kwTable[*chkDef] {
	return kwTable[*chkDef]{
		"helo_name": wordKey(func(c *chkDef, w string) { c.smtp.HELO = w }),
		"host": func(l *loader, c *chkDef, s *Statement) {
			if !l.needBlock(s, 0, 0) {
				return
			}
			h := &connOpts{s: s}
			readBlock(l, func() string { return c.what() + ": host" }, s.Block, conn, h, connIgnored)
			c.hosts = append(c.hosts, h)
		},
	}
}

func dnsKeys() kwTable[*chkDef] {
	return kwTable[*chkDef]{
		"type": func(l *loader, c *chkDef, s *Statement) {
			if l.args(s, 1, 1) {
				t, ok := dnsTypes[strings.ToUpper(s.Words[1])]
				if !ok {
					l.errorf(s.WordPos(1), "type: unknown DNS type %q: ignored", s.Words[1])
					return
				}
				c.dns.Type = t
			}
		},
		"name": func(l *loader, c *chkDef, s *Statement) {
			if !l.args(s, 1, 1) {
				return
			}
			n := s.Words[1]
			if (n[0] == '.' && n != ".") || strings.Contains(n, "..") {
				l.errorf(s.WordPos(1), "name: %q has an empty label: ignored", n)
				return
			}
			c.dns.Name = n
		},
	}
}

func udpKeys() kwTable[*chkDef] {
	return kwTable[*chkDef]{
		"payload": func(l *loader, c *chkDef, s *Statement) {
			if l.args(s, 1, -1) {
				if b, ok := l.hexArg(s, false); ok {
					c.udp.Payload = b
				}
			}
		},
		"min_reply_length": intKey(0, math.MaxUint16, func(c *chkDef, n int) { c.udp.MinReply = n }),
		// check.UDP's MaxReply 0 is no bound: keepalived's 0 (only an
		// empty reply) is refused.
		"max_reply_length": intKey(1, math.MaxUint16, func(c *chkDef, n int) { c.udp.MaxReply = n }),
		"require_reply": func(l *loader, c *chkDef, s *Statement) {
			if !l.args(s, 0, -1) {
				return
			}
			if len(s.Words) == 1 {
				c.udp.RequireReply = true
				return
			}
			if b, ok := l.hexArg(s, true); ok {
				c.udp.RequireReply, c.udp.Expect = true, b
			}
		},
	}
}

// fileDef is a FILE_CHECK's settings.
type fileDef struct {
	f   check.File
	def *trackerDef
}

func fileKeys() kwTable[*chkDef] {
	return kwTable[*chkDef]{
		"track_file": func(l *loader, c *chkDef, s *Statement) {
			if !l.args(s, 1, 1) {
				return
			}
			d, ok := l.trackers[s.Words[1]]
			if !ok || d.kind != kindFile {
				l.errorf(s.WordPos(1), "track_file: no track_file %s defined before: ignored", s.Words[1])
				return
			}
			f := c.file
			f.def = d
			f.f.Path, f.f.Weight, f.f.Reverse = d.t.File.Path, d.t.Weight, d.t.Reverse
		},
		"weight": func(l *loader, c *chkDef, s *Statement) {
			if c.file.def == nil {
				l.errorf(s.Pos, "weight: before or without track_file: ignored")
				return
			}
			if w, rev, ok := l.weightArgs(s, 0, math.MaxInt32); ok {
				c.file.f.Weight, c.file.f.Reverse = w, rev
			}
		},
	}
}

// dnsTypes are the query types DNS_CHECK knows.
var dnsTypes = map[string]uint16{
	"A": dns.TypeA, "NS": dns.TypeNS, "CNAME": dns.TypeCNAME, "SOA": dns.TypeSOA,
	"MX": dns.TypeMX, "TXT": dns.TypeTXT, "AAAA": dns.TypeAAAA,
	"RRSIG": dns.TypeRRSIG, "DNSKEY": dns.TypeDNSKEY,
}

// hexArg parses the words after the keyword as keepalived's read_hex_str:
// pairs of hex digits, a lone digit before a space a byte of its own.
// keepalived's 'X' wildcards (require_reply) are not supported.
func (l *loader) hexArg(s *Statement, reply bool) ([]byte, bool) {
	var out []byte
	for i, w := range s.Words[1:] {
		for j := 0; j < len(w); j += 2 {
			pair := w[j:min(j+2, len(w))]
			if reply && strings.ContainsAny(pair, "xX") {
				l.errorf(s.WordPos(i+1), "%s: wildcards in %q not supported: ignored", s.Words[0], w)
				return nil, false
			}
			n, err := strconv.ParseUint(pair, 16, 8)
			if err != nil {
				l.errorf(s.WordPos(i+1), "%s: invalid hex string %q: ignored", s.Words[0], w)
				return nil, false
			}
			out = append(out, byte(n))
		}
	}
	return out, true
}

// urlDef is a url block of HTTP_GET.
type urlDef struct {
	path   string
	status []check.StatusRange
	digest []byte
	vhost  opt[string]
	re     *regexp.Regexp
}

// httpDef is the settings of an HTTP_GET or SSL_GET.
type httpDef struct {
	ssl        bool
	urls       []*urlDef
	vhost, sni opt[string]
	enableSNI  bool
	version    check.HTTPVersion
	fast       bool // fast_recovery
}

// httpVersions are http_protocol's versions.
var httpVersions = map[string]check.HTTPVersion{
	"1.0": check.HTTP10, "1.0C": check.HTTP10Close, "1.0c": check.HTTP10Close, "1.1": check.HTTP11,
}

func httpKeys() kwTable[*chkDef] {
	return kwTable[*chkDef]{
		"url": func(l *loader, c *chkDef, s *Statement) {
			if u, ok := l.url(c.what, s, c.http.ssl); ok {
				c.http.urls = append(c.http.urls, u)
			}
		},
		"virtualhost": wordKey(func(c *chkDef, w string) { c.http.vhost.put(w) }),
		"nb_get_retry": func(l *loader, c *chkDef, s *Statement) {
			l.warnf(s.Pos, "nb_get_retry is deprecated: use retry")
			if l.args(s, 1, 1) {
				if n, ok := l.intArg(s, 1, 0, math.MaxUint32); ok {
					c.t.retries.put(n)
				}
			}
		},
		"http_protocol": func(l *loader, c *chkDef, s *Statement) {
			if !l.args(s, 1, 1) {
				return
			}
			v, ok := httpVersions[s.Words[1]]
			if !ok {
				l.errorf(s.WordPos(1), "http_protocol: unknown version %q (1.0, 1.0C or 1.1): ignored", s.Words[1])
				return
			}
			c.http.version = v
		},
		"fast_recovery": func(l *loader, c *chkDef, s *Statement) {
			if b, ok := l.boolArg(s); ok {
				c.http.fast = b
			}
		},
		"enable_sni": func(l *loader, c *chkDef, s *Statement) {
			if b, ok := l.boolArg(s); ok {
				c.http.enableSNI = b
			}
		},
		"sni_name": func(l *loader, c *chkDef, s *Statement) {
			if l.args(s, 0, 1) {
				if len(s.Words) > 1 {
					c.http.sni.put(s.Words[1])
				}
				c.http.enableSNI = true
			}
		},
	}
}

// finishHTTP checks HTTP_GET or SSL_GET c: one check.HTTP per url.
func finishHTTP(l *loader, c *chkDef) bool {
	if len(c.http.urls) == 0 {
		l.errorf(c.s.Pos, "%s: no url: ignored", c.s.Words[0])
		return false
	}
	c.retryDelay = httpRetryDelay
	return true
}

// buildHTTP appends the checks of HTTP_GET or SSL_GET c: one per url.
func buildHTTP(c *chkDef, out []vigil.RealServerCheck, pol check.Policy, dst netip.AddrPort, co *connOpts, vsHost string) []vigil.RealServerCheck {
	hd := c.http
	for _, u := range hd.urls {
		h := &check.HTTP{Addr: dst, Bind: co.bind, Interface: co.iface, Path: u.path, Status: u.status, Digest: u.digest, Regexp: u.re, Version: hd.version}
		h.Host = pick(vsHost, u.vhost, hd.vhost)
		if hd.ssl {
			name := ""
			if hd.enableSNI {
				name = pick(h.Host, hd.sni)
			}
			h.TLS = c.r.vs.v.tlsConfig(name)
		}
		out = append(out, vigil.RealServerCheck{Checker: h, Policy: pol})
	}
	return out
}

// urlIgnored are the keywords of a url block vigil does not map;
// sslURLIgnored SSL_GET's.
var urlIgnored = map[string]string{
	"regex_no_match":   "not supported",
	"regex_options":    "not supported (Go regular expressions take (?flags) in the pattern)",
	"regex_min_offset": "not supported (the whole body is matched)",
	"regex_max_offset": "not supported (the whole body is matched)",
	"regex_stack":      "not supported (no PCRE2 JIT)",
}
var sslURLIgnored = func() map[string]string {
	m := maps.Clone(urlIgnored)
	m["tls_compliant"] = "not supported (vigil always ends TLS with close_notify)"
	return m
}()

// url reads a url block of the checker parent describes.
func (l *loader) url(parent func() string, s *Statement, ssl bool) (*urlDef, bool) {
	if !l.needBlock(s, 0, 0) {
		return nil, false
	}
	u := &urlDef{}
	ignored := urlIgnored
	if ssl {
		ignored = sslURLIgnored
	}
	readBlock(l, func() string { return parent() + ": url" }, s.Block, urlKeys, u, ignored)
	if u.path == "" {
		l.errorf(s.Pos, "url: no path: ignored")
		return nil, false
	}
	return u, true
}

func urlTable() kwTable[*urlDef] {
	return kwTable[*urlDef]{
		"path": wordKey(func(u *urlDef, w string) { u.path = w }),
		"digest": func(l *loader, u *urlDef, s *Statement) {
			if !l.args(s, 1, 1) {
				return
			}
			if u.digest != nil {
				l.errorf(s.Pos, "digest %q is a duplicate: ignored", s.Words[1])
				return
			}
			b, err := hex.DecodeString(s.Words[1])
			if err != nil || len(b) != 16 {
				l.errorf(s.WordPos(1), "digest: %q is not 32 hex digits: ignored", s.Words[1])
				return
			}
			u.digest = b
		},
		"status_code": func(l *loader, u *urlDef, s *Statement) {
			if !l.args(s, 1, -1) {
				return
			}
			for i, w := range s.Words[1:] {
				lo, hi, isRange := strings.Cut(w, "-")
				a, err1 := strconv.Atoi(lo)
				b, err2 := a, error(nil)
				if isRange {
					b, err2 = strconv.Atoi(hi)
				}
				if err1 != nil || err2 != nil || a < 100 || b > 599 || a > b {
					l.errorf(s.WordPos(i+1), "status_code: invalid HTTP status code %q (100..599): ignored", w)
					continue
				}
				u.status = append(u.status, check.StatusRange{Min: a, Max: b})
			}
		},
		"virtualhost": wordKey(func(u *urlDef, w string) { u.vhost.put(w) }),
		"regex": func(l *loader, u *urlDef, s *Statement) {
			w, err := SplitQuoted(s.Line, true)
			if err != nil || len(w) != 2 {
				l.errorf(s.Pos, "regex: missing or too many fields: ignored")
				return
			}
			re, err := regexp.Compile(w[1])
			if err != nil {
				l.errorf(s.WordPos(1), "regex: %v: ignored", err)
				return
			}
			u.re = re
		},
	}
}

// finishCheck appends the checks of c, a checker of real server r of
// d, with the settings inherited from r and d, to r.rs.Checks.
func (v *vsLoader) finishCheck(d *vsDef, r *rsDef, c *chkDef) {
	l := v.l
	interval := pick(check.DefaultInterval, c.interval, c.t.interval, r.t.interval, d.t.interval)
	pol := check.Policy{
		Interval:    interval,
		Retries:     pick(c.retries, c.t.retries, r.t.retries, d.t.retries),
		RetryDelay:  pick(cmp.Or(c.retryDelay, interval), c.t.retryDelay, r.t.retryDelay, d.t.retryDelay),
		Alpha:       pick(r.rs.Alpha, c.t.alpha),
		LogFailures: c.logAll || l.d.logAll, // load_daemon.go
	}
	if pol.RetryDelay == 0 {
		pol.RetryDelay = -1
	}
	for _, w := range [...]opt[time.Duration]{c.t.warmup, r.t.warmup, d.t.warmup} {
		if w.set {
			pol.Warmup = w.v
			if w.v == 0 {
				pol.Warmup = -1 // none, not Group's spreading
			}
			break
		}
	}
	// keepalived's fast_recovery checks the urls of a new checker one
	// after the other without waiting: the first rounds are not spread.
	if c.http != nil && c.http.fast && pol.Warmup == 0 {
		pol.Warmup = -1
	}
	vhost := pick("", r.vhost, d.vhost)
	if !c.kind.conn {
		pol.Timeout = pick(check.DefaultTimeout, r.t.timeout, d.t.timeout)
		if c.misc {
			pol.Timeout = pick(pick(check.DefaultInterval, d.t.interval), c.miscTimeout)
		}
		r.rs.Checks = c.kind.build(c, r.rs.Checks, pol, netip.AddrPort{}, nil, vhost)
		return
	}
	target := func(co *connOpts) {
		p := pol
		p.Timeout = pick(check.DefaultTimeout, co.timeout, r.t.timeout, d.t.timeout)
		dst := netip.AddrPortFrom(pick(r.rs.Addr, co.ip), pick(r.rs.Port, co.port))
		if c.needPort && dst.Port() == 0 {
			l.errorf(co.s.Pos, "%s: no port to check (the real server has none): set connect_port: ignored", c.s.Words[0])
			return
		}
		if co.bind.IsValid() && co.bind.Is6() != dst.Addr().Is6() {
			l.errorf(co.s.Pos, "%s: bindto %v does not match the family of %v: ignored", c.s.Words[0], co.bind, dst.Addr())
			return
		}
		r.rs.Checks = c.kind.build(c, r.rs.Checks, p, dst, co, vhost)
	}
	if len(c.hosts) == 0 || c.conn.set {
		target(&c.conn)
	}
	for _, h := range c.hosts {
		target(h)
	}
}
