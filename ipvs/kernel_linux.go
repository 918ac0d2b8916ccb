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
// over generic netlink. It implements Backend and Batcher; its methods may
// be called from several goroutines (they are serialized: one netlink
// socket, one reply stream).
//
// What the caller needs: CAP_NET_ADMIN in the namespace's user namespace
// (every IPVS netlink command, reads included, needs it), and the ip_vs
// module loaded (or IPVS built in) before Open, with the ip_vs_<sched>
// modules of the schedulers used (the kernel loads those on demand when
// it can). Open never loads modules.
//
// Which code talks to the kernel, and why. github.com/moby/ipvs (v1.1.0)
// sends no destination address family and no tunnel attributes
// (IPVS_DEST_ATTR_ADDR_FAMILY, TUN_TYPE, TUN_PORT, TUN_FLAGS), and reads
// neither those nor the 64-bit counters (STATS64); with it a GUE
// destination would be written as IPIP, or written correctly elsewhere and
// read back as IPIP, and updated by every Sync. So the backend encodes and
// parses the IPVS commands itself (with vishvananda/netlink's nl helpers),
// on one NETLINK_GENERIC socket of its own in the namespace:
//
//   - writes, single (a batch of one) and batched (Apply), send every
//     attribute, tunnel type, port and checksum flag and the destination's
//     address family included, so a real server of the other family than
//     its service (allowed by the kernel for tunnel forwarding) and
//     GUE/GRE tunnels work;
//   - reads (Services, Destinations) are IPVS_CMD_GET_SERVICE and
//     IPVS_CMD_GET_DEST dumps parsed here: tunnel settings, the
//     destination's family, and counters from STATS64 (64-bit) when the
//     kernel sends it, from STATS (connections and packets 32-bit)
//     otherwise.
//
// moby/ipvs is used by Open only: it resolves the IPVS family (once per
// process) and answers the probe, as before, so that a process that also
// uses moby/ipvs elsewhere gets ErrStaleFamily instead of silent no-ops.
// Its first handle in a process runs "modprobe -va ip_vs" (output
// captured, not printed); Open lets it do so only after checking that the
// family is present, so both succeed silently. What remains: if no
// modprobe binary is in PATH, moby/ipvs logs one warning through logrus's
// standard logger at the first Open of the process (vigil sets no global
// logger; a program that wants it silent calls logrus.SetOutput itself).
//
// Kernel facts callers see: tunnel types, ports and checksums need Linux
// 5.3 (GUE 5.2); older kernels ignore those attributes, so such a
// destination reads back as IPIP (and Sync updates it every time). A
// destination the kernel refuses as invalid or unsupported because of its
// tunnel type or mixed family is ErrUnsupported, naming the field. The
// remote-checksum flag (ipvsadm --tun-remcsum) is not in the model: a
// destination that has it reads as TunnelChecksum false and keeps the
// flag until it is next updated. Stats lag the traffic by about 2 s (the
// kernel's estimator), ActiveConns and InactiveConns are current;
// connection entries outlive a deleted service or destination, so a
// service created again with the same addresses sees the old connections;
// the reader checks NLM_F_DUMP_INTR, but the kernel does not mark IPVS
// dumps as interrupted, so a table read while another process changes it
// may be inconsistent and ErrDumpInterrupted is in practice not returned.
//
// Writes in bulk (Apply, the Batcher a Syncer uses) send up to a few
// hundred IPVS requests in one sendmsg and match each acknowledgement to
// its change.
type Kernel struct {
	mu sync.Mutex // serializes use of batch (one reply stream)
	// h is moby/ipvs's handle; only Open's probe uses it (Close closes it).
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

// do runs f with k's netlink socket, after checking ctx and that k is
// open; what names the operation for errors ("list services in current
// namespace").
func (k *Kernel) do(ctx context.Context, what string, f func(b *batchSocket) error) error {
	if err := ctx.Err(); err != nil {
		return opErr(what, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return opErr(what, net.ErrClosed)
	}
	return opErr(what, f(k.batch))
}

// opErr says what failed: "ipvs: create service tcp 192.0.2.10:80: <err>";
// nil stays nil.
func opErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("ipvs: %s: %w", what, err)
}

// Services lists the services of the table (one IPVS_CMD_GET_SERVICE
// dump, read by the backend itself for the 64-bit counters).
func (k *Kernel) Services(ctx context.Context) ([]ServiceState, error) {
	var out []ServiceState
	err := k.do(ctx, "list services in "+k.where, func(b *batchSocket) error {
		var err error
		out, err = b.services()
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Destinations lists the destinations of svc; ErrNotFound if svc is not
// in the table. The backend reads them itself (IPVS_CMD_GET_DEST): moby/ipvs
// reads no tunnel settings and no 64-bit counters.
func (k *Kernel) Destinations(ctx context.Context, svc ServiceKey) ([]DestinationState, error) {
	var out []DestinationState
	err := k.do(ctx, "list destinations of "+svc.String(), func(b *batchSocket) error {
		var err error
		out, err = b.destinations(svc)
		return err
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

// write applies one change: a batch of one on k's netlink socket, so
// single writes and Apply send the same attributes.
func (k *Kernel) write(ctx context.Context, c Change) error {
	if err := ctx.Err(); err != nil {
		return opErr(c.String(), err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return opErr(c.String(), net.ErrClosed)
	}
	var errs [1]error
	k.batch.send([]Change{c}, errs[:])
	return errs[0]
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
	return err
}

// changeErr maps the errno the kernel answered to change c: as kernelErr
// does, except that a destination the kernel refuses as invalid or
// unsupported (EINVAL, EOPNOTSUPP, EAFNOSUPPORT) when it uses what older
// or differently built kernels lack (a GUE or GRE tunnel, a tunnel
// checksum, a real server of the other address family) is ErrUnsupported,
// naming that field.
func changeErr(c Change, errno syscall.Errno) error {
	if (c.Op == OpCreateDestination || c.Op == OpUpdateDestination) &&
		(errno == unix.EINVAL || errno == unix.EOPNOTSUPP || errno == unix.EAFNOSUPPORT) {
		d := c.Dest
		switch {
		case d.Addr.Is6() != c.Service.Is6():
			return fmt.Errorf("the kernel refused Addr: an %s real server behind an %s service (mixed families, tunnel %v): %w (%w)",
				family(d.Addr.Is6()), family(c.Service.Is6()), d.TunnelType, errno, ErrUnsupported)
		case d.TunnelType != IPIP || d.TunnelChecksum:
			return fmt.Errorf("the kernel refused TunnelType %v (port %d, checksum %t): %w (%w)",
				d.TunnelType, d.TunnelPort, d.TunnelChecksum, errno, ErrUnsupported)
		}
	}
	return kernelErr(errno, setsService(c.Op))
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
	switch d.Forward {
	case Masquerade:
		kd.FwdMethod = fwdMasq
	case Route:
		kd.FwdMethod = fwdRoute
	case Tunnel:
		kd.FwdMethod = fwdTunnel
	default:
		return nil, nil, fmt.Errorf("bad forwarding method %v", d.Forward)
	}
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
	switch d.TunnelType {
	case IPIP:
		kd.TunType = tunTypeIPIP
	case GUE:
		kd.TunType = tunTypeGUE
	case GRE:
		kd.TunType = tunTypeGRE
	default:
		return nil, nil, fmt.Errorf("bad tunnel type %v", d.TunnelType)
	}
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
