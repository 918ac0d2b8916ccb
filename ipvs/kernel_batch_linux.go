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

// Batch sizing. The kernel handles a sendmsg's requests, and queues their
// answers on the socket, before sendmsg returns: the receive buffer must
// hold a chunk's answers, at worst an error for every request. An answer
// is a small skb (NETLINK_CAP_ACK: no copy of the request), about 1 KiB
// of buffer accounting; ackRoom is twice that.
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
	wbuf   nlBuf              // the request(s) being sent, reused
	sent   []int              // send's changes by request, reused
	dests  []DestinationState // destinations' dump, reused
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
// on its own: a failed one does not stop the next), and maps each
// request's error, matched by sequence number, as the single methods do,
// with the same wording ("ipvs: create destination 10.0.0.1:80 of tcp
// 192.0.2.10:80: ..."). Only a sendmsg's last request asks for an ACK
// (see send). ctx is checked before each chunk.
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

// send sends one chunk and reads the kernel's answers into errs. Only the
// chunk's last request asks for an ACK: the kernel answers a request that
// fails with its error whether asked or not, handles a sendmsg's requests
// in order and queues their answers in order, so the last request's
// answer (its ACK, or its error) comes after every other answer of the
// chunk, and a request without an error before it succeeded.
func (b *batchSocket) send(changes []Change, errs []error) {
	buf := b.encodeChunk(changes, errs)
	sent := b.sent
	if len(sent) == 0 {
		return
	}
	a := chunkAnswers{seq0: b.seq + 1 - uint32(len(sent)), n: len(sent)}
	// fail gives err to the changes whose outcome is not known.
	fail := func(err error) {
		for _, i := range sent[a.known:] {
			errs[i] = opErr(changes[i].String(), err)
		}
	}
	if err := unix.Sendto(b.s.GetFd(), buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		fail(fmt.Errorf("sendmsg of %d requests: %w", len(sent), err))
		return
	}
	failed := func(j int, errno syscall.Errno) {
		c := changes[sent[j]]
		errs[sent[j]] = opErr(c.String(), changeErr(c, errno))
	}
	for !a.done {
		// ENOBUFS: answers were dropped; which of the changes after the
		// last answer read were applied is unknown (the next Sync reads
		// the table).
		dgram, err := b.recv()
		if err == nil {
			err = a.add(dgram, failed)
		}
		if err != nil {
			fail(fmt.Errorf("reading acknowledgements: %w", err))
			return
		}
	}
}

// encodeChunk encodes changes into b.wbuf, one request each with the
// next sequence numbers, and marks the last for an ACK; a change that
// cannot be encoded gets its error in errs and no request. b.sent lists
// the changes sent, by request.
func (b *batchSocket) encodeChunk(changes []Change, errs []error) nlBuf {
	buf, sent, last := b.wbuf[:0], b.sent[:0], 0
	for i, c := range changes {
		start := len(buf)
		var err error
		if buf, err = b.encode(buf, c, b.seq+1, 0); err != nil {
			errs[i] = opErr(c.String(), err)
			continue
		}
		b.seq++
		sent = append(sent, i)
		last = start
	}
	b.wbuf, b.sent = buf, sent // reused by the next chunk
	if len(sent) > 0 {
		flags := binary.NativeEndian.Uint16(buf[last+6:])
		binary.NativeEndian.PutUint16(buf[last+6:], flags|unix.NLM_F_ACK)
	}
	return buf
}

// chunkAnswers matches the kernel's answers to the requests of a chunk
// (see send): request j has sequence number seq0+j, and only the last
// (j == n-1) asked for an ACK.
type chunkAnswers struct {
	seq0 uint32
	n    int
	// known counts the requests whose outcome is known: those up to the
	// latest answered (the kernel answers in order).
	known int
	done  bool // the last request was answered
}

