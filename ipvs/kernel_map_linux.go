package ipvs

// The kernel backend's mapping between the model (Service, Destination)
// and the kernel's IPVS fields and attributes.

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"net"
	"net/netip"
	"time"

	mobyipvs "github.com/moby/ipvs"
	"golang.org/x/sys/unix"
)

// Service flags of the kernel (include/uapi/linux/ip_vs.h).
const (
	svcFlagPersistent = 0x0001 // IP_VS_SVC_F_PERSISTENT
	svcFlagHashed     = 0x0002 // IP_VS_SVC_F_HASHED: set by the kernel, ignored
	svcFlagOnePacket  = 0x0004 // IP_VS_SVC_F_ONEPACKET
	svcFlagSched1     = 0x0008 // IP_VS_SVC_F_SCHED1: sh-fallback, mh-fallback
	svcFlagSched2     = 0x0010 // IP_VS_SVC_F_SCHED2: sh-port, mh-port
)

// Forwarding methods of a destination (IP_VS_CONN_F_FWD_MASK values).
const (
	fwdMasq      = 0 // IP_VS_CONN_F_MASQ
	fwdLocalNode = 1 // IP_VS_CONN_F_LOCALNODE
	fwdTunnel    = 2 // IP_VS_CONN_F_TUNNEL
	fwdRoute     = 3 // IP_VS_CONN_F_DROUTE
)

