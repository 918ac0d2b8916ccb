package ipvs

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
)

// MaxPersistence is the longest Persistence the kernel holds (a 32-bit
// count of seconds).
const MaxPersistence = math.MaxUint32 * time.Second

// MaxWeight is the largest destination weight.
const MaxWeight = 65535

// A FieldError says which field of which object is invalid. It wraps
// ErrInvalid.
type FieldError struct {
	Service ServiceKey
	// Dest is the destination, when HasDest is set.
	Dest    DestinationKey
	HasDest bool
	// Daemon says the error is of a sync daemon (SyncDaemon.Validate)
	// of role State, not of Service.
	Daemon bool
	State  SyncState
	// Timeouts says the error is of the connection timeouts
	// (Timeouts.Validate), not of Service.
	Timeouts bool
	Field    string // the Go name of the field: "Scheduler", "Weight"
	Reason   string
}

// Error formats e as "ipvs: service tcp 192.0.2.10:80: destination
// 10.0.0.1:80: Weight: 70000 out of range 0..65535", or a sync daemon's
// as "ipvs: sync daemon backup: Interface: empty", the timeouts' as
// "ipvs: timeouts: UDP: -1s out of range 0..744h0m0s".
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Timeouts {
		b.WriteString("ipvs: timeouts")
	} else if e.Daemon {
		b.WriteString("ipvs: sync daemon ")
		b.WriteString(e.State.String())
	} else {
		b.WriteString("ipvs: service ")
		b.WriteString(e.Service.String())
	}
	if e.HasDest {
		b.WriteString(": destination ")
		b.WriteString(e.Dest.String())
	}
	b.WriteString(": ")
	b.WriteString(e.Field)
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// schedList names the schedulers, for errors.
func schedList() string {
	names := make([]string, 0, lastScheduler)
	for s := RoundRobin; s <= lastScheduler; s++ {
		names = append(names, s.String())
	}
	return strings.Join(names, ", ")
}

// Validate reports the first rule of IPVS (as ipvsadm and the kernel apply
// them) that s breaks, as a *FieldError naming the field:
//
//   - a service is either a firewall-mark service (FWMark != 0, with
//     Protocol, Addr and Port zero) or an address service (Protocol, a valid
//     Addr without zone, Family6 false);
//   - an address service's Port may be zero only with Persistence
//     (ipvsadm: "zero port specified for non-persistent service");
//   - Scheduler is one of the kernel's; SchedFlags only with sh and mh;
//   - Persistence is whole seconds in [0, MaxPersistence];
//   - PersistenceMask is in 0..32 (IPv4) or 0..128 (IPv6);
//   - OnePacket only on UDP or firewall-mark services.
func (s Service) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Service: s.ServiceKey, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if s.IsFWMark() {
		switch {
		case s.Protocol != 0:
			return bad("Protocol", "%v set on a firewall-mark service, want zero", s.Protocol)
		case s.Addr.IsValid():
			return bad("Addr", "%v set on a firewall-mark service, want zero", s.Addr)
		case s.Port != 0:
			return bad("Port", "%d set on a firewall-mark service, want zero", s.Port)
		}
	} else {
		switch {
		case s.Protocol == 0:
			return bad("Protocol", "zero value, want one of tcp, udp, sctp")
		case s.Protocol > SCTP:
			return bad("Protocol", "unknown %v, want one of tcp, udp, sctp", s.Protocol)
		case s.Family6:
			return bad("Family6", "set on an address service (the family is the address's)")
		}
		if err := checkAddr(s.Addr); err != "" {
			return bad("Addr", "%s", err)
		}
		if s.Port == 0 && s.Persistence == 0 {
			return bad("Port", "zero on a service without Persistence")
		}
	}
	switch {
	case s.Scheduler == 0:
		return bad("Scheduler", "zero value, want one of %s", schedList())
	case s.Scheduler > lastScheduler:
		return bad("Scheduler", "unknown %v, want one of %s", s.Scheduler, schedList())
	case s.SchedFlags&^(FlagFallback|FlagPort) != 0:
		return bad("SchedFlags", "unknown flags %v", s.SchedFlags)
	case s.SchedFlags != 0 && s.Scheduler != SourceHashing && s.Scheduler != MaglevHashing:
		return bad("SchedFlags", "%v with scheduler %v, flags are for sh and mh only", s.SchedFlags, s.Scheduler)
	case s.Persistence < 0:
		return bad("Persistence", "negative %v", s.Persistence)
	case s.Persistence%time.Second != 0:
		return bad("Persistence", "%v is not whole seconds", s.Persistence)
	case s.Persistence > MaxPersistence:
		return bad("Persistence", "%v over the maximum %v", s.Persistence, MaxPersistence)
	case s.PersistenceMask < 0 || s.PersistenceMask > maskBits(s.ServiceKey):
		return bad("PersistenceMask", "%d out of range 0..%d", s.PersistenceMask, maskBits(s.ServiceKey))
	case s.OnePacket && !s.IsFWMark() && s.Protocol != UDP:
		return bad("OnePacket", "set on a %v service, one-packet scheduling is for UDP and firewall-mark services", s.Protocol)
	}
	return nil
}

