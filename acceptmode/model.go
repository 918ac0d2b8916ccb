package acceptmode

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// entry is what the table holds for one instance: the interface its
// link-local addresses are matched on, and its addresses, sorted, IPv4
// ones unmapped.
type entry struct {
	iface string
	addrs []netip.Addr
}

// family is one of an instance's sets.
type family int

const (
	v4 family = iota // ipv4_addr, matched everywhere
	v6               // ipv6_addr, global: matched everywhere
	ll               // ipv6_addr, link-local: matched on the instance's interface
)

var families = [...]family{v4, v6, ll}

// setName returns the name of instance name's set of family f. The
// suffixes have one length, so two instances' names never collide.
func setName(name string, f family) string {
	return name + [...]string{"-v4", "-v6", "-ll"}[f]
}

// familyOf returns the set a holds its place in.
func familyOf(a netip.Addr) family {
	switch {
	case a.Is4():
		return v4
	case a.IsLinkLocalUnicast():
		return ll
	}
	return v6
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

// split returns addrs by set.
func split(addrs []netip.Addr) [len(families)][]netip.Addr {
	var out [len(families)][]netip.Addr
	for _, a := range addrs {
		f := familyOf(a)
		out[f] = append(out[f], a)
	}
	return out
}

// diff returns the addresses of b not in a (to add) and of a not in b
// (to delete), both sorted lists.
func diff(a, b []netip.Addr) (add, del []netip.Addr) {
	for _, x := range b {
		if _, ok := slices.BinarySearchFunc(a, x, netip.Addr.Compare); !ok {
			add = append(add, x)
		}
	}
	for _, x := range a {
		if _, ok := slices.BinarySearchFunc(b, x, netip.Addr.Compare); !ok {
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
	// (accept); otherwise the rule drops what set holds.
	nd    uint8
	set   string
	fam   family
	iface string // ll only: the interface matched
}

// ICMPv6 neighbour discovery types (RFC 4861).
const (
	ndSolicit = 135
	ndAdvert  = 136
)

// rules returns the table's rules, in order: neighbour discovery
// accepted first, then the drops of each instance, by name.
func rules(inst map[string]entry) []rule {
	var out []rule
	for _, c := range []string{chainIn, chainOut} {
		out = append(out, rule{chain: c, nd: ndSolicit}, rule{chain: c, nd: ndAdvert})
	}
	for _, name := range names(inst) {
		for _, c := range []string{chainIn, chainOut} {
			for _, f := range families {
				r := rule{chain: c, set: setName(name, f), fam: f}
				if f == ll {
					r.iface = inst[name].iface
				}
				out = append(out, r)
			}
		}
	}
	return out
}

// names returns the instances' names, sorted.
func names(inst map[string]entry) []string {
	out := make([]string, 0, len(inst))
	for n := range inst {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

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
	var b strings.Builder
	dir := "daddr"
	if r.chain == chainOut {
		dir = "saddr"
	}
	if r.iface != "" {
		if r.chain == chainIn {
			b.WriteString("iifname ")
		} else {
			b.WriteString("oifname ")
		}
		fmt.Fprintf(&b, "%q ", r.iface)
	}
	if r.fam == v4 {
		b.WriteString("ip ")
	} else {
		b.WriteString("ip6 ")
	}
	fmt.Fprintf(&b, "%s @%s drop", dir, r.set)
	return b.String()
}
