package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/vrrp"
)

// garpKeywords are the garp_* keywords (vrrp_garp_* in global_defs)
// setting the timing at. Each returns whether it set something.
func garpKeywords(at func() *netlink.AnnounceTiming, l *loader) map[string]func(*Statement) bool {
	secs := func(f func(t *netlink.AnnounceTiming, d time.Duration)) func(*Statement) bool {
		return func(s *Statement) bool {
			if !l.args(s, 1, 1) {
				return false
			}
			d, ok := l.secsArg(s, 1, 0, 1<<31, time.Second)
			if ok {
				f(at(), d)
			}
			return ok
		}
	}
	count := func(f func(t *netlink.AnnounceTiming, n int)) func(*Statement) bool {
		return func(s *Statement) bool {
			if !l.args(s, 1, 1) {
				return false
			}
			n, ok := l.intArg(s, 1, 0, 1<<31-1)
			if ok {
				f(at(), n)
			}
			return ok
		}
	}
	return map[string]func(*Statement) bool{
		"garp_master_delay": secs(func(t *netlink.AnnounceTiming, d time.Duration) {
			t.SecondDelay = d
			if d == 0 {
				t.SecondDelay = -1 // 0: no second burst
			}
		}),
		"garp_master_repeat": count(func(t *netlink.AnnounceTiming, n int) {
			t.Repeat = max(n, 1) // keepalived: 0 → 1
		}),
		"garp_master_refresh": secs(func(t *netlink.AnnounceTiming, d time.Duration) {
			t.RefreshInterval = d
		}),
		"garp_master_refresh_repeat": count(func(t *netlink.AnnounceTiming, n int) {
			t.RefreshRepeat = max(n, 1)
		}),
		"garp_lower_prio_delay": secs(func(t *netlink.AnnounceTiming, d time.Duration) {
			t.LowerPrioDelay = d
			if d == 0 {
				t.LowerPrioDelay = -1 // 0: no second burst
			}
		}),
		"garp_lower_prio_repeat": count(func(t *netlink.AnnounceTiming, n int) {
			t.LowerPrioRepeat = n
			if n == 0 {
				t.LowerPrioRepeat = -1 // 0: none
			}
		}),
		"garp_interval": func(s *Statement) bool {
			if !l.args(s, 1, 1) {
				return false
			}
			if f, err := strconv.ParseFloat(s.Words[1], 64); err == nil && f == 0 {
				// A common line of distributions' configurations.
				l.errorf(s.WordPos(1), "%s 0: keepalived rejects it too (its minimum is 0.000001): ignored, packets go back to back", s.Words[0])
				return false
			}
			d, ok := l.secsArg(s, 1, 0.000001, 1<<31, time.Microsecond)
			if ok {
				t := at()
				if t.Interval != 0 && t.Interval != d {
					l.warnf(s.Pos, "%s: vigil has one interval for GARP and NA: %v replaces %v", s.Words[0], d, t.Interval)
				}
				t.Interval = d
			}
			return ok
		},
	}
}

// instanceIgnored are the instance keywords vigil does not map, and why.
var instanceIgnored = map[string]string{
	"track_bfd":                 whyNoBFD,
	"use_vmac_addr":             "not supported: no per-address VMACs",
	"use_ipvlan":                "not supported: no ipvlan (use_vmac makes a macvlan)",
	"vrf":                       "not supported: no VRFs",
	"native_ipv6":               "not supported: deprecated; an IPv6 virtual address makes an IPv6 instance",
	"old_unicast_checksum":      "not supported: for peers older than keepalived 1.3.6",
	"garp_extra_if":             whyNoExtraIf,
	"vmac_garp_intvl":           whyNoExtraIf,
	"owner_ignore_adverts":      "not supported: an address owner handles adverts as any master",
	"timer_expired_backup":      "not supported: vigil's timers do not run late the way keepalived's do (timerfd)",
	"thread_timer_expired":      "not supported: vigil's timers do not run late the way keepalived's do (timerfd)",
	"smtp_alert":                whyNoSMTP,
	"debug":                     "not supported: keepalived does not implement it either",
	"kernel_rx_buf_size":        whyRcvBuf,
	"linkbeat_use_polling":      "not supported: vigil follows links through netlink",
	"lvs_sync_daemon_interface": "not supported: deprecated (lvs_sync_daemon in global_defs)",
	"auth_hmac":                 "not supported: no HMAC authentication (keepalived-specific)",
}

