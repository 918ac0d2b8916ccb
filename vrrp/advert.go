package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Version is a VRRP protocol version.
type Version uint8

// Protocol versions. The zero value is invalid.
const (
	// V2 is VRRPv2 (RFC 3768): IPv4 only, advert interval in whole seconds,
	// optional simple-password authentication, checksum over the message.
	V2 Version = 2 // v2
	// V3 is VRRPv3 (RFC 5798, RFC 9568): IPv4 and IPv6, advert interval in
	// centiseconds, checksum including the IP pseudo-header.
	V3 Version = 3 // v3
)

// AuthType is the VRRPv2 authentication type.
type AuthType uint8

// VRRPv2 authentication types (RFC 3768 §5.3.6 and RFC 2338).
const (
	// AuthNone: no authentication; the 8 auth bytes are zero.
	AuthNone AuthType = 0 // none
	// AuthSimple: a clear-text password in the 8 auth bytes (keepalived
	// auth_type PASS).
	AuthSimple AuthType = 1 // simple
	// AuthAH: IP Authentication Header (RFC 2338); recognised and
	// rejected.
	AuthAH AuthType = 2 // ah
)

// Wire constants.
const (
	// Protocol is the IP protocol number of VRRP.
	Protocol = 112
	// TTL is the IPv4 TTL / IPv6 hop limit every advert is sent and received with.
	TTL = 255
	// TypeAdvertisement is the only VRRP packet type.
	TypeAdvertisement = 1
	// PriorityStop is the priority a Master sends when it stops (RFC 5798 §6.4.3).
	PriorityStop = 0
	// PriorityOwner is the priority of the router that owns the virtual addresses.
	PriorityOwner = 255

	headerLen = 8
	authLen   = 8
)

// Multicast groups adverts are sent to.
var (
	GroupV4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	GroupV6 = netip.MustParseAddr("ff02::12")
)

// Interval limits.
const (
	MinIntervalV2 = time.Second
	MaxIntervalV2 = 255 * time.Second
	MinIntervalV3 = 10 * time.Millisecond
	MaxIntervalV3 = 4095 * 10 * time.Millisecond
)

// Parse errors. Parse returns exactly one of these (unwrapped, so the hot
// path does not allocate); test with errors.Is.
var (
	ErrShort       = errors.New("vrrp: packet too short")
	ErrVersion     = errors.New("vrrp: unknown version")
	ErrType        = errors.New("vrrp: unknown packet type")
	ErrLength      = errors.New("vrrp: length does not match address count")
	ErrChecksum    = errors.New("vrrp: bad checksum")
	ErrAuthAH      = errors.New("vrrp: AH authentication (type 2) is not supported")
	ErrAuthType    = errors.New("vrrp: unknown authentication type")
	ErrInterval    = errors.New("vrrp: advert interval is zero")
	ErrFamily      = errors.New("vrrp: VRRPv2 carries IPv4 only")
	ErrAddr        = errors.New("vrrp: source or destination address missing or of the wrong family")
	errMarshalAddr = errors.New("vrrp: address family differs from the packet's")
)

// Advertisement is one VRRP advertisement, either version, either family.
type Advertisement struct {
	Version  Version
	VRID     uint8
	Priority uint8
	// Interval is the advert interval: whole seconds for V2, whole
	// centiseconds for V3 (Max Adver Int).
	Interval time.Duration
	// Addrs are the virtual addresses, all IPv4 or all IPv6.
	Addrs []netip.Addr
	// AuthType and Auth are the V2 authentication fields (ignored for V3).
	AuthType AuthType
	Auth     [8]byte
	// Checksum is the checksum field as received; Marshal computes its own.
	Checksum uint16
	// ChecksumAsV2, for VRRPv3 over IPv4, is a checksum over the message
	// alone, as VRRPv2 computes it, without the IPv4 pseudo-header
	// (keepalived v3_checksum_as_v2, for peers that read RFC 5798 §5.2.8
	// so). AppendMarshal computes the checksum so when it is set;
	// UnmarshalWith sets it when the message's checksum is of that form.
	// Ignored for V2 and IPv6.
	ChecksumAsV2 bool
}

// ParseOptions relax what UnmarshalWith accepts. The zero value is
// Unmarshal's strict RFC 5798 parsing.
type ParseOptions struct {
	// V3ChecksumAsV2 also accepts a VRRPv3 IPv4 message whose checksum
	// leaves out the pseudo-header (Advertisement.ChecksumAsV2); one with
	// the pseudo-header is accepted too, and a checksum of neither form
	// is still ErrChecksum.
	V3ChecksumAsV2 bool
}