// Validate reports the first rule of IPVS that d, a destination of svc,
// breaks, as a *FieldError naming the field:
//
//   - Addr is valid, without zone, of svc's family; a destination of the
//     other family is allowed only with Forward == Tunnel (the kernel
//     forwards mixed families only through tunnels);
//   - Forward is Masquerade, Route or Tunnel;
//   - Weight is in 0..MaxWeight (0 is valid: no new connections);
//   - LowerThreshold <= UpperThreshold (the kernel's rule: a lower
//     threshold needs an upper one);
//   - TunnelType, TunnelPort and TunnelChecksum only with Forward == Tunnel;
//     TunnelPort is required with GUE and only with GUE; TunnelChecksum only
//     with GUE or GRE.
func (d Destination) Validate(svc ServiceKey) error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Service: svc, Dest: d.DestinationKey, HasDest: true, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if err := checkAddr(d.Addr); err != "" {
		return bad("Addr", "%s", err)
	}
	switch {
	case d.Forward == 0:
		return bad("Forward", "zero value, want one of masq, route, tunnel")
	case d.Forward > Tunnel:
		return bad("Forward", "unknown %v, want one of masq, route, tunnel", d.Forward)
	case d.Addr.Is6() != svc.Is6() && d.Forward != Tunnel:
		return bad("Addr", "%s destination of an %s service with forwarding %v; mixed families need tunnel", family(d.Addr.Is6()), family(svc.Is6()), d.Forward)
	case d.Weight < 0 || d.Weight > MaxWeight:
		return bad("Weight", "%d out of range 0..%d", d.Weight, MaxWeight)
	case d.LowerThreshold > d.UpperThreshold:
		return bad("LowerThreshold", "%d above UpperThreshold %d", d.LowerThreshold, d.UpperThreshold)
	case d.TunnelType > GRE:
		return bad("TunnelType", "unknown %v, want one of ipip, gue, gre", d.TunnelType)
	case d.Forward != Tunnel && d.TunnelType != IPIP:
		return bad("TunnelType", "%v with forwarding %v, tunnel settings need tunnel", d.TunnelType, d.Forward)
	case d.Forward != Tunnel && d.TunnelPort != 0:
		return bad("TunnelPort", "%d with forwarding %v, tunnel settings need tunnel", d.TunnelPort, d.Forward)
	case d.Forward != Tunnel && d.TunnelChecksum:
		return bad("TunnelChecksum", "set with forwarding %v, tunnel settings need tunnel", d.Forward)
	case d.TunnelType == GUE && d.TunnelPort == 0:
		return bad("TunnelPort", "zero with tunnel type gue, want the GUE port")
	case d.TunnelType != GUE && d.TunnelPort != 0:
		return bad("TunnelPort", "%d with tunnel type %v, the port is for gue only", d.TunnelPort, d.TunnelType)
	case d.TunnelChecksum && d.TunnelType == IPIP:
		return bad("TunnelChecksum", "set with tunnel type ipip, checksums are for gue and gre")
	}
	return nil
}

// Validate reports every rule v breaks: its service's (Service.Validate),
// each destination's (Destination.Validate) and duplicate destination keys.
// The errors are joined; each is a *FieldError.
func (v VirtualServer) Validate() error {
	return validateServer(v.Service, len(v.Destinations), func(i int) *Destination { return &v.Destinations[i] })
}