// notifyHandlers map the notify_* keywords onto the scripts given.
func (l *loader) notifyHandlers(hs map[string]handler, scripts map[string]**notify.Script) {
	for kw, dst := range scripts {
		hs[kw] = func(s *Statement) {
			if sc, ok := l.script(s); ok {
				*dst = sc
			}
		}
	}
}

// instance maps "vrrp_instance NAME { ... }".
func (l *loader) instance(s *Statement) {
	if !l.needBlock(s, 1, 1) {
		return
	}
	in := vigil.Instance{}
	v := &in.VRRP
	v.Name = s.Words[1]
	obj := "vrrp_instance " + v.Name
	var (
		stateSet, prioSet, vridSet, versionSet bool
		advert                                 *Statement
		garpSet                                bool
		garp                                   netlink.AnnounceTiming
		labelAt                                *Statement
		devs                                   []vipDev
	)
	hs := l.trackHandlers(&in.Track, &in.TrackInterfaces)
	l.notifyHandlers(hs, map[string]**notify.Script{
		"notify_master": &in.Notify.Master, "notify_backup": &in.Notify.Backup,
		"notify_fault": &in.Notify.Fault, "notify_stop": &in.Notify.Stop,
		"notify": &in.Notify.Any,
	})
	hs["notify_deleted"] = func(s *Statement) {
		if len(s.Words) == 1 {
			l.args(s, 0, 0)
			in.Notify.SendDeleted = true
			return
		}
		if sc, ok := l.script(s); ok {
			in.Notify.Deleted, in.Notify.SendDeleted = sc, true
		}
	}
	for kw, f := range garpKeywords(func() *netlink.AnnounceTiming { return &garp }, l) {
		if kw == "garp_interval" {
			continue // global_defs and garp_group only
		}
		hs[kw] = func(s *Statement) {
			if f(s) {
				garpSet = true
			}
		}
	}
	hs["state"] = func(s *Statement) {
		if !l.args(s, 1, 1) {
			return
		}
		switch s.Words[1] {
		case "MASTER":
			v.InitialState = vrrp.Master
		case "BACKUP":
			v.InitialState = vrrp.Backup
		default:
			l.errorf(s.WordPos(1), "state: %q is not MASTER or BACKUP: BACKUP used", s.Words[1])
			v.InitialState = vrrp.Backup
		}
		stateSet = true
	}
	hs["interface"] = func(s *Statement) {
		if l.args(s, 1, 1) {
			in.Interface = s.Words[1]
		}
	}
	hs["virtual_router_id"] = func(s *Statement) {
		if l.args(s, 1, 1) {
			if n, ok := l.intArg(s, 1, 1, 255); ok {
				v.VRID, vridSet = uint8(n), true
			}
		}
	}
	hs["priority"] = func(s *Statement) {
		if l.args(s, 1, 1) {
			if n, ok := l.intArg(s, 1, 1, 255); ok {
				v.Priority, prioSet = uint8(n), true
			}
		}
	}
	hs["advert_int"] = func(s *Statement) {
		if l.args(s, 1, 1) {
			if d, ok := l.secsArg(s, 1, 0.01, 255, 10*time.Millisecond); ok {
				v.Interval, advert = d, s
			}
		}
	}
	hs["version"] = func(s *Statement) {
		if l.args(s, 1, 1) {
			if n, ok := l.intArg(s, 1, 2, 3); ok {
				v.Version, versionSet = vrrp.Version(n), true
			}
		}
	}
	hs["virtual_ipaddress"] = func(s *Statement) {
		if !l.needBlock(s, 0, 0) {
			return
		}
		for i := range s.Block {
			e := &s.Block[i]
			p, ok := l.prefix(e, 0)
			if !ok {
				continue
			}
			opts := l.addrOptions(e, "vrrp_instance/virtual_ipaddress", func(opt string, j int) {
				if opt == "dev" {
					// Checked once the interface is known.
					devs = append(devs, vipDev{p, e.Words[j], e.WordPos(j - 1)})
					return
				}
				if in.Label != "" && in.Label != e.Words[j] {
					l.warnf(e.WordPos(j-1), "%s: vigil has one label per instance: %q replaces %q (set at %s)", obj, e.Words[j], in.Label, labelAt.Pos)
				}
				in.Label, labelAt = e.Words[j], e
			})
			dup := false
			for _, q := range v.VIPs {
				dup = dup || q.Addr() == p.Addr()
			}
			switch {
			case dup:
				l.warnf(e.Pos, "%s: virtual address %s given twice: ignored", obj, p.Addr())
			case len(v.VIPs) > 0 && v.VIPs[0].Addr().Is4() != p.Addr().Is4():
				l.errorf(e.Pos, "%s: virtual address %s is not of the family of %s: ignored", obj, p, v.VIPs[0])
			default:
				v.VIPs = append(v.VIPs, p)
				setAddrOptions(&in.InstanceConfig, p, opts)
			}
		}
	}
	hs["nopreempt"] = func(s *Statement) {
		if l.args(s, 0, 0) {
			v.NoPreempt = true
		}
	}
	hs["preempt"] = func(s *Statement) {
		if l.args(s, 0, 0) {
			v.NoPreempt = false
		}
	}
	hs["preempt_delay"] = func(s *Statement) {
		if l.args(s, 1, 1) {
			if d, ok := l.secsArg(s, 1, 0, 1000, time.Millisecond); ok {
				v.PreemptDelay = d
			}
		}
	}
	hs["accept"] = func(s *Statement) {
		if l.args(s, 0, 0) {
			v.NoAccept = false
		}
	}
	hs["no_accept"] = func(s *Statement) {
		if l.args(s, 0, 0) {
			v.NoAccept = true
		}
	}
	hs["unicast_src_ip"] = func(s *Statement) {
		if l.args(s, 1, 1) {
			if a, ok := l.addr(s, 1); ok {
				in.UnicastSrc = a
			}
		}
	}
	hs["unicast_peer"] = func(s *Statement) {
		if !l.needBlock(s, 0, 0) {
			return
		}
		for i := range s.Block {
			e := &s.Block[i]
			a, ok := l.addr(e, 0)
			if !ok {
				continue
			}
			for j := 1; j < len(e.Words); j += 2 {
				if w := e.Words[j]; w == "min_ttl" || w == "max_ttl" {
					l.warnf(e.WordPos(j), "unicast_peer: %s not supported: ignored", w)
				} else {
					l.errorf(e.WordPos(j), "unicast_peer: unknown option %q ignored", w)
				}
			}
			v.Peers = append(v.Peers, a)
		}
	}
	hs["authentication"] = func(s *Statement) {
		if !l.needBlock(s, 0, 0) {
			return
		}
		l.block(obj+": authentication", s.Block, map[string]handler{
			"auth_type": func(s *Statement) {
				if !l.args(s, 1, 1) {
					return
				}
				switch s.Words[1] {
				case "PASS":
					v.AuthType = vrrp.AuthSimple
				case "AH":
					l.warnf(s.WordPos(1), "auth_type AH not supported: ignored")
				default:
					l.errorf(s.WordPos(1), "auth_type: %q is not PASS or AH: ignored", s.Words[1])
				}
			},
			"auth_pass": func(s *Statement) {
				if !l.args(s, 1, 1) {
					return
				}
				v.AuthPass = s.Words[1]
				if len(v.AuthPass) > 8 {
					l.warnf(s.WordPos(1), "auth_pass: only the first 8 characters count")
					v.AuthPass = v.AuthPass[:8]
				}
			},
		}, nil)
	}
	hs["use_vmac"] = func(s *Statement) {
		if s.HasBlock {
			l.errorf(s.Open, "use_vmac takes no block: block ignored")
		}
		in.UseVMAC = true
		if len(s.Words) > 1 {
			l.warnf(s.WordPos(1), "use_vmac: arguments (%s) not supported: ignored", strings.Join(s.Words[1:], " "))
		}
	}
	hs["dont_track_primary"] = func(s *Statement) {
		if l.args(s, 0, 0) {
			in.DontTrackPrimary = true
		}
	}
	hs["notify_priority_changes"] = func(s *Statement) {
		if b, ok := l.boolArg(s); ok {
			in.NotifyPriorityChanges = b
		}
	}
	ix := l.instanceExtra(&in, hs, obj, &devs)
	wx := l.instanceWire(&in, hs)
	l.block(obj, s.Block, hs, instanceIgnored)
	l.excludedVIPs(&in, ix, obj)
	if v.AuthType == vrrp.AuthNone && v.AuthPass != "" {
		l.warnf(s.Pos, "%s: auth_pass without auth_type PASS: ignored", obj)
		v.AuthPass = ""
	}

	// What keepalived decides once the block is read (vrrp_complete_instance).
	for _, d := range devs {
		if d.dev == in.Interface {
			continue
		}
		l.warnf(d.pos, "%s: virtual address %s on another interface (dev %s) not supported: ignored", obj, d.p, d.dev)
		v.VIPs = slices.DeleteFunc(v.VIPs, func(q netip.Prefix) bool { return q == d.p })
	}
	if !vridSet {
		l.fatalf(s.Pos, "%s: virtual_router_id missing: instance ignored", obj)
		return
	}
	if in.Interface == "" && len(v.Peers) == 0 {
		l.fatalf(s.Pos, "%s: interface missing (and not unicast): instance ignored", obj)
		return
	}
	v6 := in.IPv6()
	switch {
	case v6 && versionSet && v.Version == vrrp.V2:
		l.errorf(s.Pos, "%s: VRRP version 2 cannot carry IPv6: version 3 used", obj)
		v.Version = vrrp.V3
	case v6:
		v.Version = vrrp.V3
	case !versionSet:
		v.Version = l.version
	}
	if len(v.VIPs) == 0 && v.Version == vrrp.V3 && !ix.noVIPs {
		l.fatalf(s.Pos, "%s: no virtual_ipaddress with VRRP version 3", obj)
	}
	switch {
	case !prioSet && stateSet && v.InitialState == vrrp.Master:
		v.Priority = 255
	case !prioSet:
		v.Priority = 100
	}
	if v.Priority == 255 {
		if stateSet && v.InitialState == vrrp.Backup {
			l.warnf(s.Pos, "%s: state BACKUP with priority 255: MASTER used", obj)
		}
		v.InitialState = vrrp.Master
	}
	if !stateSet && v.Priority != 255 {
		v.InitialState = vrrp.Backup
	}
	l.strictInstance(s, &in, ix, obj)
	l.vmacInstance(&in, ix, obj)
	l.wireInstance(&in, wx, obj)
	l.advertInstance(&in, ix, obj)
	if v.Version == vrrp.V2 && v.Interval%time.Second != 0 {
		d := max(v.Interval.Round(time.Second), time.Second)
		l.warnf(advert.Pos, "%s: advert_int %s with VRRP version 2: %v used", obj, advert.Words[1], d)
		v.Interval = d
	}
	if v.Version == vrrp.V3 && v.Interval > 40950*time.Millisecond {
		l.errorf(advert.Pos, "%s: advert_int %s is above 40.95 s for VRRP version 3: 40.95 used", obj, advert.Words[1])
		v.Interval = 40950 * time.Millisecond
	}
	if v.Interval == 0 {
		v.Interval = time.Second
	}
	if garpSet {
		// An instance's timing replaces the global one whole: start from it.
		in.GARP = mergeGARP(l.cfg.Global.GARP, garp)
	}
	if ix.strict {
		l.strictLowerPrio(s, &in, garp)
	}
	if _, dup := l.objPos["instance "+v.Name]; dup {
		l.errorf(s.Pos, "%s: defined twice: ignored", obj)
		return
	}
	l.objPos["instance "+v.Name] = s.Pos
	l.objPos[fmt.Sprintf("instance #%d", len(l.cfg.Instances))] = s.Pos
	l.cfg.Instances = append(l.cfg.Instances, in)
}

