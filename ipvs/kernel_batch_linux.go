package ipvs

import (
	"context"
	"encoding/binary"
	"fmt"
	"syscall"

	mobyipvs "github.com/moby/ipvs"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The IPVS generic-netlink protocol (include/uapi/linux/ip_vs.h), as far
// as the backend's writes and reads need it; moby/ipvs uses the same
// numbers where it has them (it has no STATS64 and no TUN_* attributes).
const (
	ipvsGenlVersion = 1

	ipvsCmdNewService = 1 // IPVS_CMD_NEW_SERVICE
	ipvsCmdSetService = 2 // IPVS_CMD_SET_SERVICE
	ipvsCmdDelService = 3 // IPVS_CMD_DEL_SERVICE
	ipvsCmdNewDest    = 5 // IPVS_CMD_NEW_DEST
	ipvsCmdSetDest    = 6 // IPVS_CMD_SET_DEST
	ipvsCmdDelDest    = 7 // IPVS_CMD_DEL_DEST
	ipvsCmdGetService = 4 // IPVS_CMD_GET_SERVICE
	ipvsCmdGetDest    = 8 // IPVS_CMD_GET_DEST

	ipvsCmdAttrService = 1 // IPVS_CMD_ATTR_SERVICE (nested)
	ipvsCmdAttrDest    = 2 // IPVS_CMD_ATTR_DEST (nested)

	ipvsSvcAttrAF        = 1  // IPVS_SVC_ATTR_AF: u16
	ipvsSvcAttrProtocol  = 2  // IPVS_SVC_ATTR_PROTOCOL: u16
	ipvsSvcAttrAddr      = 3  // IPVS_SVC_ATTR_ADDR: 4 or 16 bytes
	ipvsSvcAttrPort      = 4  // IPVS_SVC_ATTR_PORT: be16
	ipvsSvcAttrFWMark    = 5  // IPVS_SVC_ATTR_FWMARK: u32
	ipvsSvcAttrSchedName = 6  // IPVS_SVC_ATTR_SCHED_NAME: NUL-terminated
	ipvsSvcAttrFlags     = 7  // IPVS_SVC_ATTR_FLAGS: struct ip_vs_flags {flags, mask u32}
	ipvsSvcAttrTimeout   = 8  // IPVS_SVC_ATTR_TIMEOUT: u32 seconds
	ipvsSvcAttrNetmask   = 9  // IPVS_SVC_ATTR_NETMASK: u32
	ipvsSvcAttrStats     = 10 // IPVS_SVC_ATTR_STATS (nested, 32-bit counters)
	ipvsSvcAttrPEName    = 11 // IPVS_SVC_ATTR_PE_NAME: NUL-terminated, not in the model
	ipvsSvcAttrStats64   = 12 // IPVS_SVC_ATTR_STATS64 (nested, u64)

	ipvsDestAttrAddr       = 1  // IPVS_DEST_ATTR_ADDR
	ipvsDestAttrPort       = 2  // IPVS_DEST_ATTR_PORT: be16
	ipvsDestAttrFwdMethod  = 3  // IPVS_DEST_ATTR_FWD_METHOD: u32
	ipvsDestAttrWeight     = 4  // IPVS_DEST_ATTR_WEIGHT: u32
	ipvsDestAttrUThresh    = 5  // IPVS_DEST_ATTR_U_THRESH: u32
	ipvsDestAttrLThresh    = 6  // IPVS_DEST_ATTR_L_THRESH: u32
	ipvsDestAttrActive     = 7  // IPVS_DEST_ATTR_ACTIVE_CONNS: u32
	ipvsDestAttrInact      = 8  // IPVS_DEST_ATTR_INACT_CONNS: u32
	ipvsDestAttrPersist    = 9  // IPVS_DEST_ATTR_PERSIST_CONNS: u32
	ipvsDestAttrStats      = 10 // IPVS_DEST_ATTR_STATS (nested, 32-bit counters)
	ipvsDestAttrAddrFamily = 11 // IPVS_DEST_ATTR_ADDR_FAMILY: u16
	ipvsDestAttrStats64    = 12 // IPVS_DEST_ATTR_STATS64 (nested, u64)
	ipvsDestAttrTunType    = 13 // IPVS_DEST_ATTR_TUN_TYPE: u8
	ipvsDestAttrTunPort    = 14 // IPVS_DEST_ATTR_TUN_PORT: be16
	ipvsDestAttrTunFlags   = 15 // IPVS_DEST_ATTR_TUN_FLAGS: u16
)

// Batch sizing. Every request asks for an ACK, and the kernel handles a
// sendmsg's requests, and queues their ACKs on the socket, before sendmsg
// returns: the receive buffer must hold a chunk's ACKs. An ACK is a small
// skb (NETLINK_CAP_ACK: no copy of the request), about 1 KiB of buffer
// accounting; ackRoom is twice that.
const (
	maxBatchChunk = 256
	minBatchChunk = 8
	ackRoom       = 2048
	batchRcvBuf   = 4 << 20 // asked for with SO_RCVBUFFORCE (CAP_NET_ADMIN)
)

// batchSocket is the Kernel's NETLINK_GENERIC socket: every write (a
// batch, or a batch of one) and every read (kernel_read_linux.go).
type batchSocket struct {
	s      *nl.NetlinkSocket
	family uint16
	chunk  int // requests per sendmsg
	seq    uint32
	rbuf   []byte
}

// openBatchSocket opens the socket in the namespace at path (empty: the
// current one), for the IPVS family id.
func openBatchSocket(path string, family uint16) (*batchSocket, error) {
	ns := netns.None()
	if path != "" {
		var err error
		if ns, err = netns.GetFromPath(path); err != nil {
			return nil, fmt.Errorf("network namespace %s: %w", path, err)
		}
		defer ns.Close()
	}
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_GENERIC)
	if err != nil {
		return nil, err
	}
	fd := s.GetFd()
	if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1); err != nil {
		s.Close()
		return nil, fmt.Errorf("NETLINK_CAP_ACK: %w", err)
	}
	if s.SetReceiveBufferSize(batchRcvBuf, true) != nil {
		// Without the capability to force it: as much as rmem_max allows.
		_ = s.SetReceiveBufferSize(batchRcvBuf, false)
	}
	rcv, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("SO_RCVBUF: %w", err)
	}
	return &batchSocket{s: s, family: family, chunk: min(max(rcv/ackRoom, minBatchChunk), maxBatchChunk), rbuf: make([]byte, 64<<10)}, nil
}

