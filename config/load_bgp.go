package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/ipvs"
)

// This file maps vigil's own top-level bgp block to vigil.Config.BGP.
// keepalived has no BGP (its users run ExaBGP or FRR beside it): these
// keywords are vigil's extension, listed in testdata/extensions.tsv for
// docs/keepalived.md's keyword table.
//
//	bgp {
//	    router_id 192.0.2.1
//	    asn 64513
//	    listen_port 179            # default: do not listen
//	    graceful_restart [SECS]    # RFC 4724, 120 s by default
//	    drain_time SECS            # 5 s by default; 0: withdraw at once
//	    drain_med N
//	    neighbor 192.0.2.254 {
//	        remote_as 64512
//	        password SECRET
//	        hold_time 90
//	        keepalive 30
//	        connect_retry 5
//	        multihop [TTL]         # 255 without TTL
//	        local_address 192.0.2.1
//	        port 179
//	        passive
//	    }
//	    vip 203.0.113.10/32 {
//	        next_hop 192.0.2.1
//	        community 64513:100 ...
//	        large_community 64513:1:2 ...
//	        med 10
//	        local_pref 200
//	        instance VI_1
//	        track chk_web ...
//	        virtual_server 203.0.113.10 80 [tcp|udp|sctp]
//	        virtual_server fwmark 7 [inet|inet6]
//	        virtual_server group NAME
//	    }
//	}

// bgpState is what the bgp block leaves for the end of the load: the
// virtual_server group gates, resolved once every group is read.
type bgpState struct {
	groups []bgpGroupRef
}

type bgpGroupRef struct {
	vip  int // index in cfg.BGP.VIPs
	name string
}

// whyBGP starts the note of every keyword of the bgp block.
const whyBGP = "vigil's extension (keepalived has none): "

// noted gives each handler of hs the note "vigil's extension: FIELD",
// FIELD its vigil.BGP field in fields.
func (l *loader) noted(hs map[string]handler, fields map[string]string) map[string]handler {
	for kw, h := range hs {
		why := "vigil's extension: " + fields[kw]
		hs[kw] = func(s *Statement) {
			l.cur.why = why
			h(s)
		}
	}
	return hs
}

// bgpBlock maps the top-level "bgp { ... }".
func (l *loader) bgpBlock(s *Statement) {
	l.cur.why = whyBGP + "announces VIPs over BGP (vigil.Config.BGP, package bgp; vigild runs the speaker)"
	if !l.needBlock(s, 0, 0) {
		return
	}
	if l.cfg.BGP != nil {
		l.errorf(s.Pos, "bgp: second bgp block ignored")
		return
	}
	b := &vigil.BGP{}
	l.cfg.BGP = b
	l.objPos["bgp speaker"] = s.Pos
	hs := map[string]handler{
		"router_id": func(s *Statement) {
			if l.args(s, 1, 1) {
				if a, ok := l.addr(s, 1); ok {
					if !a.Is4() {
						l.errorf(s.WordPos(1), "router_id: %v is not an IPv4 address: ignored", a)
						return
					}
					b.RouterID = a
				}
			}
		},
		"asn": l.u32(&b.ASN, 1),
		"listen_port": func(s *Statement) {
			if l.args(s, 1, 1) {
				if n, ok := l.intArg(s, 1, 1, 65535); ok {
					b.ListenPort = n
				}
			}
		},
		"graceful_restart": func(s *Statement) {
			if !l.args(s, 0, 1) {
				return
			}
			gr := vigil.BGPGracefulRestart{Enabled: true}
			if len(s.Words) == 2 {
				n, ok := l.intArg(s, 1, 1, 4095)
				if !ok {
					return
				}
				gr.RestartTime = time.Duration(n) * time.Second
			}
			b.GracefulRestart = gr
		},
		"drain_time": func(s *Statement) {
			if l.args(s, 1, 1) {
				if d, ok := l.secsArg(s, 1, 0, 3600, time.Millisecond); ok {
					if d == 0 {
						d = -1 // BGPDrain: negative withdraws at once
					}
					b.Drain.Time = d
				}
			}
		},
		"drain_med": l.u32(&b.Drain.MED, 0),
		"neighbor":  l.bgpNeighbor(b),
		"vip":       l.bgpVIP(b),
	}
	l.block("bgp", s.Block, l.noted(hs, map[string]string{
		"router_id": "BGP.RouterID", "asn": "BGP.ASN", "listen_port": "BGP.ListenPort",
		"graceful_restart": "BGP.GracefulRestart (RFC 4724; 120 s by default)",
		"drain_time":       "BGP.Drain.Time, GRACEFUL_SHUTDOWN before the withdrawal (5 s by default; 0 withdraws at once)",
		"drain_med":        "BGP.Drain.MED", "neighbor": "BGP.Peers", "vip": "BGP.VIPs",
	}), nil)
}

