package vigil

import (
	"context"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/netlink"
)

// staticKey identifies a set of static addresses: one address manager
// per interface and label.
type staticKey struct{ iface, label string }

// staticSet is what one manager holds.
type staticSet struct {
	addrs  []netip.Prefix
	routes []netlink.Route
	rules  []netlink.Rule
	opts   map[netip.Prefix]netlink.AddrOptions
	io     StaticIO
}

// staticSets groups st by interface and label. Routes go with their
// interface's unlabelled set; routes without an interface (blackhole,
// unreachable, prohibit) and rules go with the first set, or with "lo"
// when there is no static address.
func staticSets(st Static) (map[staticKey]*staticSet, []staticKey) {
	sets := map[staticKey]*staticSet{}
	var order []staticKey
	get := func(k staticKey) *staticSet {
		if sets[k] == nil {
			sets[k] = &staticSet{}
			order = append(order, k)
		}
		return sets[k]
	}
	for _, a := range st.Addresses {
		s := get(staticKey{a.Interface, a.Label})
		s.addrs = append(s.addrs, a.Prefix)
		if a.Options != (netlink.AddrOptions{}) {
			if s.opts == nil {
				s.opts = map[netip.Prefix]netlink.AddrOptions{}
			}
			s.opts[a.Prefix] = a.Options
		}
	}
	first := staticKey{iface: "lo"}
	if len(order) > 0 {
		first = order[0]
	}
	for _, r := range st.Routes {
		k := first
		if r.Interface != "" {
			k = staticKey{iface: r.Interface}
		}
		s := get(k)
		s.routes = append(s.routes, r)
	}
	if len(st.Rules) > 0 {
		s := get(first)
		s.rules = append(s.rules, st.Rules...)
	}
	return sets, order
}

// staticTimeout bounds one static address change.
const staticTimeout = 10 * time.Second

// addStatic opens and adds the static sets of st. s.mu held.
func (s *Supervisor) addStatic(st Static) {
	sets, order := staticSets(st)
	for _, k := range order {
		set := sets[k]
		s.openStatic(k, set)
	}
}

func (s *Supervisor) openStatic(k staticKey, set *staticSet) {
	io, err := s.p.Static(k.iface, k.label, set.routes, set.rules, set.opts)
	if err != nil {
		s.log.Error("vigil: static addresses", "interface", k.iface, "err", err)
		return
	}
	set.io = io
	if s.static == nil {
		s.static = map[staticKey]*staticSet{}
	}
	s.static[k] = set
	ctx, cancel := context.WithTimeout(context.Background(), staticTimeout)
	defer cancel()
	if err := io.Addrs.AddVIPs(ctx, set.addrs, true); err != nil {
		s.log.Error("vigil: adding static addresses", "interface", k.iface, "err", err)
	}
}

// dropStatic removes one set. s.mu held.
func (s *Supervisor) dropStatic(k staticKey) {
	set := s.static[k]
	ctx, cancel := context.WithTimeout(context.Background(), staticTimeout)
	defer cancel()
	if err := set.io.Addrs.RemoveVIPs(ctx, set.addrs); err != nil {
		s.log.Error("vigil: removing static addresses", "interface", k.iface, "err", err)
	}
	if set.io.Release != nil {
		set.io.Release()
	}
	delete(s.static, k)
}

// removeStatic removes every static set (Run's end). s.mu held.
func (s *Supervisor) removeStatic() {
	for k := range s.static {
		s.dropStatic(k)
	}
}

// reloadStatic changes the static sets to st's, writing the difference.
// s.mu held.
func (s *Supervisor) reloadStatic(st Static) {
	sets, order := staticSets(st)
	for k := range s.static {
		if sets[k] == nil {
			s.dropStatic(k)
		}
	}
	for _, k := range order {
		want, have := sets[k], s.static[k]
		if have == nil {
			s.openStatic(k, want)
			continue
		}
		if !reflect.DeepEqual(want.routes, have.routes) || !reflect.DeepEqual(want.rules, have.rules) || !maps.Equal(want.opts, have.opts) {
			if have.io.Reconfigure == nil || have.io.Reconfigure(want.routes, want.rules, want.opts) != nil {
				s.dropStatic(k)
				s.openStatic(k, want)
				continue
			}
			have.routes, have.rules = want.routes, want.rules
		}
		// An address whose options changed is removed and added again
		// with them.
		var gone, added []netip.Prefix
		for _, a := range have.addrs {
			if !slices.Contains(want.addrs, a) || want.opts[a] != have.opts[a] {
				gone = append(gone, a)
			}
		}
		for _, a := range want.addrs {
			if !slices.Contains(have.addrs, a) || want.opts[a] != have.opts[a] {
				added = append(added, a)
			}
		}
		have.opts = want.opts
		ctx, cancel := context.WithTimeout(context.Background(), staticTimeout)
		if len(gone) > 0 {
			if err := have.io.Addrs.RemoveVIPs(ctx, gone); err != nil {
				s.log.Error("vigil: removing static addresses", "interface", k.iface, "err", err)
			}
		}
		if len(added) > 0 {
			if err := have.io.Addrs.AddVIPs(ctx, added, true); err != nil {
				s.log.Error("vigil: adding static addresses", "interface", k.iface, "err", err)
			}
		}
		cancel()
		have.addrs = want.addrs
	}
}