func (b *batchSocket) close() { b.s.Close() }

var _ Batcher = (*Kernel)(nil)

// Apply implements Batcher: it sends the changes in order, up to a few
// hundred IPVS requests per sendmsg (the kernel handles them in order, each
// on its own: a failed one does not stop the next), and maps each ACK's
// errno as the single methods do, with the same wording ("ipvs: create
// destination 10.0.0.1:80 of tcp 192.0.2.10:80: ..."). ctx is checked
// before each chunk.
func (k *Kernel) Apply(ctx context.Context, changes []Change) []error {
	errs := make([]error, len(changes))
	k.mu.Lock()
	defer k.mu.Unlock()
	for start := 0; start < len(changes); start += k.batch.chunk {
		end := min(start+k.batch.chunk, len(changes))
		err := ctx.Err()
		if err == nil && k.closed {
			err = ErrClosed
		}
		if err != nil {
			for i := start; i < len(changes); i++ {
				errs[i] = opErr(changes[i].String(), err)
			}
			break
		}
		k.batch.send(changes[start:end], errs[start:end])
	}
	return errs
}

// send sends one chunk and reads its ACKs into errs.
func (b *batchSocket) send(changes []Change, errs []error) {
	var (
		buf  []byte
		sent []int // sent[j]: the index in changes of request seq0+j
		seq0 = b.seq + 1
	)
	for i, c := range changes {
		msg, err := b.encode(c, b.seq+1)
		if err != nil {
			errs[i] = opErr(c.String(), err)
			continue
		}
		b.seq++
		sent = append(sent, i)
		buf = append(buf, msg...)
	}
	if len(sent) == 0 {
		return
	}
	answered := make([]bool, len(sent))
	left := len(sent)
	// fail gives err to the changes not answered.
	fail := func(err error) {
		for j, i := range sent {
			if !answered[j] {
				errs[i] = opErr(changes[i].String(), err)
			}
		}
	}
	if err := unix.Sendto(b.s.GetFd(), buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		fail(fmt.Errorf("sendmsg of %d requests: %w", len(sent), err))
		return
	}
	for left > 0 {
		// ENOBUFS: ACKs were dropped; which changes were applied is
		// unknown (the next Sync reads the table).
		msgs, err := b.recv()
		if err != nil {
			fail(fmt.Errorf("reading acknowledgements: %w", err))
			return
		}
		for _, m := range msgs {
			j := int(m.Header.Seq - seq0)
			if m.Header.Type != unix.NLMSG_ERROR || m.Header.Seq < seq0 || j >= len(sent) || answered[j] || len(m.Data) < 4 {
				continue // not an ACK of this chunk
			}
			answered[j] = true
			left--
			if errno := -int32(binary.NativeEndian.Uint32(m.Data[:4])); errno != 0 {
				c := changes[sent[j]]
				errs[sent[j]] = opErr(c.String(), changeErr(c, syscall.Errno(errno)))
			}
		}
	}
}

// encode returns the netlink request of c with sequence number seq.
func (b *batchSocket) encode(c Change, seq uint32) ([]byte, error) {
	cmd, ms, kd, err := changeToKernel(c)
	if err != nil {
		return nil, err
	}
	full := c.Op != OpDeleteService && c.Op != OpDeleteDestination
	req := nl.NewNetlinkRequest(int(b.family), unix.NLM_F_ACK)
	req.Seq = seq
	req.AddData(genlHeader(cmd))
	req.AddData(serviceAttr(ms, full && kd == nil))
	if kd != nil {
		req.AddData(destAttr(kd, full))
	}
	return req.Serialize(), nil
}