// familyOf returns the address family of a service key.
func familyOf(k ServiceKey) uint16 {
	if k.Is6() {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

var protoNumbers = map[Protocol]uint16{TCP: unix.IPPROTO_TCP, UDP: unix.IPPROTO_UDP, SCTP: unix.IPPROTO_SCTP}

// serviceKeyToMoby turns a key into the moby/ipvs service that names it.
func serviceKeyToMoby(k ServiceKey) (*mobyipvs.Service, error) {
	ms := &mobyipvs.Service{AddressFamily: familyOf(k)}
	if k.IsFWMark() {
		if k.Protocol != 0 || k.Addr.IsValid() || k.Port != 0 {
			return nil, fmt.Errorf("firewall-mark service %d has a protocol, address or port", k.FWMark)
		}
		ms.FWMark = k.FWMark
		return ms, nil
	}
	p, ok := protoNumbers[k.Protocol]
	if !ok {
		return nil, fmt.Errorf("bad protocol %v", k.Protocol)
	}
	if !k.Addr.IsValid() || k.Addr.Zone() != "" || k.Addr.Is4In6() {
		return nil, fmt.Errorf("bad virtual address %v (want a plain IPv4 or IPv6 address)", k.Addr)
	}
	ms.Protocol = p
	ms.Address = net.IP(k.Addr.AsSlice())
	ms.Port = k.Port
	return ms, nil
}

// serviceToMoby maps a Service to moby/ipvs's raw fields.
//
// PersistenceMask 0 is written as the family's full length (a /32 mask
// for IPv4, prefix length 128 for IPv6: one client address), and read
// back as that length: what is read back is s.Normalize(). Persistence
// must be whole seconds.
func serviceToMoby(s Service) (*mobyipvs.Service, error) {
	ms, err := serviceKeyToMoby(s.ServiceKey)
	if err != nil {
		return nil, err
	}
	if s.Scheduler < RoundRobin || s.Scheduler > lastScheduler {
		return nil, fmt.Errorf("bad scheduler %v", s.Scheduler)
	}
	ms.SchedName = s.Scheduler.String()
	if s.SchedFlags&^(FlagFallback|FlagPort) != 0 {
		return nil, fmt.Errorf("bad scheduler flags %v", s.SchedFlags)
	}
	if s.SchedFlags&FlagFallback != 0 {
		ms.Flags |= svcFlagSched1
	}
	if s.SchedFlags&FlagPort != 0 {
		ms.Flags |= svcFlagSched2
	}
	if s.OnePacket {
		ms.Flags |= svcFlagOnePacket
	}
	if s.Persistence != 0 {
		if s.Persistence < time.Second || s.Persistence%time.Second != 0 || s.Persistence/time.Second > math.MaxUint32 {
			return nil, fmt.Errorf("persistence %v is not a whole number of seconds from 1s to %ds", s.Persistence, uint32(math.MaxUint32))
		}
		ms.Flags |= svcFlagPersistent
		ms.Timeout = uint32(s.Persistence / time.Second)
	}
	if s.Is6() {
		switch {
		case s.PersistenceMask == 0:
			ms.Netmask = 128
		case s.PersistenceMask >= 1 && s.PersistenceMask <= 128:
			ms.Netmask = uint32(s.PersistenceMask) // IPv6: a prefix length
		default:
			return nil, fmt.Errorf("bad IPv6 persistence mask /%d", s.PersistenceMask)
		}
	} else {
		plen := s.PersistenceMask
		if plen == 0 {
			plen = 32
		}
		if plen < 0 || plen > 32 {
			return nil, fmt.Errorf("bad IPv4 persistence mask /%d", s.PersistenceMask)
		}
		// IPv4: the mask in network byte order, which moby/ipvs sends
		// in native byte order.
		ms.Netmask = binary.NativeEndian.Uint32(net.CIDRMask(plen, 32))
	}
	return ms, nil
}

// serviceFromMoby maps what moby/ipvs read from the kernel to a
// ServiceState in Service.Normalize form.
func serviceFromMoby(m *mobyipvs.Service) (ServiceState, error) {
	var s ServiceState
	switch m.AddressFamily {
	case unix.AF_INET, unix.AF_INET6:
	default:
		return s, fmt.Errorf("service with address family %d", m.AddressFamily)
	}
	v6 := m.AddressFamily == unix.AF_INET6
	if m.FWMark != 0 {
		s.FWMark = m.FWMark
		s.Family6 = v6
	} else {
		for p, n := range protoNumbers {
			if n == m.Protocol {
				s.Protocol = p
			}
		}
		a, ok := netip.AddrFromSlice(m.Address)
		if !ok || a.Is6() != v6 {
			return s, fmt.Errorf("service with address %v in family %d", m.Address, m.AddressFamily)
		}
		s.Addr, s.Port = a, m.Port
		if s.Protocol == 0 {
			return s, fmt.Errorf("service %s:%d with protocol %d", a, m.Port, m.Protocol)
		}
	}
	key := s.ServiceKey.String()
	sched, err := ParseScheduler(m.SchedName)
	if err != nil {
		return s, fmt.Errorf("service %s: %w", key, err)
	}
	s.Scheduler = sched
	if m.Flags&svcFlagSched1 != 0 {
		s.SchedFlags |= FlagFallback
	}
	if m.Flags&svcFlagSched2 != 0 {
		s.SchedFlags |= FlagPort
	}
	s.OnePacket = m.Flags&svcFlagOnePacket != 0
	if m.Flags&svcFlagPersistent != 0 {
		s.Persistence = time.Duration(m.Timeout) * time.Second
	}
	if v6 {
		if m.Netmask > 128 {
			return s, fmt.Errorf("service %s: IPv6 persistence mask %d", key, m.Netmask)
		}
		s.PersistenceMask = int(m.Netmask)
	} else {
		var b [4]byte
		binary.NativeEndian.PutUint32(b[:], m.Netmask)
		mask := binary.BigEndian.Uint32(b[:])
		plen := bits.LeadingZeros32(^mask)
		if plen < 32 && mask<<plen != 0 {
			return s, fmt.Errorf("service %s: non-contiguous IPv4 persistence mask %#08x", key, mask)
		}
		s.PersistenceMask = plen
	}
	return s, nil
}

// kernelDest is a destination as the IPVS netlink attributes carry it
// (IPVS_DEST_ATTR_*): what destAttr sends and parseDest reads. moby/ipvs's
// Destination has no tunnel attributes and no 64-bit counters, hence this
// type.
type kernelDest struct {
	Addr          netip.Addr
	Family        uint16 // IPVS_DEST_ATTR_ADDR_FAMILY; 0 when absent (kernels before 3.18): the service's
	Port          uint16
	FwdMethod     uint32 // IP_VS_CONN_F_FWD_MASK bits
	Weight        uint32
	UThresh       uint32
	LThresh       uint32
	TunType       uint8  // IP_VS_CONN_F_TUNNEL_TYPE_*
	TunPort       uint16 // host order here, big-endian on the wire
	TunFlags      uint16 // IP_VS_TUNNEL_ENCAP_FLAG_*
	ActiveConns   uint32
	InactiveConns uint32
	PersistConns  uint32
	Stats         Stats
}

// Tunnel types and flags of a destination (include/uapi/linux/ip_vs.h).
const (
	tunTypeIPIP = 0 // IP_VS_CONN_F_TUNNEL_TYPE_IPIP
	tunTypeGUE  = 1 // IP_VS_CONN_F_TUNNEL_TYPE_GUE
	tunTypeGRE  = 2 // IP_VS_CONN_F_TUNNEL_TYPE_GRE

	tunFlagCsum    = 1 << 0 // IP_VS_TUNNEL_ENCAP_FLAG_CSUM
	tunFlagRemCsum = 1 << 1 // IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM: not in the model, ignored on reads
)

// The kernel's numbers of the forwarding methods and tunnel types.
var (
	fwdMethods = map[Forward]uint32{Masquerade: fwdMasq, Route: fwdRoute, Tunnel: fwdTunnel}
	tunTypes   = map[TunnelType]uint8{IPIP: tunTypeIPIP, GUE: tunTypeGUE, GRE: tunTypeGRE}
)

// destinationToKernel maps a destination of svc to the service that
// names svc (moby/ipvs's raw fields) and the destination's attributes. A
// destination of the other family than svc is sent with its own address
// family (the kernel accepts that for tunnel forwarding only); tunnel
// type, port and checksum flag are sent for every destination (zero
// unless Forward is Tunnel).
func destinationToKernel(svc ServiceKey, d Destination) (*mobyipvs.Service, *kernelDest, error) {
	ms, err := serviceKeyToMoby(svc)
	if err != nil {
		return nil, nil, err
	}
	if !d.Addr.IsValid() || d.Addr.Zone() != "" || d.Addr.Is4In6() {
		return nil, nil, fmt.Errorf("bad real server address %v (want a plain IPv4 or IPv6 address)", d.Addr)
	}
	kd := &kernelDest{
		Addr:    d.Addr,
		Family:  unix.AF_INET,
		Port:    d.Port,
		UThresh: d.UpperThreshold,
		LThresh: d.LowerThreshold,
	}
	if d.Addr.Is6() {
		kd.Family = unix.AF_INET6
	}
	fwd, ok := fwdMethods[d.Forward]
	if !ok {
		return nil, nil, fmt.Errorf("bad forwarding method %v", d.Forward)
	}
	kd.FwdMethod = fwd
	if d.Addr.Is6() != svc.Is6() && d.Forward != Tunnel {
		return nil, nil, fmt.Errorf("real server %v of another address family than its service with forwarding %v (mixed families need tunnel)", d.Addr, d.Forward)
	}
	if d.Weight < 0 || d.Weight > math.MaxUint16 {
		return nil, nil, fmt.Errorf("weight %d out of 0..65535", d.Weight)
	}
	kd.Weight = uint32(d.Weight)
	if d.Forward != Tunnel && (d.TunnelType != IPIP || d.TunnelPort != 0 || d.TunnelChecksum) {
		return nil, nil, fmt.Errorf("tunnel settings with forwarding %v", d.Forward)
	}
	tun, ok := tunTypes[d.TunnelType]
	if !ok {
		return nil, nil, fmt.Errorf("bad tunnel type %v", d.TunnelType)
	}
	kd.TunType = tun
	switch {
	case d.TunnelType == GUE && d.TunnelPort == 0:
		return nil, nil, fmt.Errorf("tunnel type gue without a tunnel port")
	case d.TunnelType != GUE && d.TunnelPort != 0:
		return nil, nil, fmt.Errorf("tunnel port %d with tunnel type %v (gue only)", d.TunnelPort, d.TunnelType)
	case d.TunnelChecksum && d.TunnelType == IPIP:
		return nil, nil, fmt.Errorf("tunnel checksum with tunnel type ipip (gue and gre only)")
	}
	kd.TunPort = d.TunnelPort
	if d.TunnelChecksum {
		kd.TunFlags = tunFlagCsum
	}
	return ms, kd, nil
}

// destinationFromKernel maps what the kernel reports to a
// DestinationState in Destination.Normalize form; svc6 is the family of
// its service (for kernels that send no destination family). The
// kernel's local-node method (a real server on this host, never asked for
// through this package) reads as Masquerade. Tunnel settings are read only
// with Forward == Tunnel; the remote-checksum flag, which the model does
// not have, is ignored.
func destinationFromKernel(kd *kernelDest, svc6 bool) (DestinationState, error) {
	var d DestinationState
	family := kd.Family
	if family == 0 {
		family = unix.AF_INET
		if svc6 {
			family = unix.AF_INET6
		}
	}
	a, err := addrOfFamily(kd.Addr, family)
	if err != nil {
		return d, fmt.Errorf("real server: %w", err)
	}
	d.Addr, d.Port = a, kd.Port
	switch kd.FwdMethod {
	case fwdMasq, fwdLocalNode:
		d.Forward = Masquerade
	case fwdRoute:
		d.Forward = Route
	case fwdTunnel:
		d.Forward = Tunnel
	default:
		return d, fmt.Errorf("real server %s: forwarding method %d", d.DestinationKey, kd.FwdMethod)
	}
	if kd.Weight > math.MaxUint16 {
		return d, fmt.Errorf("real server %s: weight %d", d.DestinationKey, kd.Weight)
	}
	d.Weight = int(kd.Weight)
	d.UpperThreshold, d.LowerThreshold = kd.UThresh, kd.LThresh
	if d.Forward == Tunnel {
		switch kd.TunType {
		case tunTypeIPIP:
			d.TunnelType = IPIP
		case tunTypeGUE:
			d.TunnelType = GUE
			d.TunnelPort = kd.TunPort
		case tunTypeGRE:
			d.TunnelType = GRE
		default:
			return d, fmt.Errorf("real server %s: tunnel type %d", d.DestinationKey, kd.TunType)
		}
		d.TunnelChecksum = kd.TunFlags&tunFlagCsum != 0 && d.TunnelType != IPIP
	}
	d.ActiveConns = kd.ActiveConns
	d.InactiveConns = kd.InactiveConns
	d.Stats = kd.Stats
	return d, nil
}
