package config

import (
	"crypto/tls"
	"fmt"
	"maps"
	"math"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/notify"
)

// This file maps keepalived's check side (check_parser.c, check_data.c's
// validate_check_config): virtual_server, virtual_server_group,
// real_server, sorry_server and the SSL block. The checkers are in
// load_vs_check.go.

// Limits of keepalived's check side.
const (
	defaultPersistence = 360 * time.Second       // IPVS_SVC_PERSISTENT_TIMEOUT
	maxPersistence     = 86400 * 31              // LVS_MAX_TIMEOUT, seconds
	maxTimer           = float64(math.MaxUint32) // seconds, for delay_loop & co.
	maxGroupRange      = 1 << 16                 // addresses a group entry may expand to
)

// opt is a setting that may be given; unset ones fall back to the next
// level (checker → real server → virtual server → default).
type opt[T any] struct {
	v   T
	set bool
}

func (o *opt[T]) put(v T) { o.v, o.set = v, true }

// pick returns the first set value of os, or def.
func pick[T any](def T, os ...opt[T]) T {
	for _, o := range os {
		if o.set {
			return o.v
		}
	}
	return def
}

// timing are the checker settings a virtual server and a real server
// give their checkers as defaults (delay_loop, connect_timeout, retry,
// delay_before_retry, warmup, alpha).
type timing struct {
	interval, timeout, retryDelay, warmup opt[time.Duration]
	retries                               opt[int]
	alpha                                 opt[bool]
}

// timingKeys are the handlers of the keywords of the timing t returns
// for a definition of type D; retry takes minRetry.. (1 on virtual and
// real servers, 0 in checkers), and connect_timeout is left out without
// conn (MISC_CHECK).
func timingKeys[D any](t func(D) *timing, minRetry int, conn bool) kwTable[D] {
	timer := func(o func(*timing) *opt[time.Duration], lo float64) kwFunc[D] {
		return func(l *loader, d D, s *Statement) {
			if l.args(s, 1, 1) {
				if v, ok := l.secsArg(s, 1, lo, maxTimer, time.Microsecond); ok {
					o(t(d)).put(v)
				}
			}
		}
	}
	hs := kwTable[D]{
		"delay_loop":         timer(func(t *timing) *opt[time.Duration] { return &t.interval }, 1e-6),
		"delay_before_retry": timer(func(t *timing) *opt[time.Duration] { return &t.retryDelay }, 0),
		"warmup":             timer(func(t *timing) *opt[time.Duration] { return &t.warmup }, 0),
		"retry": func(l *loader, d D, s *Statement) {
			if l.args(s, 1, 1) {
				if n, ok := l.intArg(s, 1, minRetry, math.MaxUint32); ok {
					t(d).retries.put(n)
				}
			}
		},
		"alpha": func(l *loader, d D, s *Statement) {
			if b, ok := l.boolArg(s); ok {
				t(d).alpha.put(b)
			}
		},
	}
	if conn {
		hs["connect_timeout"] = timer(func(t *timing) *opt[time.Duration] { return &t.timeout }, 1e-6)
	}
	return hs
}

// merge returns the union of tables, a later table's handler replacing
// an earlier one's.
func merge[D any](tables ...kwTable[D]) kwTable[D] {
	out := kwTable[D]{}
	for _, t := range tables {
		maps.Copy(out, t)
	}
	return out
}

// forwarding is an lvs_method: the method and its tunnel settings.
type forwarding struct {
	method   ipvs.Forward
	tunType  ipvs.TunnelType
	tunPort  uint16
	checksum bool
}

func (f forwarding) apply(d *ipvs.Destination) {
	d.Forward, d.TunnelType, d.TunnelPort, d.TunnelChecksum = f.method, f.tunType, f.tunPort, f.checksum
}

