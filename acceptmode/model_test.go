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
	inst := map[string]entry{
		"VI_2": {iface: "vrrp.51", addrs: addrs("2001:db8::10")},
		"VI_1": {iface: "eth0", addrs: addrs("192.0.2.10")},
	}
	var got []string
	for _, r := range rules(inst) {
		got = append(got, r.chain+": "+r.String())
	}
	want := []string{
		"input: icmpv6 type nd-neighbor-solicit accept",
		"input: icmpv6 type nd-neighbor-advert accept",
		"output: icmpv6 type nd-neighbor-solicit accept",
		"output: icmpv6 type nd-neighbor-advert accept",
		"input: ip daddr @VI_1-v4 drop",
		"input: ip6 daddr @VI_1-v6 drop",
		`input: iifname "eth0" ip6 daddr @VI_1-ll drop`,
		"output: ip saddr @VI_1-v4 drop",
		"output: ip6 saddr @VI_1-v6 drop",
		`output: oifname "eth0" ip6 saddr @VI_1-ll drop`,
		"input: ip daddr @VI_2-v4 drop",
		"input: ip6 daddr @VI_2-v6 drop",
		`input: iifname "vrrp.51" ip6 daddr @VI_2-ll drop`,
		"output: ip saddr @VI_2-v4 drop",
		"output: ip6 saddr @VI_2-v6 drop",
		`output: oifname "vrrp.51" ip6 saddr @VI_2-ll drop`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := rules(nil); len(got) != 4 {
		t.Errorf("no instance: %d rules, want the 4 neighbour discovery ones", len(got))
	}
}

func TestSplit(t *testing.T) {
	a, err := normalize("VI_1", addrs("fe80::1", "2001:db8::1", "::ffff:192.0.2.1", "192.0.2.2", "192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	got := split(a)
	if !slices.Equal(got[v4], addrs("192.0.2.1", "192.0.2.2")) {
		t.Errorf("v4 = %v", got[v4])
	}
	if !slices.Equal(got[v6], addrs("2001:db8::1")) {
		t.Errorf("v6 = %v", got[v6])
	}
	if !slices.Equal(got[ll], addrs("fe80::1")) {
		t.Errorf("ll = %v", got[ll])
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
	add, del := diff(addrs("192.0.2.1", "192.0.2.2"), addrs("192.0.2.2", "192.0.2.3"))
	if !slices.Equal(add, addrs("192.0.2.3")) || !slices.Equal(del, addrs("192.0.2.1")) {
		t.Errorf("diff: add %v, del %v", add, del)
	}
	if add, del := diff(addrs("192.0.2.1"), addrs("192.0.2.1")); add != nil || del != nil {
		t.Errorf("same: add %v, del %v", add, del)
	}
}

func TestSetNamesDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range []string{"a", "a-v4", "a-v", "a-l", "a-ll"} {
		for _, f := range families {
			s := setName(n, f)
			if seen[s] {
				t.Errorf("set name %q twice", s)
			}
			seen[s] = true
		}
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
