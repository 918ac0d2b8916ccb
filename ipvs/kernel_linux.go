package ipvs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	mobyipvs "github.com/moby/ipvs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
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

// Kernel is the kernel's IPVS table in one network namespace, reached
// through github.com/moby/ipvs over generic netlink. It implements
// Backend; its methods may be called from several goroutines (they are
// serialized: one netlink socket).
//
// What the caller needs: CAP_NET_ADMIN in the namespace's user namespace
// (every IPVS netlink command, reads included, needs it), and the ip_vs
// module loaded (or IPVS built in) before Open, with the ip_vs_<sched>
// modules of the schedulers used (the kernel loads those on demand when
// it can). Open never loads modules.
//
// What moby/ipvs does that vigil contains: its first handle in a process
// runs "modprobe -va ip_vs" (output captured, not printed) and resolves
// the IPVS family once for the whole process; Open lets it do so only
// after checking that the family is present, so both succeed silently.
// What remains: if no modprobe binary is in PATH, moby/ipvs logs one
// warning through logrus's standard logger at the first Open of the
// process (vigil sets no global logger; a program that wants it silent
// calls logrus.SetOutput itself).
//
// Other kernel facts callers see: Stats lag the traffic by about 2 s (the
// kernel's estimator), ActiveConns and InactiveConns are current;
// connection entries outlive a deleted service or destination, so a
// service created again with the same addresses sees the old connections;
// the kernel does not mark an IPVS dump as interrupted, so a table read
// while another process changes it may be inconsistent and
// ErrDumpInterrupted is never returned.
//
// Writes in bulk (Apply, the Batcher a Syncer uses) bypass moby/ipvs,
// which sends one request and waits for its answer each time (a send, a
// getsockname and a receive with a fresh 64 KiB buffer per write): Apply
// encodes the same IPVS generic-netlink commands itself, from the same
// field mapping, and sends up to a few hundred of them in one sendmsg on a
// socket of its own. Reads and single writes go through moby/ipvs.
type Kernel struct {
	mu     sync.Mutex // serializes use of h and batch (one reply stream each)
	h      *mobyipvs.Handle
	batch  *batchSocket
	where  string // "current namespace" or the Netns path, for errors
	log    *slog.Logger
	closed bool
}

// Open checks that the kernel has IPVS and opens its table in cfg.Netns.
// It returns an error wrapping ErrNoIPVS when the IPVS generic-netlink
// family is not registered (ip_vs not loaded), ErrStaleFamily when this
// process's moby/ipvs resolved the family before it was, and an error
// wrapping syscall.EPERM without CAP_NET_ADMIN.
func Open(cfg KernelConfig) (*Kernel, error) {
	where := "current namespace"
	if cfg.Netns != "" {
		where = "namespace " + cfg.Netns
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	id, err := ipvsFamilyID(cfg.Netns)
	if err != nil {
		return nil, fmt.Errorf("ipvs: open in %s: %w", where, err)
	}
	// Only now may moby/ipvs resolve the family (once per process).
	h, err := mobyipvs.New(cfg.Netns)
	if err != nil {
		return nil, fmt.Errorf("ipvs: open in %s: %w", where, err)
	}
	if err := probe(h); err != nil {
		h.Close()
		return nil, fmt.Errorf("ipvs: open in %s: %w", where, err)
	}
	bs, err := openBatchSocket(cfg.Netns, id)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("ipvs: open in %s: batch socket: %w", where, err)
	}
	log.Debug("ipvs: kernel backend open", "netns", cfg.Netns, "family", id, "batch", bs.chunk)
	return &Kernel{h: h, batch: bs, where: where, log: log}, nil
}

