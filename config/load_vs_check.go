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
	timeout opt[time.Duration]
	set     bool // any of them given
}

// chkDef is a checker while its virtual server is read: the checkers are
// made when the real server's port and the inherited settings are known.
type chkDef struct {
	s     *Statement
	what  string // the block's description for diagnostics
	t     timing
	conns []*connOpts // the targets; none for MISC_CHECK and FILE_CHECK
	// retries and retryDelay are the checker type's defaults; a zero
	// retryDelay is the interval (DNS_CHECK).
	retries    int
	retryDelay time.Duration
	// misc is set for MISC_CHECK: its timeout is misc_timeout, or the
	// virtual server's delay_loop.
	misc        bool
	miscTimeout opt[time.Duration]
	interval    opt[time.Duration] // FILE_CHECK: fixed
	needPort    bool
	// build makes the checkers of one target (several for the urls of
	// HTTP_GET); dst is invalid without a target.
	build func(dst netip.AddrPort, bind netip.Addr, vhost string) []check.Checker
}

// connHandlers adds the connection keywords of c to hs.
func (l *loader) connHandlers(c *connOpts, hs map[string]handler) {
	hs["connect_ip"] = func(s *Statement) {
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
	}
	hs["connect_port"] = func(s *Statement) {
		if l.args(s, 1, 1) {
			if n, ok := l.intArg(s, 1, 1, 65535); ok {
				c.port.put(uint16(n))
				c.set = true
			}
		}
	}
	hs["bindto"] = func(s *Statement) {
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
	}
	hs["connect_timeout"] = func(s *Statement) {
		if l.args(s, 1, 1) {
			if d, ok := l.secsArg(s, 1, 1e-6, maxTimer, time.Microsecond); ok {
				c.timeout.put(d)
				c.set = true
			}
		}
	}
}

// connIgnored are the connection keywords vigil does not map.
var connIgnored = map[string]string{
	"bind_port":        "not supported (the kernel chooses the source port)",
	"bind_if":          "not supported (checks bind to no interface)",
	"fwmark":           "not supported (checks set no SO_MARK)",
	"log_all_failures": "not supported (vigil logs each change of health)",
}