// bgpNeighbor maps "neighbor ADDR { ... }" to a BGPPeer.
func (l *loader) bgpNeighbor(b *vigil.BGP) handler {
	return func(s *Statement) {
		if !l.needBlock(s, 1, 1) {
			return
		}
		a, ok := l.addr(s, 1)
		if !ok {
			return
		}
		p := vigil.BGPPeer{Address: a}
		secs := func(dst *time.Duration, lo int) handler {
			return func(s *Statement) {
				if l.args(s, 1, 1) {
					if n, ok := l.intArg(s, 1, lo, 65535); ok {
						*dst = time.Duration(n) * time.Second
					}
				}
			}
		}
		hs := map[string]handler{
			"remote_as": l.u32(&p.ASN, 1),
			"password": func(s *Statement) {
				if l.args(s, 1, 1) {
					if len(s.Words[1]) > 80 {
						l.errorf(s.WordPos(1), "password: %d bytes, at most 80 (TCP MD5): ignored", len(s.Words[1]))
						return
					}
					p.Password = s.Words[1]
				}
			},
			"hold_time":     secs(&p.HoldTime, 3),
			"keepalive":     secs(&p.KeepaliveInterval, 1),
			"connect_retry": secs(&p.ConnectRetry, 1),
			"multihop": func(s *Statement) {
				if !l.args(s, 0, 1) {
					return
				}
				p.Multihop = 255
				if len(s.Words) == 2 {
					if n, ok := l.intArg(s, 1, 1, 255); ok {
						p.Multihop = n
					}
				}
			},
			"local_address": func(s *Statement) {
				if l.args(s, 1, 1) {
					if a, ok := l.addr(s, 1); ok {
						p.LocalAddress = a
					}
				}
			},
			"port": func(s *Statement) {
				if l.args(s, 1, 1) {
					if n, ok := l.intArg(s, 1, 1, 65535); ok {
						p.Port = uint16(n)
					}
				}
			},
			"passive": func(s *Statement) {
				if l.args(s, 0, 0) {
					p.Passive = true
				}
			},
		}
		l.block("bgp: neighbor "+s.Words[1], s.Block, l.noted(hs, map[string]string{
			"remote_as": "BGPPeer.ASN", "password": "BGPPeer.Password (TCP MD5)", "hold_time": "BGPPeer.HoldTime (90 s by default)",
			"keepalive": "BGPPeer.KeepaliveInterval", "connect_retry": "BGPPeer.ConnectRetry (5 s by default)",
			"multihop": "BGPPeer.Multihop (eBGP multihop; TTL 255 without an argument)", "local_address": "BGPPeer.LocalAddress",
			"port": "BGPPeer.Port (179 by default)", "passive": "BGPPeer.Passive (needs listen_port)",
		}), nil)
		if p.ASN == 0 {
			l.errorf(s.Pos, "bgp: neighbor %v: no remote_as: ignored", a)
			return
		}
		l.objPos["bgp peer "+a.String()] = s.Pos
		l.objPos[fmt.Sprintf("bgp peer %d", len(b.Peers))] = s.Pos
		b.Peers = append(b.Peers, p)
	}
}

// bgpVIP maps "vip PREFIX { ... }" to a BGPVIP.
func (l *loader) bgpVIP(b *vigil.BGP) handler {
	return func(s *Statement) {
		if !l.count(s, 1, 1) {
			return
		}
		pfx, ok := l.prefix(s, 1)
		if !ok {
			return
		}
		v := vigil.BGPVIP{Prefix: pfx}
		idx := len(b.VIPs)
		var groups []bgpGroupRef
		hs := map[string]handler{
			"next_hop": func(s *Statement) {
				if l.args(s, 1, 1) {
					if a, ok := l.addr(s, 1); ok {
						v.NextHop = a
					}
				}
			},
			"community": func(s *Statement) {
				bgpWords(l, s, vigil.ParseBGPCommunity, "AS:VALUE (each 0..65535)", &v.Communities)
			},
			"large_community": func(s *Statement) {
				bgpWords(l, s, vigil.ParseBGPLargeCommunity, "ASN:V1:V2 (each 0..4294967295)", &v.LargeCommunities)
			},
			"med":        l.u32(&v.MED, 0),
			"local_pref": l.u32(&v.LocalPref, 0),
			"instance": func(s *Statement) {
				if !l.args(s, 1, 1) {
					return
				}
				if v.Instance != "" {
					l.errorf(s.WordPos(1), "instance: the gate already follows instance %s: %s ignored", v.Instance, s.Words[1])
					return
				}
				v.Instance = s.Words[1]
			},
			"track": func(s *Statement) {
				if l.args(s, 1, -1) {
					v.Trackers = append(v.Trackers, s.Words[1:]...)
				}
			},
			"virtual_server": func(s *Statement) {
				if !l.args(s, 2, 3) {
					return
				}
				if s.Words[1] == "group" {
					if len(s.Words) > 3 {
						l.errorf(s.WordPos(3), "virtual_server: extra argument %q ignored", s.Words[3])
					}
					groups = append(groups, bgpGroupRef{vip: idx, name: s.Words[2]})
					return
				}
				if k, ok := l.bgpServiceKey(s); ok {
					v.VirtualServers = append(v.VirtualServers, k.String())
				}
			},
		}
		if s.HasBlock {
			l.block("bgp: vip "+s.Words[1], s.Block, l.noted(hs, map[string]string{
				"next_hop": "BGPVIP.NextHop (next-hop-self by default)", "community": "BGPVIP.Communities",
				"large_community": "BGPVIP.LargeCommunities", "med": "BGPVIP.MED", "local_pref": "BGPVIP.LocalPref (iBGP)",
				"instance":       "BGPVIP.Instance: announced while the instance is MASTER",
				"track":          "BGPVIP.Trackers: announced while every tracker is up",
				"virtual_server": "BGPVIP.VirtualServers: announced while each has quorum (IP PORT [tcp|udp|sctp], fwmark N [inet6], group NAME)",
			}), nil)
		}
		l.objPos["bgp vip "+pfx.String()] = s.Pos
		l.objPos[fmt.Sprintf("bgp vip %d", idx)] = s.Pos
		b.VIPs = append(b.VIPs, v)
		l.bgp.groups = append(l.bgp.groups, groups...)
	}
}