// ipvsFamilyID asks the kernel (from the namespace at path, or the
// current one) for the IPVS generic-netlink family.
func ipvsFamilyID(path string) (uint16, error) {
	var (
		nh  *netlink.Handle
		err error
	)
	if path == "" {
		nh, err = netlink.NewHandle(unix.NETLINK_GENERIC)
	} else {
		ns, nerr := netns.GetFromPath(path)
		if nerr != nil {
			return 0, fmt.Errorf("network namespace %s: %w", path, nerr)
		}
		defer ns.Close()
		nh, err = netlink.NewHandleAt(ns, unix.NETLINK_GENERIC)
	}
	if err != nil {
		return 0, fmt.Errorf("generic netlink socket: %w", err)
	}
	defer nh.Close()
	f, err := nh.GenlFamilyGet("IPVS")
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return 0, fmt.Errorf("generic netlink family IPVS not registered: %w", ErrNoIPVS)
		}
		return 0, fmt.Errorf("look up generic netlink family IPVS: %w", err)
	}
	if f.ID == 0 {
		return 0, fmt.Errorf("generic netlink family IPVS has id 0: %w", ErrNoIPVS)
	}
	return f.ID, nil
}

// probe checks that h reaches the IPVS family: a lookup of a service that
// is not there must come back from IPVS as ESRCH (or find it). moby/ipvs
// with an unresolved family sends to family 0, which the kernel merely
// acknowledges (no reply, no error); a family id left over from an
// unloaded module gets ENOENT.
func probe(h *mobyipvs.Handle) error {
	_, err := h.GetService(&mobyipvs.Service{
		AddressFamily: unix.AF_INET,
		Protocol:      unix.IPPROTO_TCP,
		Address:       net.IPv4zero.To4(),
	})
	var errno syscall.Errno
	switch {
	case err == nil, errors.Is(err, unix.ESRCH):
		return nil
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("IPVS needs CAP_NET_ADMIN: %w", err)
	case errors.As(err, &errno):
		return fmt.Errorf("%w (probe: %w)", ErrStaleFamily, err)
	default:
		return fmt.Errorf("%w (probe: %v)", ErrStaleFamily, err)
	}
}

// Close closes the netlink socket. The table is left as it is.
func (k *Kernel) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.closed {
		k.closed = true
		k.h.Close()
		k.batch.close()
		k.log.Debug("ipvs: kernel backend closed", "where", k.where)
	}
	return nil
}

// do runs f with the handle, after checking ctx and that k is open; what
// names the operation for errors ("create service tcp 192.0.2.10:80").
func (k *Kernel) do(ctx context.Context, what string, f func(h *mobyipvs.Handle) error) error {
	if err := ctx.Err(); err != nil {
		return opErr(what, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return opErr(what, net.ErrClosed)
	}
	return opErr(what, f(k.h))
}

// opErr says what failed: "ipvs: create service tcp 192.0.2.10:80: <err>";
// nil stays nil.
func opErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("ipvs: %s: %w", what, err)
}