// genlHeader is a struct genlmsghdr: the IPVS command, version 1.
type genlHeader uint8

func (h genlHeader) Len() int          { return 4 }
func (h genlHeader) Serialize() []byte { return []byte{uint8(h), ipvsGenlVersion, 0, 0} }

// serviceAttr encodes a moby/ipvs service as moby/ipvs does: the key, and
// with full the settings (IPVS_CMD_NEW_SERVICE and SET_SERVICE need them;
// the other commands only find the service).
func serviceAttr(ms *mobyipvs.Service, full bool) *nl.RtAttr {
	a := nl.NewRtAttr(ipvsCmdAttrService, nil)
	a.AddRtAttr(ipvsSvcAttrAF, nl.Uint16Attr(ms.AddressFamily))
	if ms.FWMark != 0 {
		a.AddRtAttr(ipvsSvcAttrFWMark, nl.Uint32Attr(ms.FWMark))
	} else {
		a.AddRtAttr(ipvsSvcAttrProtocol, nl.Uint16Attr(ms.Protocol))
		a.AddRtAttr(ipvsSvcAttrAddr, ms.Address)
		a.AddRtAttr(ipvsSvcAttrPort, nl.BEUint16Attr(ms.Port))
	}
	if full {
		a.AddRtAttr(ipvsSvcAttrSchedName, nl.ZeroTerminated(ms.SchedName))
		flags := make([]byte, 8)
		binary.NativeEndian.PutUint32(flags[0:], ms.Flags)
		binary.NativeEndian.PutUint32(flags[4:], 0xffffffff) // mask: set every flag
		a.AddRtAttr(ipvsSvcAttrFlags, flags)
		a.AddRtAttr(ipvsSvcAttrTimeout, nl.Uint32Attr(ms.Timeout))
		a.AddRtAttr(ipvsSvcAttrNetmask, nl.Uint32Attr(ms.Netmask))
	}
	return a
}

// destAttr encodes a destination: the key (address, port and address
// family: the kernel looks a destination up by all three), and with full
// the settings (NEW_DEST and SET_DEST need them), tunnel type, port and
// flags included. moby/ipvs sends neither the family nor the tunnel
// attributes.
func destAttr(kd *kernelDest, full bool) *nl.RtAttr {
	a := nl.NewRtAttr(ipvsCmdAttrDest, nil)
	a.AddRtAttr(ipvsDestAttrAddr, kd.Addr.AsSlice())
	a.AddRtAttr(ipvsDestAttrPort, nl.BEUint16Attr(kd.Port))
	a.AddRtAttr(ipvsDestAttrAddrFamily, nl.Uint16Attr(kd.Family))
	if full {
		a.AddRtAttr(ipvsDestAttrFwdMethod, nl.Uint32Attr(kd.FwdMethod))
		a.AddRtAttr(ipvsDestAttrWeight, nl.Uint32Attr(kd.Weight))
		a.AddRtAttr(ipvsDestAttrUThresh, nl.Uint32Attr(kd.UThresh))
		a.AddRtAttr(ipvsDestAttrLThresh, nl.Uint32Attr(kd.LThresh))
		a.AddRtAttr(ipvsDestAttrTunType, []byte{kd.TunType})
		a.AddRtAttr(ipvsDestAttrTunPort, nl.BEUint16Attr(kd.TunPort))
		a.AddRtAttr(ipvsDestAttrTunFlags, nl.Uint16Attr(kd.TunFlags))
	}
	return a
}

// setsService reports whether op creates or changes a service (for
// kernelErr: ENOENT then means a missing scheduler module).
func setsService(op Op) bool { return op == OpCreateService || op == OpUpdateService }

// changeToKernel maps a change to its IPVS command, the service (moby/ipvs's
// raw fields) and the destination attributes (nil for a service command),
// with the mapping the reads use in reverse.
func changeToKernel(c Change) (cmd uint8, ms *mobyipvs.Service, kd *kernelDest, err error) {
	key := c.Service.ServiceKey
	switch c.Op {
	case OpCreateService, OpUpdateService:
		cmd = ipvsCmdNewService
		if c.Op == OpUpdateService {
			cmd = ipvsCmdSetService
		}
		ms, err = serviceToMoby(c.Service)
	case OpDeleteService:
		cmd = ipvsCmdDelService
		ms, err = serviceKeyToMoby(key)
	case OpCreateDestination, OpUpdateDestination:
		cmd = ipvsCmdNewDest
		if c.Op == OpUpdateDestination {
			cmd = ipvsCmdSetDest
		}
		ms, kd, err = destinationToKernel(key, c.Dest)
	case OpDeleteDestination:
		// Only the key is sent; Tunnel lets a key of either family through.
		cmd = ipvsCmdDelDest
		ms, kd, err = destinationToKernel(key, Destination{DestinationKey: c.Dest.DestinationKey, Forward: Tunnel})
	default:
		err = fmt.Errorf("%v is not a write: %w", c.Op, ErrInvalid)
	}
	return cmd, ms, kd, err
}
