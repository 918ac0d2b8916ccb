package vrrp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

var (
	src4 = netip.MustParseAddr("192.0.2.1")
	src6 = netip.MustParseAddr("fe80::ff:fe00:101")
)

// fixChecksum recomputes the checksum of a (possibly corrupted) message.
func fixChecksum(b []byte, src, dst netip.Addr) {
	b[6], b[7] = 0, 0
	var sum uint32
	if b[0]>>4 == 3 {
		sum = pseudoSum(src, dst, len(b))
	}
	binary.BigEndian.PutUint16(b[6:8], ^fold(sumBytes(sum, b)))
}

func mustMarshal(t testing.TB, a *Advertisement, src, dst netip.Addr) []byte {
	t.Helper()
	b, err := a.Marshal(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func v2advert() *Advertisement {
	return &Advertisement{Version: V2, VRID: 51, Priority: 150, Interval: time.Second,
		Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.101")}}
}

func v3advert6() *Advertisement {
	return &Advertisement{Version: V3, VRID: 53, Priority: 100, Interval: 4095 * 10 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("fe80::100"), netip.MustParseAddr("2001:db8::100")}}
}

func TestParseRejects(t *testing.T) {
	v2 := func(mut func(b []byte) []byte) []byte {
		b := mustMarshal(t, v2advert(), src4, GroupV4)
		b = mut(b)
		fixChecksum(b, src4, GroupV4)
		return b
	}
	cases := []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		want     error
	}{
		{"empty", nil, src4, GroupV4, ErrShort},
		{"header only", make([]byte, 7), src4, GroupV4, ErrShort},
		{"version 1", v2(func(b []byte) []byte { b[0] = 0x11; return b }), src4, GroupV4, ErrVersion},
		{"version 4", v2(func(b []byte) []byte { b[0] = 0x41; return b }), src4, GroupV4, ErrVersion},
		{"type 2", v2(func(b []byte) []byte { b[0] = 0x22; return b }), src4, GroupV4, ErrType},
		{"count larger than packet", v2(func(b []byte) []byte { b[3] = 3; return b }), src4, GroupV4, ErrShort},
		{"count smaller than packet", v2(func(b []byte) []byte { b[3] = 1; return b }), src4, GroupV4, ErrLength},
		{"trailing byte", v2(func(b []byte) []byte { return append(b, 0) }), src4, GroupV4, ErrLength},
		{"AH auth", v2(func(b []byte) []byte { b[4] = 2; return b }), src4, GroupV4, ErrAuthAH},
		{"auth type 3", v2(func(b []byte) []byte { b[4] = 3; return b }), src4, GroupV4, ErrAuthType},
		{"interval 0", v2(func(b []byte) []byte { b[5] = 0; return b }), src4, GroupV4, ErrInterval},
		{"v2 from IPv6", v2(func(b []byte) []byte { return b }), src6, GroupV6, ErrFamily},
		{"bad checksum", func() []byte { b := mustMarshal(t, v2advert(), src4, GroupV4); b[7]++; return b }(), src4, GroupV4, ErrChecksum},
		{"v3 no dst", mustMarshal(t, v3advert6(), src6, GroupV6), src6, netip.Addr{}, ErrAddr},
		{"v3 mixed families", mustMarshal(t, v3advert6(), src6, GroupV6), src6, GroupV4, ErrAddr},
		{"v3 wrong pseudo-header dst", mustMarshal(t, v3advert6(), src6, GroupV6), src6, netip.MustParseAddr("ff02::1"), ErrChecksum},
		{"v3 wrong pseudo-header src", mustMarshal(t, v3advert6(), src6, GroupV6), netip.MustParseAddr("fe80::2"), GroupV6, ErrChecksum},
		{"v3 IPv6 as IPv4", mustMarshal(t, v3advert6(), src6, GroupV6), src4, GroupV4, ErrLength},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := Parse(c.b, c.src, c.dst)
			if !errors.Is(err, c.want) {
				t.Fatalf("Parse = %+v, %v; want %v", a, err, c.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	pw := v2advert()
	pw.AuthType, pw.Auth = AuthSimple, AuthPassword("secret12-too-long")
	zero := &Advertisement{Version: V3, VRID: 1, Priority: 0, Interval: 10 * time.Millisecond}
	uni := &Advertisement{Version: V3, VRID: 255, Priority: 255, Interval: 40950 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.7")}}
	cases := []struct {
		name     string
		a        *Advertisement
		src, dst netip.Addr
	}{
		{"v2", v2advert(), src4, GroupV4},
		{"v2 password", pw, src4, GroupV4},
		{"v3 ipv6", v3advert6(), src6, GroupV6},
		{"v3 no addresses", zero, src4, GroupV4},
		{"v3 unicast", uni, src4, netip.MustParseAddr("198.51.100.2")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := mustMarshal(t, c.a, c.src, c.dst)
			if len(b) != c.a.MarshalLen() {
				t.Errorf("len %d, MarshalLen %d", len(b), c.a.MarshalLen())
			}
			got, err := Parse(b, c.src, c.dst)
			if err != nil {
				t.Fatal(err)
			}
			want := *c.a
			want.Checksum = got.Checksum
			if len(want.Addrs) == 0 {
				want.Addrs = got.Addrs[:0:0]
				got.Addrs = got.Addrs[:0:0]
			}
			if !reflect.DeepEqual(*got, want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", *got, want)
			}
		})
	}
	if got := string(pw.Auth[:]); got != "secret12" {
		t.Errorf("AuthPassword truncates to %q, want secret12", got)
	}
}

func TestMarshalRejects(t *testing.T) {
	many := make([]netip.Addr, 256)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{198, 18, 0, byte(i)})
	}
	cases := []struct {
		name string
		a    Advertisement
		src  netip.Addr
		dst  netip.Addr
	}{
		{"no version", Advertisement{Interval: time.Second}, src4, GroupV4},
		{"v2 fractional interval", Advertisement{Version: V2, Interval: 1500 * time.Millisecond}, src4, GroupV4},
		{"v2 interval 256s", Advertisement{Version: V2, Interval: 256 * time.Second}, src4, GroupV4},
		{"v2 ipv6", Advertisement{Version: V2, Interval: time.Second, Addrs: []netip.Addr{src6}}, src6, GroupV6},
		{"v2 AH", Advertisement{Version: V2, Interval: time.Second, AuthType: AuthAH}, src4, GroupV4},
		{"v3 interval 5ms", Advertisement{Version: V3, Interval: 5 * time.Millisecond}, src4, GroupV4},
		{"v3 interval 41s", Advertisement{Version: V3, Interval: 41 * time.Second}, src4, GroupV4},
		{"v3 interval 15ms", Advertisement{Version: V3, Interval: 15 * time.Millisecond}, src4, GroupV4},
		{"v3 mixed addrs", Advertisement{Version: V3, Interval: time.Second, Addrs: []netip.Addr{src4, src6}}, src4, GroupV4},
		{"v3 family mismatch", Advertisement{Version: V3, Interval: time.Second, Addrs: []netip.Addr{src4}}, src6, GroupV6},
		{"v3 no src", Advertisement{Version: V3, Interval: time.Second}, netip.Addr{}, GroupV4},
		{"invalid addr", Advertisement{Version: V2, Interval: time.Second, Addrs: []netip.Addr{{}}}, src4, GroupV4},
		{"256 addrs", Advertisement{Version: V2, Interval: time.Second, Addrs: many}, src4, GroupV4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if b, err := c.a.Marshal(c.src, c.dst); err == nil {
				t.Fatalf("Marshal = %x, want error", b)
			}
		})
	}
}

func TestEnumStrings(t *testing.T) {
	for v, want := range map[interface{ String() string }]string{
		V2: "v2", V3: "v3", Version(7): "Version(7)",
		AuthNone: "none", AuthSimple: "simple", AuthAH: "ah", AuthType(9): "AuthType(9)",
	} {
		if got := v.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", v, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, fr := range readCaptures(f) {
		f.Add(fr.payload, fr.src.AsSlice(), fr.dst.AsSlice())
	}
	f.Fuzz(func(t *testing.T, b, s, d []byte) {
		src, _ := netip.AddrFromSlice(s)
		dst, _ := netip.AddrFromSlice(d)
		var a Advertisement
		if err := a.Unmarshal(b, src, dst); err != nil {
			return
		}
		// Whatever parses must re-marshal to the same bytes (v3 reserved
		// bits aside) and parse again to the same value.
		out, err := a.Marshal(src, dst)
		if err != nil {
			t.Fatalf("parsed %+v but Marshal: %v", a, err)
		}
		if a.Version == V3 {
			b = append([]byte(nil), b...)
			b[4] &= 0x0f
			fixChecksum(b, src, dst)
		}
		// 0xffff and 0x0000 are the two forms of a ones'-complement zero:
		// a field of either verifies (keepalived sends 0x0000, as Marshal
		// does, and accepts both).
		if b[6] == 0xff && b[7] == 0xff && out[6] == 0 && out[7] == 0 {
			b = append([]byte(nil), b...)
			b[6], b[7] = 0, 0
		}
		if string(out) != string(b) {
			t.Fatalf("re-marshal differs:\n got %x\nwant %x", out, b)
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	for _, fr := range readCaptures(f) {
		a, err := Parse(fr.payload, fr.src, fr.dst)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(a.Version), a.VRID, a.Priority, uint16(a.Interval/(10*time.Millisecond)), uint8(a.AuthType), a.Auth[:], fr.src.AsSlice(), fr.dst.AsSlice(), len(a.Addrs))
	}
	f.Fuzz(func(t *testing.T, ver, vrid, prio uint8, cs uint16, auth uint8, pw, s, d []byte, n int) {
		src, _ := netip.AddrFromSlice(s)
		dst, _ := netip.AddrFromSlice(d)
		a := Advertisement{Version: Version(ver), VRID: vrid, Priority: prio,
			Interval: time.Duration(cs) * 10 * time.Millisecond, AuthType: AuthType(auth)}
		copy(a.Auth[:], pw)
		for i := 0; i < n%300 && src.IsValid(); i++ {
			if src.Is4() {
				a.Addrs = append(a.Addrs, netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}))
			} else {
				a.Addrs = append(a.Addrs, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)}))
			}
		}
		b, err := a.Marshal(src, dst)
		if err != nil {
			return
		}
		got, err := Parse(b, src, dst)
		if err != nil {
			t.Fatalf("Marshal(%+v) = %x does not parse: %v", a, b, err)
		}
		if a.Version == V3 {
			a.AuthType, a.Auth = AuthNone, [8]byte{}
		}
		a.Checksum = got.Checksum
		if len(a.Addrs) == 0 {
			a.Addrs, got.Addrs = nil, nil
		}
		if !reflect.DeepEqual(*got, a) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", *got, a)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, c := range []struct {
		name     string
		a        *Advertisement
		src, dst netip.Addr
	}{{"v2-ipv4", v2advert(), src4, GroupV4}, {"v3-ipv6", v3advert6(), src6, GroupV6}} {
		pkt := mustMarshal(b, c.a, c.src, c.dst)
		b.Run(c.name, func(b *testing.B) {
			var a Advertisement
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			for b.Loop() {
				if err := a.Unmarshal(pkt, c.src, c.dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMarshal(b *testing.B) {
	for _, c := range []struct {
		name     string
		a        *Advertisement
		src, dst netip.Addr
	}{{"v2-ipv4", v2advert(), src4, GroupV4}, {"v3-ipv6", v3advert6(), src6, GroupV6}} {
		buf := make([]byte, 0, 128)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.a.AppendMarshal(buf[:0], c.src, c.dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestParseZeroAllocs(t *testing.T) {
	pkt := mustMarshal(t, v3advert6(), src6, GroupV6)
	var a Advertisement
	if err := a.Unmarshal(pkt, src6, GroupV6); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = a.Unmarshal(pkt, src6, GroupV6) }); n != 0 {
		t.Errorf("Unmarshal allocates %v times per call, want 0", n)
	}
	bad := append([]byte(nil), pkt...)
	bad[7]++
	if n := testing.AllocsPerRun(100, func() { _ = a.Unmarshal(bad, src6, GroupV6) }); n != 0 {
		t.Errorf("Unmarshal of a bad packet allocates %v times, want 0", n)
	}
}