// lvsMethod parses "NAT|DR|TUN [type ipip|gue|gre] [port N] [nocsum|csum]"
// (lvs_method, lb_kind, sorry_server_lvs_method).
func (l *loader) lvsMethod(s *Statement) (forwarding, bool) {
	var f forwarding
	if !l.count(s, 1, -1) {
		return f, false
	}
	if s.HasBlock {
		l.errorf(s.Open, "%s takes no block: block ignored", s.Words[0])
	}
	switch s.Words[1] {
	case "NAT":
		f.method = ipvs.Masquerade
	case "DR":
		f.method = ipvs.Route
	case "TUN":
		f.method = ipvs.Tunnel
	default:
		l.errorf(s.WordPos(1), "%s: unknown method %q (NAT, DR or TUN): ignored", s.Words[0], s.Words[1])
		return f, false
	}
	if f.method != ipvs.Tunnel {
		l.count(s, 1, 1)
		return f, true
	}
	csum := ""
	for i := 2; i < len(s.Words); i++ {
		switch w := s.Words[i]; w {
		case "type", "port":
			if i+1 >= len(s.Words) {
				l.errorf(s.WordPos(i), "%s: %s without its value: ignored", s.Words[0], w)
				return f, false
			}
			i++
			if w == "port" {
				n, ok := l.intArg(s, i, 1, 65535)
				if !ok {
					return f, false
				}
				f.tunPort = uint16(n)
				continue
			}
			switch s.Words[i] {
			case "ipip":
				f.tunType = ipvs.IPIP
			case "gue":
				f.tunType = ipvs.GUE
			case "gre":
				f.tunType = ipvs.GRE
			default:
				l.errorf(s.WordPos(i), "%s: unknown tunnel type %q (ipip, gue or gre): ignored", s.Words[0], s.Words[i])
				return f, false
			}
		case "nocsum", "csum":
			csum = w
		case "remcsum":
			l.errorf(s.WordPos(i), "%s: remcsum not supported: ignored", s.Words[0])
			return f, false
		default:
			l.errorf(s.WordPos(i), "%s: invalid tunnel option %q: ignored", s.Words[0], w)
			return f, false
		}
	}
	f.checksum = csum == "csum"
	switch {
	case (f.tunType == ipvs.GUE) != (f.tunPort != 0):
		l.errorf(s.Pos, "%s: gue tunnels require a port, and only they take one: ignored", s.Words[0])
		return f, false
	case f.tunType == ipvs.IPIP && f.checksum:
		l.errorf(s.Pos, "%s: ipip tunnels do not support checksums: ignored", s.Words[0])
		return f, false
	}
	return f, true
}

// vsLoader holds what the check side shares between statements.
type vsLoader struct {
	l *loader
	// groups are the virtual_server_groups by name, with the index of
	// their VirtualServerGroup.
	groups map[string]*groupDef
	// ssl is the SSL block, read by every SSL_GET at run time.
	ssl *sslFiles
	// tls are the TLS configurations of SSL_GET by SNI name (shared, so
	// that equal checks have equal keys).
	tls map[string]*tls.Config
}

func newVSLoader(l *loader) *vsLoader {
	return &vsLoader{l: l, groups: map[string]*groupDef{}, ssl: &sslFiles{}, tls: map[string]*tls.Config{}}
}

// groupDef is a virtual_server_group as read.
type groupDef struct {
	idx      int
	hasAddr  bool
	noFamily []int // Services without a family (fwmark N without inet/inet6)
	zeroPort bool  // an address entry without port
	proto    ipvs.Protocol
	protoPos Pos
}

// group maps "virtual_server_group NAME { entries }": "IP [PORT]",
// "A.B.C.D-E [PORT]", "A-B [PORT]", "A/N [PORT]", "fwmark N [inet|inet6]".
func (v *vsLoader) group(s *Statement) {
	l := v.l
	if !l.needBlock(s, 1, 1) {
		return
	}
	name := s.Words[1]
	g := vigil.VirtualServerGroup{Name: name}
	def := &groupDef{}
	seen := map[ipvs.ServiceKey]bool{}
	add := func(k ipvs.ServiceKey) {
		if !seen[k] {
			seen[k] = true
			g.Services = append(g.Services, k)
		}
	}
	for i := range s.Block {
		e := &s.Block[i]
		if e.HasBlock {
			l.errorf(e.Open, "virtual_server_group %s: an entry takes no block: block ignored", name)
		}
		if e.Words[0] == "fwmark" {
			if !l.count(e, 1, 2) {
				continue
			}
			n, ok := l.intArg(e, 1, 1, math.MaxUint32)
			if !ok {
				continue
			}
			k := ipvs.ServiceKey{FWMark: uint32(n)}
			if len(e.Words) > 2 {
				switch e.Words[2] {
				case "inet":
				case "inet6":
					k.Family6 = true
				default:
					l.errorf(e.WordPos(2), "fwmark: unknown family %q (inet or inet6): ignored", e.Words[2])
					continue
				}
			} else {
				def.noFamily = append(def.noFamily, len(g.Services))
			}
			add(k)
			continue
		}
		if !l.count(e, 0, 1) {
			continue
		}
		var port uint16
		if len(e.Words) > 1 {
			p, ok := l.intArg(e, 1, 0, 65535)
			if !ok {
				continue
			}
			port = uint16(p)
		}
		addrs, ok := l.addrRange(e)
		if !ok {
			continue
		}
		def.hasAddr = true
		def.zeroPort = def.zeroPort || port == 0
		for _, a := range addrs {
			// UDP until a virtual server gives the group its protocol.
			add(ipvs.ServiceKey{Protocol: ipvs.UDP, Addr: a, Port: port})
		}
	}
	if len(g.Services) == 0 {
		l.warnf(s.Pos, "virtual_server_group %s has no entries: ignored", name)
		return
	}
	if _, dup := v.groups[name]; dup {
		l.errorf(s.Pos, "virtual_server_group %s: already defined: ignored", name)
		return
	}
	def.idx = len(l.cfg.VirtualServerGroups)
	v.groups[name] = def
	l.cfg.VirtualServerGroups = append(l.cfg.VirtualServerGroups, g)
	// Virtual servers that came first give their protocol and family.
	for i := range l.cfg.VirtualServers {
		if vs := &l.cfg.VirtualServers[i]; vs.Group == name {
			v.joinGroup(vs, s.Pos)
		}
	}
	l.objPos["virtual server group "+name] = s.Pos
}