// checkerHandlers adds the checker blocks of real server r to hs.
func (v *vsLoader) checkerHandlers(r *rsDef, hs map[string]handler) {
	l := v.l
	// newCheck starts a checker of block s; read reads its block: the
	// common keywords plus own.
	newCheck := func(s *Statement, conn bool) *chkDef {
		c := &chkDef{s: s, what: r.what + ": " + s.Words[0], retries: defaultCheckRetries, retryDelay: check.DefaultRetryDelay}
		if conn {
			c.conns = []*connOpts{{s: s}}
			c.needPort = true
		}
		return c
	}
	read := func(c *chkDef, own map[string]handler, ignored map[string]string) {
		if own == nil {
			own = map[string]handler{}
		}
		ign := map[string]string{"log_all_failures": connIgnored["log_all_failures"]}
		if len(c.conns) > 0 {
			l.connHandlers(c.conns[0], own)
			ign = maps.Clone(connIgnored)
		}
		maps.Copy(ign, ignored)
		l.timingHandlers(&c.t, own, 0, false)
		l.count(c.s, 0, 0)
		l.block(c.what, c.s.Block, own, ign)
	}
	add := func(c *chkDef) { r.checks = append(r.checks, c) }

	hs["TCP_CHECK"] = func(s *Statement) {
		c := newCheck(s, true)
		read(c, nil, nil)
		c.build = func(dst netip.AddrPort, bind netip.Addr, _ string) []check.Checker {
			return []check.Checker{&check.TCP{Addr: dst, Bind: bind}}
		}
		add(c)
	}
	hs["HTTP_GET"] = func(s *Statement) {
		if c := newCheck(s, true); v.httpCheck(c, read) {
			add(c)
		}
	}
	hs["SSL_GET"] = hs["HTTP_GET"]
	hs["MISC_CHECK"] = func(s *Statement) {
		ex := &check.Exec{}
		c := newCheck(s, false)
		read(c, map[string]handler{
			"misc_path": func(s *Statement) {
				if sc, ok := l.scriptWords(s, false); ok {
					ex.Path, ex.Args = sc.Args[0], sc.Args[1:]
				}
			},
			"misc_timeout": func(s *Statement) {
				if l.args(s, 1, 1) {
					if n, ok := l.intArg(s, 1, 0, maxMiscTimeout); ok && n > 0 {
						c.miscTimeout.put(time.Duration(n) * time.Second)
					}
				}
			},
			"misc_dynamic": func(s *Statement) {
				if l.args(s, 0, 0) {
					ex.Dynamic = true
				}
			},
			"user": func(s *Statement) {
				if l.args(s, 1, 2) {
					ex.User = s.Words[1]
					if len(s.Words) > 2 {
						ex.Group = strings.TrimPrefix(s.Words[2], ":")
					}
				}
			},
		}, nil)
		if ex.Path == "" {
			l.errorf(s.Pos, "MISC_CHECK: no misc_path: ignored")
			return
		}
		c.misc, c.retries = true, 0
		c.build = func(netip.AddrPort, netip.Addr, string) []check.Checker { return []check.Checker{ex} }
		add(c)
	}
	hs["SMTP_CHECK"] = func(s *Statement) {
		sm := check.SMTP{HELO: smtpDefaultHELO}
		var hosts []*connOpts
		c := newCheck(s, true)
		read(c, map[string]handler{
			"helo_name": l.word(func(w string) { sm.HELO = w }),
			"host": func(s *Statement) {
				if !l.needBlock(s, 0, 0) {
					return
				}
				h := &connOpts{s: s}
				hs := map[string]handler{}
				l.connHandlers(h, hs)
				l.block(c.what+": host", s.Block, hs, connIgnored)
				hosts = append(hosts, h)
			},
		}, nil)
		if len(hosts) > 0 {
			l.warnf(s.Pos, "SMTP_CHECK: the host block is deprecated: define more checkers")
			if c.conns[0].set {
				c.conns = append(c.conns, hosts...)
			} else {
				c.conns = hosts
			}
		}
		c.build = func(dst netip.AddrPort, bind netip.Addr, _ string) []check.Checker {
			m := sm
			m.Addr, m.Bind = dst, bind
			return []check.Checker{&m}
		}
		add(c)
	}
	hs["DNS_CHECK"] = func(s *Statement) {
		d := check.DNS{Type: dns.TypeSOA}
		c := newCheck(s, true)
		read(c, map[string]handler{
			"type": func(s *Statement) {
				if l.args(s, 1, 1) {
					t, ok := dnsTypes[strings.ToUpper(s.Words[1])]
					if !ok {
						l.errorf(s.WordPos(1), "type: unknown DNS type %q: ignored", s.Words[1])
						return
					}
					d.Type = t
				}
			},
			"name": func(s *Statement) {
				if !l.args(s, 1, 1) {
					return
				}
				n := s.Words[1]
				if (n[0] == '.' && n != ".") || strings.Contains(n, "..") {
					l.errorf(s.WordPos(1), "name: %q has an empty label: ignored", n)
					return
				}
				d.Name = n
			},
		}, nil)
		c.retries, c.retryDelay = 3, 0
		c.build = func(dst netip.AddrPort, bind netip.Addr, _ string) []check.Checker {
			q := d
			q.Server, q.Bind = dst, bind
			return []check.Checker{&q}
		}
		add(c)
	}
	hs["PING_CHECK"] = func(s *Statement) {
		c := newCheck(s, true)
		read(c, nil, nil)
		c.needPort = false
		c.build = func(dst netip.AddrPort, bind netip.Addr, _ string) []check.Checker {
			return []check.Checker{&check.ICMP{Addr: dst.Addr(), Bind: bind}}
		}
		add(c)
	}
	hs["UDP_CHECK"] = func(s *Statement) {
		u := check.UDP{}
		c := newCheck(s, true)
		read(c, map[string]handler{
			"payload": func(s *Statement) {
				if l.args(s, 1, -1) {
					if b, ok := l.hexArg(s, false); ok {
						u.Payload = b
					}
				}
			},
			"require_reply": func(s *Statement) {
				if !l.args(s, 0, -1) {
					return
				}
				if len(s.Words) == 1 {
					u.RequireReply = true
					return
				}
				if b, ok := l.hexArg(s, true); ok {
					u.RequireReply, u.Expect = true, b
				}
			},
		}, map[string]string{
			"min_reply_length": "not supported (any reply length passes)",
			"max_reply_length": "not supported (any reply length passes)",
		})
		c.build = func(dst netip.AddrPort, bind netip.Addr, _ string) []check.Checker {
			q := u
			q.Addr, q.Bind = dst, bind
			return []check.Checker{&q}
		}
		add(c)
	}
	hs["FILE_CHECK"] = func(s *Statement) {
		f := check.File{}
		var def *trackerDef
		c := newCheck(s, false)
		read(c, map[string]handler{
			"track_file": func(s *Statement) {
				if !l.args(s, 1, 1) {
					return
				}
				d, ok := l.trackers[s.Words[1]]
				if !ok || d.kind != kindFile {
					l.errorf(s.WordPos(1), "track_file: no track_file %s defined before: ignored", s.Words[1])
					return
				}
				def = d
				f.Path, f.Weight, f.Reverse = d.t.File.Path, d.t.Weight, d.t.Reverse
			},
			"weight": func(s *Statement) {
				if def == nil {
					l.errorf(s.Pos, "weight: before or without track_file: ignored")
					return
				}
				if w, rev, ok := l.weightArgs(s, 0, math.MaxInt32); ok {
					f.Weight, f.Reverse = w, rev
				}
			},
		}, nil)
		if def == nil {
			l.errorf(s.Pos, "FILE_CHECK: no track_file: ignored")
			return
		}
		def.used = true
		c.interval.put(fileCheckInterval)
		c.build = func(netip.AddrPort, netip.Addr, string) []check.Checker {
			q := f
			return []check.Checker{&q}
		}
		add(c)
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

// httpCheck reads HTTP_GET and SSL_GET c with read: one check.HTTP per
// url. It reports whether c is valid.
func (v *vsLoader) httpCheck(c *chkDef, read func(*chkDef, map[string]handler, map[string]string)) bool {
	l := v.l
	s := c.s
	ssl := s.Words[0] == "SSL_GET"
	var urls []*urlDef
	var vhost, sni opt[string]
	enableSNI := false
	read(c, map[string]handler{
		"url": func(s *Statement) {
			if u, ok := v.url(c.what, s, ssl); ok {
				urls = append(urls, u)
			}
		},
		"virtualhost": l.word(vhost.put),
		"nb_get_retry": func(s *Statement) {
			l.warnf(s.Pos, "nb_get_retry is deprecated: use retry")
			if l.args(s, 1, 1) {
				if n, ok := l.intArg(s, 1, 0, math.MaxUint32); ok {
					c.t.retries.put(n)
				}
			}
		},
		"enable_sni": func(s *Statement) {
			if b, ok := l.boolArg(s); ok {
				enableSNI = b
			}
		},
		"sni_name": func(s *Statement) {
			if l.args(s, 0, 1) {
				if len(s.Words) > 1 {
					sni.put(s.Words[1])
				}
				enableSNI = true
			}
		},
	}, map[string]string{
		"http_protocol": "not supported (vigil sends HTTP/1.1 with Connection: close)",
		"fast_recovery": "not supported",
		"tls_compliant": "not supported (vigil always ends TLS with close_notify)",
	})
	if len(urls) == 0 {
		l.errorf(s.Pos, "%s: no url: ignored", s.Words[0])
		return false
	}
	c.retryDelay = httpRetryDelay
	c.build = func(dst netip.AddrPort, bind netip.Addr, vsHost string) []check.Checker {
		out := make([]check.Checker, 0, len(urls))
		for _, u := range urls {
			h := &check.HTTP{Addr: dst, Bind: bind, Path: u.path, Status: u.status, Digest: u.digest, Regexp: u.re}
			h.Host = pick(vsHost, u.vhost, vhost)
			if ssl {
				name := ""
				if enableSNI {
					name = pick(h.Host, sni)
				}
				h.TLS = v.tlsConfig(name)
			}
			out = append(out, h)
		}
		return out
	}
	return true
}

// url reads a url block.
func (v *vsLoader) url(parent string, s *Statement, ssl bool) (*urlDef, bool) {
	l := v.l
	if !l.needBlock(s, 0, 0) {
		return nil, false
	}
	u := &urlDef{}
	ignored := map[string]string{
		"regex_no_match":   "not supported",
		"regex_options":    "not supported (Go regular expressions take (?flags) in the pattern)",
		"regex_min_offset": "not supported (the whole body is matched)",
		"regex_max_offset": "not supported (the whole body is matched)",
		"regex_stack":      "not supported (no PCRE2 JIT)",
	}
	if ssl {
		ignored["tls_compliant"] = "not supported (vigil always ends TLS with close_notify)"
	}
	l.block(parent+": url", s.Block, map[string]handler{
		"path": l.word(func(w string) { u.path = w }),
		"digest": func(s *Statement) {
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
		"status_code": func(s *Statement) {
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
		"virtualhost": l.word(u.vhost.put),
		"regex": func(s *Statement) {
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
	}, ignored)
	if u.path == "" {
		l.errorf(s.Pos, "url: no path: ignored")
		return nil, false
	}
	return u, true
}

// finishCheck makes the checks of c, a checker of real server r of d,
// with the settings inherited from r and d.
func (v *vsLoader) finishCheck(d *vsDef, r *rsDef, c *chkDef) []vigil.RealServerCheck {
	l := v.l
	interval := pick(check.DefaultInterval, c.interval, c.t.interval, r.t.interval, d.t.interval)
	pol := check.Policy{
		Interval:   interval,
		Retries:    pick(c.retries, c.t.retries, r.t.retries, d.t.retries),
		RetryDelay: pick(cmp.Or(c.retryDelay, interval), c.t.retryDelay, r.t.retryDelay, d.t.retryDelay),
		Alpha:      pick(r.rs.Alpha, c.t.alpha),
	}
	if pol.RetryDelay == 0 {
		pol.RetryDelay = -1
	}
	for _, w := range []opt[time.Duration]{c.t.warmup, r.t.warmup, d.t.warmup} {
		if w.set {
			pol.Warmup = w.v
			if w.v == 0 {
				pol.Warmup = -1 // none, not Group's spreading
			}
			break
		}
	}
	vhost := pick("", r.vhost, d.vhost)
	var out []vigil.RealServerCheck
	if len(c.conns) == 0 {
		pol.Timeout = pick(check.DefaultTimeout, r.t.timeout, d.t.timeout)
		if c.misc {
			pol.Timeout = pick(pick(check.DefaultInterval, d.t.interval), c.miscTimeout)
		}
		for _, ch := range c.build(netip.AddrPort{}, netip.Addr{}, vhost) {
			out = append(out, vigil.RealServerCheck{Checker: ch, Policy: pol})
		}
		return out
	}
	for _, co := range c.conns {
		p := pol
		p.Timeout = pick(check.DefaultTimeout, co.timeout, r.t.timeout, d.t.timeout)
		dst := netip.AddrPortFrom(pick(r.rs.Addr, co.ip), pick(r.rs.Port, co.port))
		if c.needPort && dst.Port() == 0 {
			l.errorf(co.s.Pos, "%s: no port to check (the real server has none): set connect_port: ignored", c.s.Words[0])
			continue
		}
		if co.bind.IsValid() && co.bind.Is6() != dst.Addr().Is6() {
			l.errorf(co.s.Pos, "%s: bindto %v does not match the family of %v: ignored", c.s.Words[0], co.bind, dst.Addr())
			continue
		}
		for _, ch := range c.build(dst, co.bind, vhost) {
			out = append(out, vigil.RealServerCheck{Checker: ch, Policy: p})
		}
	}
	return out
}