// u32 maps "KEYWORD N", N in lo..4294967295, into dst.
func (l *loader) u32(dst *uint32, lo int) handler {
	return func(s *Statement) {
		if l.args(s, 1, 1) {
			if n, ok := l.intArg(s, 1, lo, math.MaxUint32); ok {
				*dst = uint32(n)
			}
		}
	}
}

// bgpWords appends to dst each argument of s that parse takes; the
// others are errors (form says what they should be) and skipped.
func bgpWords[T any](l *loader, s *Statement, parse func(string) (T, error), form string, dst *[]T) {
	if !l.args(s, 1, -1) {
		return
	}
	for i, w := range s.Words[1:] {
		c, err := parse(w)
		if err != nil {
			l.errorf(s.WordPos(i+1), "%s: %q is not %s: ignored", s.Words[0], w, form)
			continue
		}
		*dst = append(*dst, c)
	}
}

// bgpServiceKey reads a vip's "virtual_server IP PORT [tcp|udp|sctp]"
// or "virtual_server fwmark N [inet|inet6]": the service whose quorum
// the gate needs, as keepalived's virtual_server names it.
func (l *loader) bgpServiceKey(s *Statement) (ipvs.ServiceKey, bool) {
	opt := ""
	if len(s.Words) == 4 {
		opt = strings.ToLower(s.Words[3])
	}
	if s.Words[1] == "fwmark" {
		n, err := strconv.ParseUint(s.Words[2], 10, 32)
		if err != nil || n == 0 {
			l.errorf(s.WordPos(2), "virtual_server: invalid fwmark %q (1..4294967295): ignored", s.Words[2])
			return ipvs.ServiceKey{}, false
		}
		k := ipvs.ServiceKey{FWMark: uint32(n)}
		switch opt {
		case "", "inet":
		case "inet6":
			k.Family6 = true
		default:
			l.errorf(s.WordPos(3), "virtual_server: %q is not inet or inet6: ignored", s.Words[3])
			return ipvs.ServiceKey{}, false
		}
		return k, true
	}
	a, ok := l.addr(s, 1)
	if !ok {
		return ipvs.ServiceKey{}, false
	}
	port, ok := l.intArg(s, 2, 0, 65535)
	if !ok {
		return ipvs.ServiceKey{}, false
	}
	k := ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: a, Port: uint16(port)}
	switch opt {
	case "", "tcp":
	case "udp":
		k.Protocol = ipvs.UDP
	case "sctp":
		k.Protocol = ipvs.SCTP
	default:
		l.errorf(s.WordPos(3), "virtual_server: %q is not tcp, udp or sctp: ignored", s.Words[3])
		return ipvs.ServiceKey{}, false
	}
	return k, true
}

// finishBGP resolves what the bgp block names and keepalived's rules
// would otherwise drop: the services of virtual_server group gates, and
// the vrrp_scripts only a vip tracks (kept, as tracked scripts are).
func (l *loader) finishBGP() {
	b := l.cfg.BGP
	if b == nil {
		return
	}
	for _, g := range l.bgp.groups {
		var keys []ipvs.ServiceKey
		found := false
		for _, vg := range l.cfg.VirtualServerGroups {
			if vg.Name == g.name {
				keys, found = vg.Services, true
			}
		}
		if !found {
			// Validate reports it at the vip.
			b.VIPs[g.vip].VirtualServers = append(b.VIPs[g.vip].VirtualServers, "group "+g.name)
			continue
		}
		for _, k := range keys {
			b.VIPs[g.vip].VirtualServers = append(b.VIPs[g.vip].VirtualServers, k.String())
		}
	}
	for _, v := range b.VIPs {
		for _, t := range v.Trackers {
			if d := l.trackers[t]; d != nil {
				d.used = true
			}
		}
	}
}