// Parse decodes a VRRP message (the IP payload) received from src to dst.
// The family of src selects IPv4 or IPv6; V3 checksums cover the pseudo-header
// built from src and dst. It allocates the address slice; use
// Advertisement.Unmarshal with a reused value for zero allocations.
func Parse(b []byte, src, dst netip.Addr) (*Advertisement, error) {
	a := new(Advertisement)
	if err := a.Unmarshal(b, src, dst); err != nil {
		return nil, err
	}
	return a, nil
}

func is6(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }

// Unmarshal decodes b into a, reusing a.Addrs' storage. It is strict: the
// version, type, length, checksum, interval and (V2) auth type must all be
// valid, or it returns one of the Err* values and leaves a in an unspecified
// state.
func (a *Advertisement) Unmarshal(b []byte, src, dst netip.Addr) error {
	return a.UnmarshalWith(b, src, dst, ParseOptions{})
}

// UnmarshalWith is Unmarshal with the relaxations of o.
func (a *Advertisement) UnmarshalWith(b []byte, src, dst netip.Addr, o ParseOptions) error {
	if len(b) < headerLen {
		return ErrShort
	}
	ver := Version(b[0] >> 4)
	if ver != V2 && ver != V3 {
		return ErrVersion
	}
	if b[0]&0x0f != TypeAdvertisement {
		return ErrType
	}
	v6 := is6(src)
	if ver == V3 {
		if !src.IsValid() || !dst.IsValid() || is6(dst) != v6 {
			return ErrAddr
		}
	} else if v6 {
		return ErrFamily
	}
	alen := 4
	if v6 {
		alen = 16
	}
	n := int(b[3])
	want := headerLen + n*alen
	if ver == V2 {
		want += authLen
	}
	if len(b) < want {
		return ErrShort
	}
	if len(b) != want {
		return ErrLength
	}
	var sum uint32
	if ver == V3 {
		sum = pseudoSum(src, dst, len(b))
	}
	asV2 := false
	if fold(sumBytes(sum, b)) != 0xffff {
		// Only VRRPv3 over IPv4 has a second form (sum is then non-zero).
		if !o.V3ChecksumAsV2 || ver != V3 || v6 || fold(sumBytes(0, b)) != 0xffff {
			return ErrChecksum
		}
		asV2 = true
	}
	a.ChecksumAsV2 = asV2
	a.Version = ver
	a.VRID = b[1]
	a.Priority = b[2]
	a.Checksum = binary.BigEndian.Uint16(b[6:8])
	if ver == V2 {
		a.AuthType = AuthType(b[4])
		switch a.AuthType {
		case AuthNone, AuthSimple:
		case AuthAH:
			return ErrAuthAH
		default:
			return ErrAuthType
		}
		a.Interval = time.Duration(b[5]) * time.Second
		copy(a.Auth[:], b[want-authLen:])
	} else {
		a.AuthType = AuthNone
		a.Auth = [8]byte{}
		a.Interval = time.Duration(binary.BigEndian.Uint16(b[4:6])&0x0fff) * 10 * time.Millisecond
	}
	if a.Interval == 0 {
		return ErrInterval
	}
	a.Addrs = a.Addrs[:0]
	p := b[headerLen:]
	for i := 0; i < n; i++ {
		if v6 {
			a.Addrs = append(a.Addrs, netip.AddrFrom16([16]byte(p[:16])))
		} else {
			a.Addrs = append(a.Addrs, netip.AddrFrom4([4]byte(p[:4])))
		}
		p = p[alen:]
	}
	return nil
}

// MarshalLen is the length of the encoded message.
func (a *Advertisement) MarshalLen() int {
	alen := 4
	if len(a.Addrs) > 0 && a.Addrs[0].Is6() {
		alen = 16
	}
	n := headerLen + len(a.Addrs)*alen
	if a.Version == V2 {
		n += authLen
	}
	return n
}

// Marshal encodes a for sending from src to dst (used by the V3 checksum).
func (a *Advertisement) Marshal(src, dst netip.Addr) ([]byte, error) {
	return a.AppendMarshal(make([]byte, 0, a.MarshalLen()), src, dst)
}

