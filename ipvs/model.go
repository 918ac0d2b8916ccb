package ipvs

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

//go:generate go tool stringer -type=Protocol,Scheduler,Forward,TunnelType,Op,QuorumChange,EventKind -linecomment -output=enum_string.go

// Protocol is the transport protocol of an address-based virtual server.
// The zero value is invalid.
type Protocol uint8

// Protocols IPVS balances.
const (
	TCP  Protocol = iota + 1 // tcp
	UDP                      // udp
	SCTP                     // sctp
)

// Scheduler is an IPVS scheduling algorithm; String returns the kernel's
// name of it ("wlc"). The zero value is invalid.
type Scheduler uint8

// The kernel's schedulers (ip_vs_<name>.ko).
const (
	RoundRobin                  Scheduler = iota + 1 // rr
	WeightedRoundRobin                               // wrr
	LeastConnection                                  // lc
	WeightedLeastConnection                          // wlc
	LocalityLeastConnection                          // lblc
	LocalityLeastConnectionRepl                      // lblcr
	DestinationHashing                               // dh
	SourceHashing                                    // sh
	ShortestExpectedDelay                            // sed
	NeverQueue                                       // nq
	WeightedFailover                                 // fo
	WeightedOverflow                                 // ovf
	MaglevHashing                                    // mh
)

// lastScheduler is the last valid Scheduler.
const lastScheduler = MaglevHashing

// ParseScheduler returns the scheduler the kernel calls name ("wlc"), the
// name its String returns.
func ParseScheduler(name string) (Scheduler, error) {
	for s := RoundRobin; s <= lastScheduler; s++ {
		if s.String() == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("ipvs: unknown scheduler %q", name)
}

// SchedFlags are the scheduler flags of sh and mh (ipvsadm -b).
type SchedFlags uint8

// Scheduler flags. Fallback: pick another server when the hashed one is
// unavailable (weight 0 or over its threshold). Port: hash the source port
// too.
const (
	FlagFallback SchedFlags = 1 << iota // sh-fallback / mh-fallback
	FlagPort                            // sh-port / mh-port
)

// String returns "none", "fallback", "port" or "fallback|port" (flags
// outside those two as "SchedFlags(0x4)").
func (f SchedFlags) String() string {
	switch f {
	case 0:
		return "none"
	case FlagFallback:
		return "fallback"
	case FlagPort:
		return "port"
	case FlagFallback | FlagPort:
		return "fallback|port"
	}
	return fmt.Sprintf("SchedFlags(%#x)", uint8(f))
}

// Forward is how IPVS forwards to a real server (keepalived's lb_kind).
// The zero value is invalid.
type Forward uint8

// Forwarding methods: Masquerade is NAT, Route is DR (direct routing),
// Tunnel is TUN.
const (
	Masquerade Forward = iota + 1 // masq
	Route                         // route
	Tunnel                        // tunnel
)

// TunnelType is the encapsulation of a Tunnel real server. The zero value
// is IPIP, the kernel's default.
type TunnelType uint8

// Tunnel types (ipvsadm --tun-type).
const (
	IPIP TunnelType = iota // ipip
	GUE                    // gue
	GRE                    // gre
)

// ServiceKey identifies a virtual server: either Protocol+Addr+Port, or a
// firewall mark (FWMark != 0) with the address family given by Family6.
type ServiceKey struct {
	Protocol Protocol
	Addr     netip.Addr
	Port     uint16
	FWMark   uint32 // non-zero: a firewall-mark service; Protocol, Addr and Port are then zero
	Family6  bool   // firewall-mark services only: IPv6 instead of IPv4
}

// IsFWMark reports whether k names a firewall-mark service.
func (k ServiceKey) IsFWMark() bool { return k.FWMark != 0 }

// Is6 reports whether the service is IPv6.
func (k ServiceKey) Is6() bool {
	if k.IsFWMark() {
		return k.Family6
	}
	return k.Addr.Is6()
}

// String formats k as ipvsadm does: "tcp 192.0.2.10:80",
// "tcp [2001:db8::1]:80", "fwmark 7" or "fwmark 7 ipv6".
func (k ServiceKey) String() string {
	if k.IsFWMark() {
		if k.Family6 {
			return fmt.Sprintf("fwmark %d ipv6", k.FWMark)
		}
		return fmt.Sprintf("fwmark %d", k.FWMark)
	}
	return k.Protocol.String() + " " + netip.AddrPortFrom(k.Addr, k.Port).String()
}

// Service is a virtual server's own settings.
type Service struct {
	ServiceKey
	Scheduler  Scheduler
	SchedFlags SchedFlags // sh and mh only
	// Persistence, if non-zero, makes a client stick to one real server
	// for this long after its last connection (whole seconds).
	Persistence time.Duration
	// PersistenceMask groups clients for persistence: a prefix length, at
	// most 32 for IPv4 and 128 for IPv6. Zero means the default (32 or
	// 128: one client address).
	PersistenceMask int
	// OnePacket schedules every UDP datagram on its own (ipvsadm -o).
	OnePacket bool
}

// DestinationKey identifies a real server within a service.
type DestinationKey struct {
	Addr netip.Addr
	Port uint16
}

func (k DestinationKey) String() string { return netip.AddrPortFrom(k.Addr, k.Port).String() }

// Destination is a real server.
type Destination struct {
	DestinationKey
	Forward Forward
	// Weight is 0..65535 in the kernel; weight 0 takes no new connections.
	Weight int
	// UpperThreshold stops new connections above this many (0: no limit);
	// LowerThreshold lets them in again below it.
	UpperThreshold uint32
	LowerThreshold uint32
	// Tunnel settings, Forward == Tunnel only.
	TunnelType     TunnelType
	TunnelPort     uint16 // GUE
	TunnelChecksum bool   // GUE and GRE: add a checksum
}

// VirtualServer is a service with its real servers: one entry of the
// desired table given to Sync.
type VirtualServer struct {
	Service
	Destinations []Destination
}

// Stats are the kernel's counters for a service or a destination.
// Counters lag the traffic by about 2 s (the kernel's rate estimator);
// active/inactive connection counts are current.
type Stats struct {
	Connections uint64
	PacketsIn   uint64
	PacketsOut  uint64
	BytesIn     uint64
	BytesOut    uint64
	CPS         uint64 // connections per second
	PPSIn       uint64
	PPSOut      uint64
	BPSIn       uint64
	BPSOut      uint64
}

// ServiceState is a service as the kernel holds it.
type ServiceState struct {
	Service
	Stats Stats
}

// DestinationState is a destination as the kernel holds it.
type DestinationState struct {
	Destination
	ActiveConns   uint32
	InactiveConns uint32
	Stats         Stats
}

// Backend is an IPVS table: the kernel's (Open) or an in-memory one
// (ipvstest), with the namespace's sync daemons (Daemons).
// Implementations report a missing service or destination with
// ErrNotFound and a duplicate with ErrExists, wrapped.
type Backend interface {
	Daemons
	Services(ctx context.Context) ([]ServiceState, error)
	Destinations(ctx context.Context, svc ServiceKey) ([]DestinationState, error)
	CreateService(ctx context.Context, svc Service) error
	UpdateService(ctx context.Context, svc Service) error
	DeleteService(ctx context.Context, svc ServiceKey) error
	CreateDestination(ctx context.Context, svc ServiceKey, d Destination) error
	UpdateDestination(ctx context.Context, svc ServiceKey, d Destination) error
	DeleteDestination(ctx context.Context, svc ServiceKey, d DestinationKey) error
	Close() error
}
