package acceptmode

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

func TestRules(t *testing.T) {
	var got []string
	for _, r := range rules {
		got = append(got, r.chain+": "+r.String())
	}
	want := []string{
		"input: icmpv6 type nd-neighbor-solicit accept",
		"input: icmpv6 type nd-neighbor-advert accept",
		"input: ip daddr @vips4 drop",
		"input: ip6 daddr @vips6 drop",
		"input: ip6 daddr . iifname @vipsll drop",
		"output: icmpv6 type nd-neighbor-solicit accept",
		"output: icmpv6 type nd-neighbor-advert accept",
		"output: ip saddr @vips4 drop",
		"output: ip6 saddr @vips6 drop",
		"output: ip6 saddr . oifname @vipsll drop",
	}
	if !slices.Equal(got, want) {
		t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestElements: the sets hold every instance's addresses once, by
// family; link-local ones with the instance's interface, so the same
// link-local address on two interfaces is two elements.
func TestElements(t *testing.T) {
	a, err := normalize("VI_1", addrs("fe80::1", "2001:db8::1", "::ffff:192.0.2.1", "192.0.2.2", "192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	inst := map[string]entry{
		"VI_1": {iface: "eth0", addrs: a},
		"VI_2": {iface: "eth0", addrs: addrs("192.0.2.2", "fe80::1")}, // shares VI_1's
		"VI_3": {iface: "eth1", addrs: addrs("fe80::1", "192.0.2.3")},
	}
	got := elements(inst)
	if want := []elem{{addr: netip.MustParseAddr("192.0.2.1")}, {addr: netip.MustParseAddr("192.0.2.2")},
		{addr: netip.MustParseAddr("192.0.2.3")}}; !slices.Equal(got[v4], want) {
		t.Errorf("v4 = %v, want %v", got[v4], want)
	}
	if want := []elem{{addr: netip.MustParseAddr("2001:db8::1")}}; !slices.Equal(got[v6], want) {
		t.Errorf("v6 = %v, want %v", got[v6], want)
	}
	if want := []elem{{netip.MustParseAddr("fe80::1"), "eth0"}, {netip.MustParseAddr("fe80::1"), "eth1"}}; !slices.Equal(got[ll], want) {
		t.Errorf("ll = %v, want %v", got[ll], want)
	}

	// VI_1 leaves: what VI_2 shares stays.
	delete(inst, "VI_1")
	add, del := diff(got[v4], elements(inst)[v4])
	if len(add) != 0 || !slices.Equal(del, []elem{{addr: netip.MustParseAddr("192.0.2.1")}}) {
		t.Errorf("VI_1 gone: add %v, del %v; want only 192.0.2.1 deleted", add, del)
	}
	if add, del := diff(got[ll], elements(inst)[ll]); len(add) != 0 || len(del) != 0 {
		t.Errorf("VI_1 gone: link-local add %v, del %v; want none (VI_2 shares fe80::1 on eth0)", add, del)
	}
}

func TestNormalizeRejects(t *testing.T) {
	for _, a := range [][]netip.Addr{{{}}, addrs("fe80::1%eth0")} {
		_, err := normalize("VI_1", a)
		var fe *FieldError
		if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) || fe.Object != "instance VI_1" || fe.Field != "addrs" {
			t.Errorf("normalize(%v) = %v, want a *FieldError on addrs of instance VI_1", a, err)
		}
	}
}

func TestDiff(t *testing.T) {
	e := func(s ...string) []elem {
		var out []elem
		for _, a := range addrs(s...) {
			out = append(out, elem{addr: a})
		}
		return out
	}
	add, del := diff(e("192.0.2.1", "192.0.2.2"), e("192.0.2.2", "192.0.2.3"))
	if !slices.Equal(add, e("192.0.2.3")) || !slices.Equal(del, e("192.0.2.1")) {
		t.Errorf("diff: add %v, del %v", add, del)
	}
	if add, del := diff(e("192.0.2.1"), e("192.0.2.1")); add != nil || del != nil {
		t.Errorf("same: add %v, del %v", add, del)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	if (Config{}).table() != "vigil" || (Config{}).priority() != -1 {
		t.Errorf("defaults: table %q priority %d", (Config{}).table(), (Config{}).priority())
	}
	zero := int32(0)
	if (Config{Priority: &zero}).priority() != 0 {
		t.Error("Priority 0 not kept")
	}
	for _, name := range []string{strings.Repeat("x", 256), "a\x00b"} {
		err := Config{Table: name}.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "Table" {
			t.Errorf("Table %q: %v, want a *FieldError on Table", name, err)
		}
	}
}