// add takes one datagram of answers; failed gets each request that
// failed, by index, with its errno. Messages that answer no request of
// the chunk are skipped.
func (a *chunkAnswers) add(dgram []byte, failed func(j int, errno syscall.Errno)) error {
	c := msgCursor{rest: dgram}
	for h, data, ok := c.next(); ok; h, data, ok = c.next() {
		j := int(h.Seq - a.seq0)
		if h.Type != unix.NLMSG_ERROR || h.Seq < a.seq0 || j >= a.n || j < a.known || len(data) < 4 {
			continue // not an answer of this chunk
		}
		a.known = j + 1
		if errno := -int32(binary.NativeEndian.Uint32(data[:4])); errno != 0 {
			failed(j, syscall.Errno(errno))
		}
		if j == a.n-1 {
			a.done = true
		}
	}
	return c.err
}

// encode appends the netlink request of c with sequence number seq and
// flags (NLM_F_REQUEST is added) to buf; on an error buf is unchanged.
func (b *batchSocket) encode(buf nlBuf, c Change, seq uint32, flags uint16) (nlBuf, error) {
	cmd, ms, kd, err := changeToKernel(c)
	if err != nil {
		return buf, err
	}
	full := c.Op != OpDeleteService && c.Op != OpDeleteDestination
	start := buf.begin(b.family, flags, seq, cmd)
	appendService(&buf, ms, full && kd == nil)
	if kd != nil {
		appendDest(&buf, kd, full)
	}
	buf.end(start)
	return buf, nil
}

// appendService appends a moby/ipvs service as moby/ipvs encodes it
// (IPVS_CMD_ATTR_SERVICE): the key, and with full the settings
// (IPVS_CMD_NEW_SERVICE and SET_SERVICE need them; the other commands only
// find the service).
func appendService(b *nlBuf, ms *mobyipvs.Service, full bool) {
	n := b.nest(ipvsCmdAttrService)
	b.u16(ipvsSvcAttrAF, ms.AddressFamily)
	if ms.FWMark != 0 {
		b.u32(ipvsSvcAttrFWMark, ms.FWMark)
	} else {
		b.u16(ipvsSvcAttrProtocol, ms.Protocol)
		b.attr(ipvsSvcAttrAddr, ms.Address...)
		b.be16(ipvsSvcAttrPort, ms.Port)
	}
	if full {
		b.str(ipvsSvcAttrSchedName, ms.SchedName)
		var flags [8]byte
		binary.NativeEndian.PutUint32(flags[0:], ms.Flags)
		binary.NativeEndian.PutUint32(flags[4:], 0xffffffff) // mask: set every flag
		b.attr(ipvsSvcAttrFlags, flags[:]...)
		b.u32(ipvsSvcAttrTimeout, ms.Timeout)
		b.u32(ipvsSvcAttrNetmask, ms.Netmask)
	}
	b.endNest(n)
}

// appendDest appends a destination (IPVS_CMD_ATTR_DEST): the key
// (address, port and address family: the kernel looks a destination up
// by all three), and with full the settings (NEW_DEST and SET_DEST need
// them), tunnel type, port and flags included. moby/ipvs sends neither the
// family nor the tunnel attributes.
func appendDest(b *nlBuf, kd *kernelDest, full bool) {
	n := b.nest(ipvsCmdAttrDest)
	if kd.Addr.Is4() {
		a := kd.Addr.As4()
		b.attr(ipvsDestAttrAddr, a[:]...)
	} else {
		a := kd.Addr.As16()
		b.attr(ipvsDestAttrAddr, a[:]...)
	}
	b.be16(ipvsDestAttrPort, kd.Port)
	b.u16(ipvsDestAttrAddrFamily, kd.Family)
	if full {
		b.u32(ipvsDestAttrFwdMethod, kd.FwdMethod)
		b.u32(ipvsDestAttrWeight, kd.Weight)
		b.u32(ipvsDestAttrUThresh, kd.UThresh)
		b.u32(ipvsDestAttrLThresh, kd.LThresh)
		b.attr(ipvsDestAttrTunType, kd.TunType)
		b.be16(ipvsDestAttrTunPort, kd.TunPort)
		b.u16(ipvsDestAttrTunFlags, kd.TunFlags)
	}
	b.endNest(n)
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
