package vrrp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"
)

// v3csumFrame is the first advert of testdata/c-v3-ipv4-100ms.pcap
// (keepalived 2.2.7, 192.0.2.1 to 224.0.0.18), with its RFC 5798
// checksum 0xd3ca; 0x765b is the same message's checksum without the
// pseudo-header, computed apart (Python, RFC 1071).
var (
	v3csumFrame  = []byte{0x31, 0x34, 0x96, 0x01, 0x00, 0x0a, 0xd3, 0xca, 192, 0, 2, 100}
	v3csumAsV2   = []byte{0x31, 0x34, 0x96, 0x01, 0x00, 0x0a, 0x76, 0x5b, 192, 0, 2, 100}
	v3csumAdvert = Advertisement{Version: V3, VRID: 52, Priority: 150, Interval: 100 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}
)

func TestMarshalV3ChecksumAsV2(t *testing.T) {
	for _, c := range []struct {
		asV2 bool
		want []byte
	}{{false, v3csumFrame}, {true, v3csumAsV2}} {
		a := v3csumAdvert
		a.ChecksumAsV2 = c.asV2
		if got := mustMarshal(t, &a, src4, GroupV4); !bytes.Equal(got, c.want) {
			t.Errorf("ChecksumAsV2 %v: Marshal = %x, want %x", c.asV2, got, c.want)
		}
	}
	// IPv6 and V2 have one checksum: the option changes nothing.
	for _, c := range []struct {
		a        *Advertisement
		src, dst netip.Addr
	}{{v3advert6(), src6, GroupV6}, {v2advert(), src4, GroupV4}} {
		want := mustMarshal(t, c.a, c.src, c.dst)
		c.a.ChecksumAsV2 = true
		if got := mustMarshal(t, c.a, c.src, c.dst); !bytes.Equal(got, want) {
			t.Errorf("v%d: ChecksumAsV2 changed the message: %x, want %x", c.a.Version, got, want)
		}
	}
}

func TestUnmarshalV3ChecksumAsV2(t *testing.T) {
	corrupt := bytes.Clone(v3csumAsV2)
	corrupt[7]++
	v6 := v3advert6()
	v6.ChecksumAsV2 = true
	v6b := mustMarshal(t, v6, src6, GroupV6)
	v6b[7] ^= 0x55 // neither form
	for _, c := range []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		opt      bool
		want     error
		wantAsV2 bool
	}{
		{"RFC form, strict", v3csumFrame, src4, GroupV4, false, nil, false},
		{"v2 form, strict", v3csumAsV2, src4, GroupV4, false, ErrChecksum, false},
		{"RFC form, relaxed", v3csumFrame, src4, GroupV4, true, nil, false},
		{"v2 form, relaxed", v3csumAsV2, src4, GroupV4, true, nil, true},
		{"v2 form, relaxed, other dst", v3csumAsV2, src4, netip.MustParseAddr("198.51.100.2"), true, nil, true},
		{"RFC form, relaxed, wrong dst", v3csumFrame, src4, netip.MustParseAddr("198.51.100.2"), true, ErrChecksum, false},
		{"corrupt, relaxed", corrupt, src4, GroupV4, true, ErrChecksum, false},
		{"IPv6 bad, relaxed", v6b, src6, GroupV6, true, ErrChecksum, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var a Advertisement
			err := a.UnmarshalWith(c.b, c.src, c.dst, ParseOptions{V3ChecksumAsV2: c.opt})
			if !errors.Is(err, c.want) {
				t.Fatalf("UnmarshalWith = %v, want %v", err, c.want)
			}
			if err == nil && a.ChecksumAsV2 != c.wantAsV2 {
				t.Errorf("ChecksumAsV2 = %v, want %v", a.ChecksumAsV2, c.wantAsV2)
			}
			if err == nil && c.wantAsV2 {
				out := mustMarshal(t, &a, c.src, c.dst)
				if !bytes.Equal(out, c.b) {
					t.Errorf("re-marshal %x, want %x", out, c.b)
				}
			}
		})
	}
}
