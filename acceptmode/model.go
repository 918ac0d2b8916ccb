package acceptmode

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// entry is what one instance drops: its addresses, sorted, IPv4 ones
// unmapped, and the interface its link-local ones are matched on.
type entry struct {
	iface string
	addrs []netip.Addr
}

// elem is one element of the table's sets: an address, and for an IPv6
// link-local one the interface it is matched on.
type elem struct {
	addr  netip.Addr
	iface string // ll elements only
}

// family is one of the table's sets.
type family int

const (
	v4 family = iota // vips4: ipv4_addr, matched everywhere
	v6               // vips6: ipv6_addr, global, matched everywhere
	ll               // vipsll: ipv6_addr . ifname, link-local
)

var families = [...]family{v4, v6, ll}

// setNames are the sets' names, by family.
var setNames = [...]string{v4: "vips4", v6: "vips6", ll: "vipsll"}

// familyOf returns the set a belongs in.
func familyOf(a netip.Addr) family {
	switch {
	case a.Is4():
		return v4
	case a.IsLinkLocalUnicast():
		return ll
	}
	return v6
}

func (e elem) family() family { return familyOf(e.addr) }

func (e elem) compare(o elem) int {
	if c := e.addr.Compare(o.addr); c != 0 {
		return c
	}
	return strings.Compare(e.iface, o.iface)
}

// normalize returns addrs unmapped, sorted and without repeats, or a
// *FieldError naming the first invalid one.
func normalize(name string, addrs []netip.Addr) ([]netip.Addr, error) {
	out := make([]netip.Addr, 0, len(addrs))
	for i, a := range addrs {
		if !a.IsValid() {
			return nil, &FieldError{Object: "instance " + name, Field: "addrs", Reason: fmt.Sprintf("[%d] is not an address", i)}
		}
		if a.Zone() != "" {
			return nil, &FieldError{Object: "instance " + name, Field: "addrs", Reason: fmt.Sprintf("[%d] %v has a zone: the instance's interface is its zone", i, a)}
		}
		out = append(out, a.Unmap())
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out), nil
}

// elements returns the sets' contents for the instances: every
// instance's addresses, those two instances share once, by set, sorted.
func elements(inst map[string]entry) [len(families)][]elem {
	var out [len(families)][]elem
	for _, e := range inst {
		for _, a := range e.addrs {
			x := elem{addr: a}
			if familyOf(a) == ll {
				x.iface = e.iface
			}
			out[x.family()] = append(out[x.family()], x)
		}
	}
	for f := range out {
		slices.SortFunc(out[f], elem.compare)
		out[f] = slices.Compact(out[f])
	}
	return out
}

// diff returns the elements of b not in a (to add) and of a not in b
// (to delete); a and b are sorted.
func diff(a, b []elem) (add, del []elem) {
	for _, x := range b {
		if _, ok := slices.BinarySearchFunc(a, x, elem.compare); !ok {
			add = append(add, x)
		}
	}
	for _, x := range a {
		if _, ok := slices.BinarySearchFunc(b, x, elem.compare); !ok {
			del = append(del, x)
		}
	}
	return add, del
}

// Chains of the table.
const (
	chainIn  = "input"
	chainOut = "output"
)

// rule is one rule of the table, as a value the kernel encoding and the
// tests share.
type rule struct {
	chain string // chainIn or chainOut
	// nd, if not 0, is the ICMPv6 type of a neighbour discovery rule
	// (accept); otherwise the rule drops what set fam holds.
	nd  uint8
	fam family
}

// ICMPv6 neighbour discovery types (RFC 4861).
const (
	ndSolicit = 135
	ndAdvert  = 136
)

// rules are the table's rules, in order: neighbour discovery accepted
// first, then the drops.
var rules = func() []rule {
	var out []rule
	for _, c := range []string{chainIn, chainOut} {
		out = append(out, rule{chain: c, nd: ndSolicit}, rule{chain: c, nd: ndAdvert})
		for _, f := range families {
			out = append(out, rule{chain: c, fam: f})
		}
	}
	return out
}()

// String returns r in nft's syntax, as `nft list table` prints it
// without counters.
func (r rule) String() string {
	if r.nd != 0 {
		t := "nd-neighbor-solicit"
		if r.nd == ndAdvert {
			t = "nd-neighbor-advert"
		}
		return "icmpv6 type " + t + " accept"
	}
	dir, ifn := "daddr", "iifname"
	if r.chain == chainOut {
		dir, ifn = "saddr", "oifname"
	}
	switch r.fam {
	case v4:
		return "ip " + dir + " @" + setNames[v4] + " drop"
	case v6:
		return "ip6 " + dir + " @" + setNames[v6] + " drop"
	}
	return "ip6 " + dir + " . " + ifn + " @" + setNames[ll] + " drop"
}