// Services lists the services of the table.
func (k *Kernel) Services(ctx context.Context) ([]ServiceState, error) {
	var out []ServiceState
	err := k.do(ctx, "list services in "+k.where, func(h *mobyipvs.Handle) error {
		ms, err := h.GetServices()
		if err != nil {
			return kernelErr(err, false)
		}
		out = make([]ServiceState, 0, len(ms))
		for _, m := range ms {
			s, err := serviceFromMoby(m)
			if err != nil {
				return err
			}
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Destinations lists the destinations of svc; ErrNotFound if svc is not
// in the table.
func (k *Kernel) Destinations(ctx context.Context, svc ServiceKey) ([]DestinationState, error) {
	var out []DestinationState
	err := k.do(ctx, "list destinations of "+svc.String(), func(h *mobyipvs.Handle) error {
		ms, err := serviceKeyToMoby(svc)
		if err != nil {
			return err
		}
		md, err := h.GetDestinations(ms)
		if err != nil {
			return kernelErr(err, false)
		}
		// The dump of a missing service's destinations is empty, not an
		// error: when it is empty, ask whether the service is there.
		if len(md) == 0 {
			if _, err := h.GetService(ms); err != nil {
				return kernelErr(err, false)
			}
		}
		out = make([]DestinationState, 0, len(md))
		for _, m := range md {
			d, err := destinationFromMoby(m)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateService adds svc; ErrExists if it is there already, an error
// wrapping ErrUnsupported if its scheduler's module is not available.
func (k *Kernel) CreateService(ctx context.Context, svc Service) error {
	return k.write(ctx, Change{Op: OpCreateService, Service: svc})
}

// UpdateService changes the settings of svc; ErrNotFound if it is not
// in the table.
func (k *Kernel) UpdateService(ctx context.Context, svc Service) error {
	return k.write(ctx, Change{Op: OpUpdateService, Service: svc})
}

// DeleteService removes svc and its destinations; ErrNotFound if it is
// not in the table.
func (k *Kernel) DeleteService(ctx context.Context, svc ServiceKey) error {
	return k.write(ctx, Change{Op: OpDeleteService, Service: Service{ServiceKey: svc}})
}

// CreateDestination adds d to svc; ErrExists if it is there already,
// ErrNotFound if svc is not in the table.
func (k *Kernel) CreateDestination(ctx context.Context, svc ServiceKey, d Destination) error {
	return k.write(ctx, Change{Op: OpCreateDestination, Service: Service{ServiceKey: svc}, Dest: d})
}

// UpdateDestination changes d's settings in svc; ErrNotFound if svc or
// d is not in the table.
func (k *Kernel) UpdateDestination(ctx context.Context, svc ServiceKey, d Destination) error {
	return k.write(ctx, Change{Op: OpUpdateDestination, Service: Service{ServiceKey: svc}, Dest: d})
}

// DeleteDestination removes d from svc; ErrNotFound if svc or d is not
// in the table.
func (k *Kernel) DeleteDestination(ctx context.Context, svc ServiceKey, d DestinationKey) error {
	return k.write(ctx, Change{Op: OpDeleteDestination, Service: Service{ServiceKey: svc}, Dest: Destination{DestinationKey: d}})
}

// write applies one change through moby/ipvs.
func (k *Kernel) write(ctx context.Context, c Change) error {
	return k.do(ctx, c.String(), func(h *mobyipvs.Handle) error {
		cmd, ms, md, err := changeToMoby(c)
		if err != nil {
			return err
		}
		switch cmd {
		case ipvsCmdNewService:
			err = h.NewService(ms)
		case ipvsCmdSetService:
			err = h.UpdateService(ms)
		case ipvsCmdDelService:
			err = h.DelService(ms)
		case ipvsCmdNewDest:
			err = h.NewDestination(ms, md)
		case ipvsCmdSetDest:
			err = h.UpdateDestination(ms, md)
		case ipvsCmdDelDest:
			err = h.DelDestination(ms, md)
		}
		return kernelErr(err, setsService(c.Op))
	})
}

// kernelErr maps an errno from IPVS to the package's sentinels, keeping
// the errno in the chain. IPVS answers ESRCH for a missing service and
// ENOENT for a missing destination; when a service is created or changed
// (svcSet), ENOENT means its scheduler module is missing.
func kernelErr(err error, svcSet bool) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, unix.ENOENT) && svcSet:
		return fmt.Errorf("scheduler module not available: %w (%w)", err, ErrUnsupported)
	case errors.Is(err, unix.ESRCH), errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%w (%w)", err, ErrNotFound)
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%w (%w)", err, ErrExists)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return err
	}
	// moby/ipvs's own errors (GetService finding no reply).
	return fmt.Errorf("moby/ipvs: %w", err)
}

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
	if s.Scheduler < 1 || int(s.Scheduler) >= len(schedNames) {
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
	s.Stats = statsFromMoby(m.Stats)
	return s, nil
}

func statsFromMoby(m mobyipvs.SvcStats) Stats {
	return Stats{
		Connections: uint64(m.Connections),
		PacketsIn:   uint64(m.PacketsIn),
		PacketsOut:  uint64(m.PacketsOut),
		BytesIn:     m.BytesIn,
		BytesOut:    m.BytesOut,
		CPS:         uint64(m.CPS),
		PPSIn:       uint64(m.PPSIn),
		PPSOut:      uint64(m.PPSOut),
		BPSIn:       uint64(m.BPSIn),
		BPSOut:      uint64(m.BPSOut),
	}
}

// destinationToMoby maps a destination of svc to moby/ipvs's raw fields.
// moby/ipvs v1.1.0 sends no tunnel-type attributes and no destination
// address family: GUE and GRE tunnels, tunnel ports and checksums, and a
// destination of the other address family than its service are
// ErrUnsupported.
func destinationToMoby(svc ServiceKey, d Destination) (*mobyipvs.Service, *mobyipvs.Destination, error) {
	ms, err := serviceKeyToMoby(svc)
	if err != nil {
		return nil, nil, err
	}
	if !d.Addr.IsValid() || d.Addr.Zone() != "" || d.Addr.Is4In6() {
		return nil, nil, fmt.Errorf("bad real server address %v (want a plain IPv4 or IPv6 address)", d.Addr)
	}
	if d.Addr.Is6() != svc.Is6() {
		return nil, nil, fmt.Errorf("real server %v of another address family than its service: %w", d.Addr, ErrUnsupported)
	}
	if d.TunnelType != IPIP || d.TunnelPort != 0 || d.TunnelChecksum {
		return nil, nil, fmt.Errorf("tunnel type %v (port %d, checksum %t): only ipip through moby/ipvs: %w",
			d.TunnelType, d.TunnelPort, d.TunnelChecksum, ErrUnsupported)
	}
	md := &mobyipvs.Destination{
		Address:        net.IP(d.Addr.AsSlice()),
		Port:           d.Port,
		AddressFamily:  ms.AddressFamily,
		UpperThreshold: d.UpperThreshold,
		LowerThreshold: d.LowerThreshold,
	}
	switch d.Forward {
	case Masquerade:
		md.ConnectionFlags = fwdMasq
	case Route:
		md.ConnectionFlags = fwdRoute
	case Tunnel:
		md.ConnectionFlags = fwdTunnel
	default:
		return nil, nil, fmt.Errorf("bad forwarding method %v", d.Forward)
	}
	if d.Weight < 0 || d.Weight > math.MaxUint16 {
		return nil, nil, fmt.Errorf("weight %d out of 0..65535", d.Weight)
	}
	md.Weight = d.Weight
	return ms, md, nil
}

// destinationFromMoby maps what moby/ipvs read to a DestinationState (in
// Destination.Normalize form: moby/ipvs reads no tunnel settings). The
// kernel's local-node method (a real server on this host, never asked for
// through this package) reads as Masquerade.
func destinationFromMoby(m *mobyipvs.Destination) (DestinationState, error) {
	var d DestinationState
	a, ok := netip.AddrFromSlice(m.Address)
	if !ok {
		return d, fmt.Errorf("real server with address %v", m.Address)
	}
	d.Addr, d.Port = a, m.Port
	switch m.ConnectionFlags & mobyipvs.ConnectionFlagFwdMask {
	case fwdMasq, fwdLocalNode:
		d.Forward = Masquerade
	case fwdRoute:
		d.Forward = Route
	case fwdTunnel:
		d.Forward = Tunnel
	default:
		return d, fmt.Errorf("real server %s: forwarding method %d", d.DestinationKey, m.ConnectionFlags&mobyipvs.ConnectionFlagFwdMask)
	}
	d.Weight = m.Weight
	d.UpperThreshold, d.LowerThreshold = m.UpperThreshold, m.LowerThreshold
	d.ActiveConns = uint32(m.ActiveConnections)
	d.InactiveConns = uint32(m.InactiveConnections)
	d.Stats = statsFromMoby(mobyipvs.SvcStats(m.Stats))
	return d, nil
}