// vipDev is a virtual address's "dev IF".
type vipDev struct {
	p   netip.Prefix
	dev string
	pos Pos
}

// mergeGARP returns the global timing g with the fields the instance set
// in t.
func mergeGARP(g, t netlink.AnnounceTiming) netlink.AnnounceTiming {
	var zero netlink.AnnounceTiming
	g = lowerPrioDefaults(g, t)
	if t.SecondDelay != zero.SecondDelay {
		g.SecondDelay = t.SecondDelay
	}
	if t.Repeat != zero.Repeat {
		g.Repeat = t.Repeat
	}
	if t.RefreshInterval != zero.RefreshInterval {
		g.RefreshInterval = t.RefreshInterval
	}
	if t.RefreshRepeat != zero.RefreshRepeat {
		g.RefreshRepeat = t.RefreshRepeat
	}
	return g
}

// syncGroup maps "vrrp_sync_group NAME { ... }".
func (l *loader) syncGroup(s *Statement) {
	if !l.needBlock(s, 1, 1) {
		return
	}
	g := vigil.SyncGroup{Name: s.Words[1]}
	obj := "vrrp_sync_group " + g.Name
	hs := l.trackHandlers(&g.Track, &g.TrackInterfaces)
	l.notifyHandlers(hs, map[string]**notify.Script{
		"notify_master": &g.Notify.Master, "notify_backup": &g.Notify.Backup,
		"notify_fault": &g.Notify.Fault, "notify_stop": &g.Notify.Stop,
		"notify": &g.Notify.Any,
	})
	hs["group"] = func(s *Statement) {
		if !l.needBlock(s, 0, 0) {
			return
		}
		for i := range s.Block {
			e := &s.Block[i]
			for j, m := range e.Words {
				if _, ok := l.objPos["instance "+m]; !ok {
					l.errorf(e.WordPos(j), "%s: no vrrp_instance %s: ignored", obj, m)
					continue
				}
				g.Members = append(g.Members, m)
			}
		}
	}
	hs["notify_priority_changes"] = func(s *Statement) {
		if b, ok := l.boolArg(s); ok {
			g.NotifyPriorityChanges = b
		}
	}
	tw := func(s *Statement) {
		if l.args(s, 0, 0) {
			g.TrackingWeight = true
		}
	}
	hs["sync_group_tracking_weight"] = tw
	hs["global_tracking"] = func(s *Statement) {
		l.warnf(s.Pos, "global_tracking is deprecated: use sync_group_tracking_weight")
		tw(s)
	}
	l.block(obj, s.Block, hs, map[string]string{
		"track_bfd":  whyNoBFD,
		"smtp_alert": whyNoSMTP,
	})
	switch len(g.Members) {
	case 0:
		l.errorf(s.Pos, "%s: no members: ignored", obj)
		return
	case 1:
		l.warnf(s.Pos, "%s: only one member", obj)
	}
	l.objPos["sync group "+g.Name] = s.Pos
	l.objPos[fmt.Sprintf("sync group #%d", len(l.cfg.SyncGroups))] = s.Pos
	l.cfg.SyncGroups = append(l.cfg.SyncGroups, g)
}