// validateServer is VirtualServer.Validate of svc and the n destinations
// dest returns, which need not be in one slice (PoolConfig.Validate).
func validateServer(svc Service, n int, dest func(i int) *Destination) error {
	var errs []error
	if err := svc.Validate(); err != nil {
		errs = append(errs, err)
	}
	// Duplicates: by comparing each with those before it while that is
	// cheap, with a map beyond (a pool of a few hundred servers).
	var seen map[DestinationKey]bool
	if n > 32 {
		seen = make(map[DestinationKey]bool, n)
	}
	for i := range n {
		d := dest(i)
		if err := d.Validate(svc.ServiceKey); err != nil {
			errs = append(errs, err)
		}
		dup := false
		if seen != nil {
			dup = seen[d.DestinationKey]
			seen[d.DestinationKey] = true
		} else {
			for j := range i {
				if dest(j).DestinationKey == d.DestinationKey {
					dup = true
					break
				}
			}
		}
		if dup {
			errs = append(errs, &FieldError{Service: svc.ServiceKey, Dest: d.DestinationKey, HasDest: true, Field: "DestinationKey", Reason: "duplicate destination"})
		}
	}
	return errors.Join(errs...)
}

// ValidateTable reports every rule a desired table breaks: each virtual
// server's (VirtualServer.Validate) and duplicate service keys.
func ValidateTable(table []VirtualServer) error {
	return validateServices(table, func(v VirtualServer) ServiceKey { return v.ServiceKey }, VirtualServer.Validate, "duplicate service")
}

// validateServices validates each of items and reports, with dup as the
// reason, each key (of key) given twice; the errors are joined.
func validateServices[T any](items []T, key func(T) ServiceKey, validate func(T) error, dup string) error {
	var errs []error
	seen := make(map[ServiceKey]bool, len(items))
	for _, it := range items {
		if err := validate(it); err != nil {
			errs = append(errs, err)
		}
		k := key(it)
		if seen[k] {
			errs = append(errs, &FieldError{Service: k, Field: "ServiceKey", Reason: dup})
		}
		seen[k] = true
	}
	return errors.Join(errs...)
}

// Normalize returns s in the form the kernel reports it, so that two
// services that configure the kernel the same way are ==: a zero
// PersistenceMask becomes the full prefix length (32 or 128). Backends
// report services as Normalize returns them; Sync compares normalized
// forms.
func (s Service) Normalize() Service {
	if s.PersistenceMask == 0 {
		s.PersistenceMask = maskBits(s.ServiceKey)
	}
	return s
}

// Normalize returns d in the form the kernel reports it: without tunnel
// settings unless Forward is Tunnel, and without TunnelPort unless the
// tunnel type is GUE.
func (d Destination) Normalize() Destination {
	if d.Forward != Tunnel {
		d.TunnelType, d.TunnelPort, d.TunnelChecksum = IPIP, 0, false
	}
	if d.TunnelType != GUE {
		d.TunnelPort = 0
	}
	return d
}

// Compare orders service keys: address services before firewall-mark
// services, then by protocol, address and port, or by family and mark.
func (k ServiceKey) Compare(o ServiceKey) int {
	if c := cmp.Compare(k.FWMark, o.FWMark); c != 0 {
		return c
	}
	if k.Family6 != o.Family6 {
		if k.Family6 {
			return 1
		}
		return -1
	}
	if c := cmp.Compare(k.Protocol, o.Protocol); c != 0 {
		return c
	}
	if c := k.Addr.Compare(o.Addr); c != 0 {
		return c
	}
	return cmp.Compare(k.Port, o.Port)
}

// Compare orders destination keys by address, then port.
func (k DestinationKey) Compare(o DestinationKey) int {
	if c := k.Addr.Compare(o.Addr); c != 0 {
		return c
	}
	return cmp.Compare(k.Port, o.Port)
}

func maskBits(k ServiceKey) int {
	if k.Is6() {
		return 128
	}
	return 32
}

func family(is6 bool) string {
	if is6 {
		return "IPv6"
	}
	return "IPv4"
}

// checkAddr returns why a is not a usable IPVS address, or "".
func checkAddr(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "zero value, want an IPv4 or IPv6 address"
	case a.Zone() != "":
		return fmt.Sprintf("%v has a zone, IPVS addresses have none", a)
	case a.Is4In6():
		return fmt.Sprintf("%v is IPv4-mapped, use the IPv4 form", a)
	case a.IsUnspecified():
		return fmt.Sprintf("%v is unspecified", a)
	}
	return ""
}