// AppendMarshal appends the encoding of a to b. The checksum is computed
// (as a.ChecksumAsV2 says); a.Checksum is ignored. It fails on values
// that cannot be encoded: an unknown version, more than 255 addresses, mixed families, an interval out
// of range or not a whole number of the version's unit, IPv6 with V2, or
// (V3) a src/dst of a family other than the addresses'.
func (a *Advertisement) AppendMarshal(b []byte, src, dst netip.Addr) ([]byte, error) {
	if a.Version != V2 && a.Version != V3 {
		return b, fmt.Errorf("vrrp: marshal: %w: %d", ErrVersion, a.Version)
	}
	if len(a.Addrs) > 255 {
		return b, fmt.Errorf("vrrp: marshal: %d addresses, at most 255", len(a.Addrs))
	}
	v6 := false
	switch {
	case len(a.Addrs) > 0:
		// An IPv4-mapped IPv6 address in the list is an IPv6 address.
		v6 = a.Addrs[0].Is6()
	case src.IsValid():
		v6 = is6(src)
	}
	for _, ad := range a.Addrs {
		if !ad.IsValid() || ad.Is6() != v6 {
			return b, fmt.Errorf("vrrp: marshal: address %v: %w", ad, errMarshalAddr)
		}
	}
	var ival uint16
	switch a.Version {
	case V2:
		if v6 {
			return b, fmt.Errorf("vrrp: marshal: %w", ErrFamily)
		}
		if a.Interval < MinIntervalV2 || a.Interval > MaxIntervalV2 || a.Interval%time.Second != 0 {
			return b, fmt.Errorf("vrrp: marshal: v2 interval %v: must be whole seconds in 1s..255s", a.Interval)
		}
		if a.AuthType != AuthNone && a.AuthType != AuthSimple {
			return b, fmt.Errorf("vrrp: marshal: auth type %v cannot be sent", a.AuthType)
		}
		ival = uint16(a.Interval / time.Second)
	case V3:
		if a.Interval < MinIntervalV3 || a.Interval > MaxIntervalV3 || a.Interval%(10*time.Millisecond) != 0 {
			return b, fmt.Errorf("vrrp: marshal: v3 interval %v: must be whole centiseconds in 10ms..40.95s", a.Interval)
		}
		if !src.IsValid() || !dst.IsValid() || is6(src) != v6 || is6(dst) != v6 {
			return b, fmt.Errorf("vrrp: marshal: src %v dst %v: %w", src, dst, ErrAddr)
		}
		ival = uint16(a.Interval / (10 * time.Millisecond))
	}
	start := len(b)
	b = append(b, byte(a.Version)<<4|TypeAdvertisement, a.VRID, a.Priority, byte(len(a.Addrs)))
	if a.Version == V2 {
		b = append(b, byte(a.AuthType), byte(ival))
	} else {
		b = binary.BigEndian.AppendUint16(b, ival)
	}
	b = append(b, 0, 0)
	for _, ad := range a.Addrs {
		if v6 {
			s := ad.As16()
			b = append(b, s[:]...)
		} else {
			s := ad.As4()
			b = append(b, s[:]...)
		}
	}
	if a.Version == V2 {
		b = append(b, a.Auth[:]...)
	}
	msg := b[start:]
	var sum uint32
	if a.Version == V3 && (v6 || !a.ChecksumAsV2) {
		sum = pseudoSum(src, dst, len(msg))
	}
	binary.BigEndian.PutUint16(msg[6:8], ^fold(sumBytes(sum, msg)))
	return b, nil
}

// AuthPassword returns the 8 auth bytes keepalived sends for auth_pass pw:
// the password truncated to 8 bytes, zero padded.
func AuthPassword(pw string) [8]byte {
	var a [8]byte
	copy(a[:], pw)
	return a
}

// sumBytes adds b as big-endian 16-bit words to sum (RFC 1071).
func sumBytes(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

func fold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// pseudoSum is the partial checksum of the IPv4 or IPv6 pseudo-header.
func pseudoSum(src, dst netip.Addr, length int) uint32 {
	var sum uint32
	if is6(src) {
		s, d := src.As16(), dst.As16()
		sum = sumBytes(sumBytes(0, s[:]), d[:])
		sum += uint32(length>>16) + uint32(length&0xffff)
	} else {
		s, d := src.As4(), dst.As4()
		sum = sumBytes(sumBytes(0, s[:]), d[:])
		sum += uint32(length)
	}
	return sum + Protocol
}