// addrRange parses a group entry's address: IP, A.B.C.D-E, A-B (full
// end address), A/N (a network), as keepalived's alloc_vsg_entry.
func (l *loader) addrRange(e *Statement) ([]netip.Addr, bool) {
	w := e.Words[0]
	bad := func(why string) ([]netip.Addr, bool) {
		l.errorf(e.Pos, "virtual_server_group: %s %q: ignored", why, w)
		return nil, false
	}
	var first, last netip.Addr
	if _, n, ok := strings.Cut(w, "/"); ok {
		p, err := netip.ParsePrefix(w)
		if err != nil || p.Addr().Zone() != "" || n == "0" {
			return bad("invalid network")
		}
		if p.Masked() != p {
			return bad("address mask bits not empty in")
		}
		first = p.Addr()
		last = lastAddr(p)
	} else if a, end, ok := strings.Cut(w, "-"); ok {
		f, err := netip.ParseAddr(a)
		if err != nil || f.Zone() != "" {
			return bad("invalid address range")
		}
		first = f.Unmap()
		if (first.Is4() && strings.Contains(end, ".")) || (first.Is6() && strings.Contains(end, ":")) {
			la, err := netip.ParseAddr(end)
			if err != nil || la.Zone() != "" || la.Unmap().Is4() != first.Is4() {
				return bad("invalid address range end in")
			}
			last = la.Unmap()
		} else {
			base, bits := 10, 8
			if first.Is6() {
				base, bits = 16, 16
			}
			n, err := strconv.ParseUint(end, base, bits)
			if err != nil {
				return bad("invalid address range end in")
			}
			b := first.AsSlice()
			if first.Is4() {
				if uint64(b[3]) >= n {
					return bad("address range end not greater than its start in")
				}
				b[3] = byte(n)
			} else {
				if uint64(b[14])<<8|uint64(b[15]) >= n {
					return bad("address range end not greater than its start in")
				}
				b[14], b[15] = byte(n>>8), byte(n)
			}
			last, _ = netip.AddrFromSlice(b)
		}
		if last.Less(first) {
			return bad("address range end less than its start in")
		}
	} else {
		a, err := netip.ParseAddr(w)
		if err != nil || a.Zone() != "" {
			return bad("invalid address")
		}
		return []netip.Addr{a.Unmap()}, true
	}
	size := new(big.Int).Sub(new(big.Int).SetBytes(last.AsSlice()), new(big.Int).SetBytes(first.AsSlice()))
	if !size.IsInt64() || size.Int64() >= maxGroupRange {
		return bad(fmt.Sprintf("range of more than %d addresses not supported", maxGroupRange))
	}
	out := make([]netip.Addr, 0, size.Int64()+1)
	for a := first; ; a = a.Next() {
		out = append(out, a)
		if a == last {
			break
		}
	}
	return out, true
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// joinGroup gives group vs.Group (already read) vs's protocol and family,
// as keepalived takes them from the virtual server that uses the group,
// and makes vs persistent if an address entry has no port.
func (v *vsLoader) joinGroup(vs *vigil.VirtualServer, p Pos) {
	l := v.l
	def := v.groups[vs.Group]
	g := &l.cfg.VirtualServerGroups[def.idx]
	if def.hasAddr {
		switch def.proto {
		case 0:
			def.proto, def.protoPos = vs.Service.Protocol, p
			for i := range g.Services {
				if !g.Services[i].IsFWMark() {
					g.Services[i].Protocol = vs.Service.Protocol
				}
			}
		case vs.Service.Protocol:
		default:
			l.errorf(p, "virtual server group %s: used with protocols %v (at %s) and %v: not supported",
				vs.Group, def.proto, def.protoPos, vs.Service.Protocol)
		}
		if def.zeroPort && vs.Service.Persistence == 0 {
			l.warnf(p, "virtual server group %s: zero port only valid for persistent services: persistence_timeout %v", vs.Group, defaultPersistence)
			vs.Service.Persistence = defaultPersistence
		}
	}
	six := vs.Service.Family6
	for _, i := range def.noFamily {
		g.Services[i].Family6 = six
	}
	def.noFamily = nil
}

// vsDef is a virtual_server while its block is read.
type vsDef struct {
	v        *vsLoader
	s        *Statement
	vs       vigil.VirtualServer
	t        timing
	fwd      opt[forwarding]
	weight   int
	inhibit  bool
	vhost    opt[string]
	proto    opt[ipvs.Protocol]
	sched    opt[ipvs.Scheduler]
	family6  opt[bool] // ip_family
	rss      []*rsDef
	sorry    *sorryDef
	hasSuspP Pos
}

type sorryDef struct {
	s       *Statement
	d       ipvs.Destination
	fwd     opt[forwarding]
	inhibit bool
}

// rsDef is a real_server while its virtual server is read.
type rsDef struct {
	vs      *vsDef
	s       *Statement
	rs      vigil.RealServer
	t       timing
	fwd     opt[forwarding]
	weight  opt[int]
	inhibit opt[bool]
	vhost   opt[string]
	checks  []*chkDef
}

// virtualServer maps "virtual_server IP [PORT] | fwmark N | group NAME { ... }".
func (v *vsLoader) virtualServer(s *Statement) {
	l := v.l
	if !l.needBlock(s, 1, 2) {
		return
	}
	d := &vsDef{v: v, s: s, weight: 1}
	svc := &d.vs.Service
	switch s.Words[1] {
	case "group":
		if len(s.Words) < 3 {
			l.fatalf(s.Pos, "virtual_server group: missing name")
			return
		}
		d.vs.Group = s.Words[2]
	case "fwmark":
		if len(s.Words) < 3 {
			l.fatalf(s.Pos, "virtual_server fwmark: missing mark")
			return
		}
		n, ok := l.intArg(s, 2, 1, math.MaxUint32)
		if !ok {
			return
		}
		svc.FWMark = uint32(n)
	default:
		a, ok := l.addr(s, 1)
		if !ok {
			return
		}
		svc.Addr = a
		if len(s.Words) > 2 {
			p, ok := l.intArg(s, 2, 0, 65535)
			if !ok {
				return
			}
			svc.Port = uint16(p)
		}
	}
	v.vsBlock(d)
	v.finishVS(d)
	l.free.release(d)
}

// vsBlock reads the statements of a virtual server's block.
func (v *vsLoader) vsBlock(d *vsDef) {
	readBlock(v.l, d.what, d.s.Block, vsKeys, d, vsIgnored)
}

// what describes d's block in diagnostics.
func (d *vsDef) what() string { return vsName(d.s) }

// what describes r's block in diagnostics.
func (r *rsDef) what() string {
	return vsName(r.vs.s) + ": real_server " + strings.Join(r.s.Words[1:], " ")
}

// The handlers of the check side's blocks, built once by init.
var (
	vsKeys  kwTable[*vsDef]
	rsKeys  kwTable[*rsDef]
	urlKeys kwTable[*urlDef]
	sslKeys kwTable[*sslFiles]
	// checkKinds are the checkers by keyword.
	checkKinds map[string]*checkKind
)

func init() {
	checkKinds = checkTable()
	vsKeys = vsTable()
	rsKeys = rsTable()
	urlKeys = urlTable()
	sslKeys = sslTable()
}

// vsIgnored are the keywords of a virtual server vigil does not map.
var vsIgnored = map[string]string{
	"persistence_engine": "not supported (IPVS persistence engines)",
	"flag-3":             "not supported (no scheduler uses it)",
	"hashed":             "legacy keyword, no effect",
	"smtp_alert":         "not supported (vigil sends no mail)",
	"snmp_name":          "not supported (no SNMP)",
	"nb_sock_retry":      "not supported (keepalived 1.x; use retry)",
}

// flagKey is the handler of a keyword without argument that calls set.
func flagKey[D any](set func(l *loader, d D)) kwFunc[D] {
	return func(l *loader, d D, s *Statement) {
		if l.args(s, 0, 0) {
			set(l, d)
		}
	}
}

// intKey is the handler of a keyword of one integer in lo..hi that
// calls set.
func intKey[D any](lo, hi int, set func(d D, n int)) kwFunc[D] {
	return func(l *loader, d D, s *Statement) {
		if l.args(s, 1, 1) {
			if n, ok := l.intArg(s, 1, lo, hi); ok {
				set(d, n)
			}
		}
	}
}

// wordKey is the handler of a keyword of one word that calls set.
func wordKey[D any](set func(d D, w string)) kwFunc[D] {
	return func(l *loader, d D, s *Statement) {
		if l.args(s, 1, 1) {
			set(d, s.Words[1])
		}
	}
}

func vsTable() kwTable[*vsDef] {
	schedFlag := func(f ipvs.SchedFlags, sched ...ipvs.Scheduler) kwFunc[*vsDef] {
		return func(l *loader, d *vsDef, s *Statement) {
			if !l.args(s, 0, 0) {
				return
			}
			cur := pick(0, d.sched)
			for _, sc := range sched {
				if cur == sc {
					d.vs.Service.SchedFlags |= f
					return
				}
			}
			l.errorf(s.Pos, "%s only applies to the %v scheduler, which must come first (lvs_sched): ignored", s.Words[0], sched[0])
		}
	}
	lvsSched := func(l *loader, d *vsDef, s *Statement) {
		if !l.args(s, 1, 1) {
			return
		}
		sc, err := ipvs.ParseScheduler(s.Words[1])
		if err != nil {
			l.errorf(s.WordPos(1), "%s: invalid scheduler %q: ignored", s.Words[0], s.Words[1])
			return
		}
		d.sched.put(sc)
	}
	lvsMethod := func(l *loader, d *vsDef, s *Statement) {
		if f, ok := l.lvsMethod(s); ok {
			d.fwd.put(f)
		}
	}
	hs := kwTable[*vsDef]{
		"lvs_sched":  lvsSched,
		"lb_algo":    lvsSched,
		"lvs_method": lvsMethod,
		"lb_kind":    lvsMethod,
		"protocol": func(l *loader, d *vsDef, s *Statement) {
			if !l.args(s, 1, 1) {
				return
			}
			switch strings.ToUpper(s.Words[1]) {
			case "TCP":
				d.proto.put(ipvs.TCP)
			case "UDP":
				d.proto.put(ipvs.UDP)
			case "SCTP":
				d.proto.put(ipvs.SCTP)
			default:
				l.errorf(s.WordPos(1), "protocol: unknown protocol %q (TCP, UDP or SCTP): ignored", s.Words[1])
			}
		},
		"persistence_timeout": func(l *loader, d *vsDef, s *Statement) {
			if !l.args(s, 0, 1) {
				return
			}
			if len(s.Words) == 1 {
				d.vs.Service.Persistence = defaultPersistence
				return
			}
			if n, ok := l.intArg(s, 1, 1, maxPersistence); ok {
				d.vs.Service.Persistence = time.Duration(n) * time.Second
			}
		},
		"persistence_granularity": func(l *loader, d *vsDef, s *Statement) {
			if !l.args(s, 1, 1) {
				return
			}
			if bits, ok := l.granularity(s, d); ok {
				svc := &d.vs.Service
				svc.PersistenceMask = bits
				if svc.Persistence == 0 {
					svc.Persistence = defaultPersistence
				}
			}
		},
		"ops":         flagKey(func(_ *loader, d *vsDef) { d.vs.Service.OnePacket = true }),
		"sh-port":     schedFlag(ipvs.FlagPort, ipvs.SourceHashing),
		"sh-fallback": schedFlag(ipvs.FlagFallback, ipvs.SourceHashing),
		"mh-port":     schedFlag(ipvs.FlagPort, ipvs.MaglevHashing),
		"mh-fallback": schedFlag(ipvs.FlagFallback, ipvs.MaglevHashing),
		// flag-1 and flag-2 are the kernel's names of the same bits.
		"flag-1": schedFlag(ipvs.FlagFallback, ipvs.SourceHashing, ipvs.MaglevHashing),
		"flag-2": schedFlag(ipvs.FlagPort, ipvs.SourceHashing, ipvs.MaglevHashing),
		"ip_family": func(l *loader, d *vsDef, s *Statement) {
			if !l.args(s, 1, 1) {
				return
			}
			switch s.Words[1] {
			case "inet", "inet6":
				six := s.Words[1] == "inet6"
				if a := d.vs.Service.Addr; a.IsValid() && a.Is6() != six {
					l.errorf(s.WordPos(1), "ip_family %s conflicts with the virtual server's address: ignored", s.Words[1])
					return
				}
				d.family6.put(six)
			default:
				l.errorf(s.WordPos(1), "ip_family: unknown family %q (inet or inet6): ignored", s.Words[1])
			}
		},
		"inhibit_on_failure": flagKey(func(_ *loader, d *vsDef) { d.inhibit = true }),
		"omega":              flagKey(func(_ *loader, d *vsDef) { d.vs.Omega = true }),
		"ha_suspend": func(l *loader, d *vsDef, s *Statement) {
			d.hasSuspP = s.Pos
			if l.args(s, 0, 0) {
				d.vs.HASuspend = true
			}
		},
		"quorum":      intKey(1, math.MaxUint32, func(d *vsDef, n int) { d.vs.Quorum = n }),
		"hysteresis":  intKey(0, math.MaxUint32, func(d *vsDef, n int) { d.vs.Hysteresis = n }),
		"quorum_up":   scriptKey(func(d *vsDef) **notify.Script { return &d.vs.QuorumUp }),
		"quorum_down": scriptKey(func(d *vsDef) **notify.Script { return &d.vs.QuorumDown }),
		"weight":      intKey(1, ipvs.MaxWeight, func(d *vsDef, n int) { d.weight = n }),
		"virtualhost": wordKey(func(d *vsDef, w string) { d.vhost.put(w) }),
		"sorry_server": func(l *loader, d *vsDef, s *Statement) {
			if !l.args(s, 1, 2) {
				return
			}
			dst, ok := l.server(s)
			if !ok {
				return
			}
			d.sorry = &sorryDef{s: s, d: dst}
		},
		"sorry_server_inhibit": flagKey(func(l *loader, d *vsDef) {
			if d.sorry == nil {
				l.errorf(d.s.Pos, "sorry_server_inhibit used before or without sorry_server: ignored")
				return
			}
			d.sorry.inhibit = true
		}),
		"sorry_server_lvs_method": func(l *loader, d *vsDef, s *Statement) {
			if d.sorry == nil {
				l.errorf(s.Pos, "sorry_server_lvs_method used before or without sorry_server: ignored")
				return
			}
			if f, ok := l.lvsMethod(s); ok {
				d.sorry.fwd.put(f)
			}
		},
		"real_server": func(l *loader, d *vsDef, s *Statement) {
			if r := d.v.realServer(d, s); r != nil {
				d.rss = append(d.rss, r)
			}
		},
	}
	hs = merge(hs, timingKeys(func(d *vsDef) *timing { return &d.t }, 1, true))
	// keepalived's virtual server alpha takes no argument.
	hs["alpha"] = flagKey(func(_ *loader, d *vsDef) { d.t.alpha.put(true) })
	return hs
}

// scriptKey is the handler of a script keyword given once into the
// script dst returns.
func scriptKey[D any](dst func(D) **notify.Script) kwFunc[D] {
	return func(l *loader, d D, s *Statement) {
		if p := dst(d); *p != nil {
			l.errorf(s.Pos, "%s: script already specified: ignored", s.Words[0])
		} else if sc, ok := l.script(s); ok {
			*p = sc
		}
	}
}

// vsName names a virtual server statement in messages.
func vsName(s *Statement) string {
	return "virtual_server " + strings.Join(s.Words[1:], " ")
}

// granularity parses persistence_granularity: an IPv4 netmask or an
// IPv6 prefix length, as the prefix length IPVS takes.
func (l *loader) granularity(s *Statement, d *vsDef) (int, bool) {
	w := s.Words[1]
	six := d.vs.Service.Addr.Is6() || pick(false, d.family6)
	if !d.vs.Service.Addr.IsValid() && !d.family6.set {
		six = !strings.Contains(w, ".")
	}
	if six {
		return l.intArg(s, 1, 1, 128)
	}
	a, err := netip.ParseAddr(w)
	if err == nil && a.Is4() {
		b := a.As4()
		m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		bits := 0
		for m&0x80000000 != 0 {
			m <<= 1
			bits++
		}
		if m == 0 && bits > 0 {
			return bits, true
		}
	}
	l.errorf(s.WordPos(1), "persistence_granularity: %q is not a netmask (IPVS takes contiguous ones): ignored", w)
	return 0, false
}

// server parses "KEYWORD IP [PORT]" (real_server, sorry_server): a port
// of 0 is no port.
func (l *loader) server(s *Statement) (ipvs.Destination, bool) {
	var d ipvs.Destination
	a, ok := l.addr(s, 1)
	if !ok {
		return d, false
	}
	d.Addr, d.Weight = a, 1
	if len(s.Words) > 2 {
		p, ok := l.intArg(s, 2, 0, 65535)
		if !ok {
			return d, false
		}
		d.Port = uint16(p)
	}
	return d, true
}

// realServer reads "real_server IP [PORT] { ... }" of d.
func (v *vsLoader) realServer(d *vsDef, s *Statement) *rsDef {
	l := v.l
	if !l.count(s, 1, 2) {
		return nil
	}
	dst, ok := l.server(s)
	if !ok {
		return nil
	}
	r := l.free.rs()
	r.vs, r.s = d, s
	r.rs.Destination = dst
	readBlock(l, r.what, s.Block, rsKeys, r, rsIgnored)
	return r
}

// rsIgnored are the keywords of a real server vigil does not map.
var rsIgnored = map[string]string{
	"smtp_alert": "not supported (vigil sends no mail)",
	"snmp_name":  "not supported (no SNMP)",
	"BFD_CHECK":  "not supported (no BFD)",
}

func rsTable() kwTable[*rsDef] {
	hs := kwTable[*rsDef]{
		"weight": intKey(0, ipvs.MaxWeight, func(r *rsDef, n int) { r.weight.put(n) }),
		"lvs_method": func(l *loader, r *rsDef, s *Statement) {
			if f, ok := l.lvsMethod(s); ok {
				r.fwd.put(f)
			}
		},
		"uthreshold": intKey(0, math.MaxUint32, func(r *rsDef, n int) { r.rs.UpperThreshold = uint32(n) }),
		"lthreshold": intKey(0, math.MaxUint32, func(r *rsDef, n int) { r.rs.LowerThreshold = uint32(n) }),
		"inhibit_on_failure": func(l *loader, r *rsDef, s *Statement) {
			if b, ok := l.boolArg(s); ok {
				r.inhibit.put(b)
			}
		},
		"notify_up":   scriptKey(func(r *rsDef) **notify.Script { return &r.rs.NotifyUp }),
		"notify_down": scriptKey(func(r *rsDef) **notify.Script { return &r.rs.NotifyDown }),
		"virtualhost": wordKey(func(r *rsDef, w string) { r.vhost.put(w) }),
	}
	hs = merge(hs, timingKeys(func(r *rsDef) *timing { return &r.t }, 1, true))
	for kw := range checkKinds {
		hs[kw] = readCheck
	}
	return hs
}

// finishVS applies keepalived's defaults and corrections
// (validate_check_config) and adds the virtual server.
func (v *vsLoader) finishVS(d *vsDef) {
	l := v.l
	vs := &d.vs
	svc := &vs.Service
	name := vsName(d.s)
	if len(d.rss) == 0 {
		l.warnf(d.s.Pos, "%s has no real servers: ignored", name)
		return
	}
	def := v.groups[vs.Group]
	addrSvc := !svc.IsFWMark() && (vs.Group == "" || def == nil || def.hasAddr)
	switch {
	case addrSvc && !d.proto.set:
		l.warnf(d.s.Pos, "%s: no protocol set: defaulting to UDP", name)
		svc.Protocol = ipvs.UDP
	case addrSvc:
		svc.Protocol = d.proto.v
	case d.proto.set:
		l.warnf(d.s.Pos, "%s: protocol specified for fwmark: ignored", name)
	}
	if svc.OnePacket && addrSvc && svc.Protocol != ipvs.UDP {
		l.warnf(d.s.Pos, "%s: one packet scheduling (ops) requires UDP: ignored", name)
		svc.OnePacket = false
	}
	if vs.Group == "" && !svc.IsFWMark() && svc.Port == 0 && svc.Persistence == 0 {
		l.warnf(d.s.Pos, "%s: zero port only valid for persistent services: persistence_timeout %v", name, defaultPersistence)
		svc.Persistence = defaultPersistence
	}
	if !d.sched.set {
		l.warnf(d.s.Pos, "%s: no scheduler set: defaulting to wlc", name)
	}
	svc.Scheduler = pick(ipvs.WeightedLeastConnection, d.sched)
	if vs.HASuspend && (svc.IsFWMark() || vs.Group != "") {
		l.errorf(d.hasSuspP, "%s: cannot use ha_suspend with fwmarks or groups: ignored", name)
		vs.HASuspend = false
	}
	fwdDefault := func() forwarding {
		if !d.fwd.set {
			l.warnf(d.s.Pos, "%s: no forwarding method set: defaulting to NAT", name)
			d.fwd.put(forwarding{method: ipvs.Masquerade})
		}
		return d.fwd.v
	}

	// The family: the address's, else ip_family, else the first real
	// (or sorry) server's that is not tunnelled.
	six, famSet := svc.Addr.Is6(), svc.Addr.IsValid() || d.family6.set
	if d.family6.set {
		six = d.family6.v
	}
	family := func(dst ipvs.Destination, f forwarding, s *Statement, what string) bool {
		if f.method == ipvs.Tunnel {
			return true
		}
		if !famSet {
			six, famSet = dst.Addr.Is6(), true
		} else if dst.Addr.Is6() != six {
			l.errorf(s.Pos, "%s: address family of the virtual server and %s %v do not match: ignored", name, what, dst.Addr)
			return false
		}
		return true
	}
	if d.sorry != nil {
		f := pick(forwarding{}, d.sorry.fwd)
		if !d.sorry.fwd.set {
			f = fwdDefault()
		}
		if family(d.sorry.d, f, d.sorry.s, "sorry server") {
			f.apply(&d.sorry.d)
			d.sorry.d.Port = v.serverPort(d, d.sorry.d.Port, f, d.sorry.s, "sorry server")
			vs.SorryServer = &d.sorry.d
			vs.SorryInhibit = d.sorry.inhibit
		}
	}
	seen := make(map[ipvs.DestinationKey]bool, len(d.rss))
	vs.RealServers = make([]vigil.RealServer, 0, len(d.rss))
	weightSum := 0
	for _, r := range d.rss {
		f := pick(forwarding{}, r.fwd)
		if !r.fwd.set {
			f = fwdDefault()
		}
		if !family(r.rs.Destination, f, r.s, "real server") {
			continue
		}
		f.apply(&r.rs.Destination)
		r.rs.Port = v.serverPort(d, r.rs.Port, f, r.s, "real server")
		if seen[r.rs.DestinationKey] {
			l.warnf(r.s.Pos, "%s: real server %v is duplicated: ignored", name, r.rs.DestinationKey)
			continue
		}
		seen[r.rs.DestinationKey] = true
		r.rs.Weight = pick(d.weight, r.weight)
		r.rs.InhibitOnFailure = pick(d.inhibit, r.inhibit)
		r.rs.Alpha = pick(false, r.t.alpha, d.t.alpha)
		weightSum += r.rs.Weight
		if vs.SorryServer != nil && vs.SorryServer.DestinationKey == r.rs.DestinationKey {
			l.errorf(r.s.Pos, "%s: real server %v is also the sorry server: not supported", name, r.rs.DestinationKey)
		}
		for _, c := range r.checks {
			v.finishCheck(d, r, c)
		}
		vs.RealServers = append(vs.RealServers, r.rs)
	}
	if svc.IsFWMark() {
		svc.Family6 = six
	}
	if vs.Group != "" {
		// Service carries the protocol and the fwmark family of the group's
		// entries.
		svc.Protocol = pick(ipvs.UDP, d.proto)
		svc.Family6 = six
		if !addrSvc {
			svc.Protocol = 0
		}
	}
	if q := max(vs.Quorum, 1); q > weightSum {
		l.warnf(d.s.Pos, "%s: quorum %d exceeds the total weight of the real servers %d: reducing quorum to %d", name, q, weightSum, weightSum)
		vs.Quorum = weightSum
		if weightSum == 0 {
			vs.Quorum = -1 // keepalived's quorum 0: always up
		}
	}
	if q := max(vs.Quorum, 1); vs.Hysteresis > 0 && vs.Hysteresis >= q {
		l.warnf(d.s.Pos, "%s: hysteresis %d >= quorum %d: setting hysteresis to %d", name, vs.Hysteresis, q, q-1)
		vs.Hysteresis = q - 1
	}
	if vs.Group != "" {
		if v.groups[vs.Group] != nil {
			v.joinGroup(vs, d.s.Pos)
		}
		l.objPos["virtual server group "+vs.Group] = d.s.Pos
	} else {
		l.objPos["virtual server "+svc.ServiceKey.String()] = d.s.Pos
	}
	l.cfg.VirtualServers = append(l.cfg.VirtualServers, *vs)
}

// serverPort returns the port of a real or sorry server as keepalived
// corrects it: a NAT server without port takes the service's; a DR or
// TUN server has the service's port (none for fwmark services).
func (v *vsLoader) serverPort(d *vsDef, port uint16, f forwarding, s *Statement, what string) uint16 {
	svc := d.vs.Service
	switch {
	case d.vs.Group != "":
		return port
	case f.method == ipvs.Masquerade:
		if port == 0 && !svc.IsFWMark() {
			return svc.Port
		}
		return port
	case svc.IsFWMark():
		if port != 0 {
			v.l.warnf(s.Pos, "%s: fwmark virtual server, %s has port specified: clearing", vsName(d.s), what)
		}
		return 0
	case port != 0 && port != svc.Port:
		v.l.warnf(s.Pos, "%s: ports of the virtual server and %s do not match: resetting", vsName(d.s), what)
	}
	return svc.Port
}
