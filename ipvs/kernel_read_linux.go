package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"syscall"

	mobyipvs "github.com/moby/ipvs"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The backend's reads: IPVS_CMD_GET_SERVICE and IPVS_CMD_GET_DEST dumps on
// the Kernel's netlink socket, parsed here. moby/ipvs reads neither the
// destination's tunnel attributes nor the 64-bit counters (STATS64).

// Counters inside IPVS_SVC_ATTR_STATS(64) and IPVS_DEST_ATTR_STATS(64):
// u64 in STATS64; in STATS the connection and packet counts and the rates
// are u32 and the byte counts u64.
const (
	ipvsStatsConns    = 1  // IPVS_STATS_ATTR_CONNS
	ipvsStatsInPkts   = 2  // IPVS_STATS_ATTR_INPKTS
	ipvsStatsOutPkts  = 3  // IPVS_STATS_ATTR_OUTPKTS
	ipvsStatsInBytes  = 4  // IPVS_STATS_ATTR_INBYTES
	ipvsStatsOutBytes = 5  // IPVS_STATS_ATTR_OUTBYTES
	ipvsStatsCPS      = 6  // IPVS_STATS_ATTR_CPS
	ipvsStatsInPPS    = 7  // IPVS_STATS_ATTR_INPPS
	ipvsStatsOutPPS   = 8  // IPVS_STATS_ATTR_OUTPPS
	ipvsStatsInBPS    = 9  // IPVS_STATS_ATTR_INBPS
	ipvsStatsOutBPS   = 10 // IPVS_STATS_ATTR_OUTBPS
)

// attrLenErr is the error of an attribute of the wrong size.
func attrLenErr(what string, a nlAttr, want int) error {
	return fmt.Errorf("%s (attribute %d): %d bytes, want %d", what, a.typ, len(a.val), want)
}

func attrU8(what string, a nlAttr) (uint8, error) {
	if len(a.val) != 1 {
		return 0, attrLenErr(what, a, 1)
	}
	return a.val[0], nil
}

func attrU16(what string, a nlAttr) (uint16, error) {
	if len(a.val) != 2 {
		return 0, attrLenErr(what, a, 2)
	}
	return binary.NativeEndian.Uint16(a.val), nil
}

func attrBE16(what string, a nlAttr) (uint16, error) {
	if len(a.val) != 2 {
		return 0, attrLenErr(what, a, 2)
	}
	return binary.BigEndian.Uint16(a.val), nil
}

func attrU32(what string, a nlAttr) (uint32, error) {
	if len(a.val) != 4 {
		return 0, attrLenErr(what, a, 4)
	}
	return binary.NativeEndian.Uint32(a.val), nil
}

// attrAddr reads an address attribute: 16 bytes (the kernel's union
// nf_inet_addr, an IPv4 address followed by zeros) or 4.
func attrAddr(what string, a nlAttr) (netip.Addr, error) {
	switch len(a.val) {
	case 4:
		return netip.AddrFrom4([4]byte(a.val)), nil
	case 16:
		return netip.AddrFrom16([16]byte(a.val)), nil
	}
	return netip.Addr{}, fmt.Errorf("%s (attribute %d): %d bytes, want 4 or 16", what, a.typ, len(a.val))
}

// addrOfFamily returns a (as attrAddr read it) in the form of family
// (AF_INET: the first 4 of 16 bytes, the rest zero).
func addrOfFamily(a netip.Addr, family uint16) (netip.Addr, error) {
	switch family {
	case unix.AF_INET6:
		if !a.Is6() {
			return a, fmt.Errorf("address %v in family IPv6", a)
		}
		return a, nil
	case unix.AF_INET:
		if a.Is4() {
			return a, nil
		}
		b := a.As16()
		if [12]byte(b[4:]) != [12]byte{} {
			return a, fmt.Errorf("address %v in family IPv4", a)
		}
		return netip.AddrFrom4([4]byte(b[:4])), nil
	}
	return a, fmt.Errorf("address %v in family %d", a, family)
}

// parseStats reads a nested STATS or STATS64 attribute. Each counter is
// read by its size (4 or 8 bytes), so either form fits.
func parseStats(b []byte) (Stats, error) {
	var s Stats
	c := attrCursor{rest: b}
	for a, ok := c.next(); ok; a, ok = c.next() {
		var p *uint64
		switch a.typ {
		case ipvsStatsConns:
			p = &s.Connections
		case ipvsStatsInPkts:
			p = &s.PacketsIn
		case ipvsStatsOutPkts:
			p = &s.PacketsOut
		case ipvsStatsInBytes:
			p = &s.BytesIn
		case ipvsStatsOutBytes:
			p = &s.BytesOut
		case ipvsStatsCPS:
			p = &s.CPS
		case ipvsStatsInPPS:
			p = &s.PPSIn
		case ipvsStatsOutPPS:
			p = &s.PPSOut
		case ipvsStatsInBPS:
			p = &s.BPSIn
		case ipvsStatsOutBPS:
			p = &s.BPSOut
		default:
			continue // IPVS_STATS_ATTR_PAD, or newer counters
		}
		switch len(a.val) {
		case 4:
			*p = uint64(binary.NativeEndian.Uint32(a.val))
		case 8:
			*p = binary.NativeEndian.Uint64(a.val)
		default:
			return s, fmt.Errorf("counter (attribute %d): %d bytes, want 4 or 8", a.typ, len(a.val))
		}
	}
	return s, c.err
}

// cmdAttr returns the value of the top-level attribute typ (SERVICE or
// DEST) of a generic-netlink message's payload (genlmsghdr first).
func cmdAttr(data []byte, typ uint16) ([]byte, error) {
	if len(data) < 4 {
		return nil, fmt.Errorf("message of %d bytes, no generic netlink header", len(data))
	}
	c := attrCursor{rest: data[4:]}
	for a, ok := c.next(); ok; a, ok = c.next() {
		if a.typ == typ {
			return a.val, nil
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	return nil, fmt.Errorf("message without attribute %d", typ)
}

// parseDest reads the attributes nested in IPVS_CMD_ATTR_DEST. The
// address, port, forwarding method and weight are required (every kernel
// sends them); STATS64 is preferred to STATS when both are there.
func parseDest(b []byte) (kernelDest, error) {
	var (
		kd             kernelDest
		have           uint32 // bit t: attribute t was there
		stats, stats64 []byte
		err            error
	)
	c := attrCursor{rest: b}
	for a, ok := c.next(); ok; a, ok = c.next() {
		if a.typ < 32 {
			have |= 1 << a.typ
		}
		switch a.typ {
		case ipvsDestAttrAddr:
			kd.Addr, err = attrAddr("address", a)
		case ipvsDestAttrPort:
			kd.Port, err = attrBE16("port", a)
		case ipvsDestAttrFwdMethod:
			kd.FwdMethod, err = attrU32("forwarding method", a)
		case ipvsDestAttrWeight:
			kd.Weight, err = attrU32("weight", a)
		case ipvsDestAttrUThresh:
			kd.UThresh, err = attrU32("upper threshold", a)
		case ipvsDestAttrLThresh:
			kd.LThresh, err = attrU32("lower threshold", a)
		case ipvsDestAttrActive:
			kd.ActiveConns, err = attrU32("active connections", a)
		case ipvsDestAttrInact:
			kd.InactiveConns, err = attrU32("inactive connections", a)
		case ipvsDestAttrPersist:
			kd.PersistConns, err = attrU32("persistent connections", a)
		case ipvsDestAttrStats:
			stats = a.val
		case ipvsDestAttrAddrFamily:
			kd.Family, err = attrU16("address family", a)
		case ipvsDestAttrStats64:
			stats64 = a.val
		case ipvsDestAttrTunType:
			kd.TunType, err = attrU8("tunnel type", a)
		case ipvsDestAttrTunPort:
			kd.TunPort, err = attrBE16("tunnel port", a)
		case ipvsDestAttrTunFlags:
			kd.TunFlags, err = attrU16("tunnel flags", a)
		}
		if err != nil {
			return kernelDest{}, err
		}
	}
	if c.err != nil {
		return kernelDest{}, c.err
	}
	for _, t := range [...]uint16{ipvsDestAttrAddr, ipvsDestAttrPort, ipvsDestAttrFwdMethod, ipvsDestAttrWeight} {
		if have&(1<<t) == 0 {
			return kernelDest{}, fmt.Errorf("destination without attribute %d", t)
		}
	}
	if stats64 != nil {
		stats = stats64
	}
	if stats != nil {
		if kd.Stats, err = parseStats(stats); err != nil {
			return kernelDest{}, fmt.Errorf("destination counters: %w", err)
		}
	}
	return kd, nil
}

// parseService reads the attributes nested in IPVS_CMD_ATTR_SERVICE into
// moby/ipvs's raw fields (the form serviceFromMoby maps) and the
// counters, from STATS64 when present.
func parseService(b []byte) (*mobyipvs.Service, Stats, error) {
	var (
		st             Stats
		ms             = &mobyipvs.Service{}
		addr           netip.Addr
		stats, stats64 []byte
		haveAF, sched  bool
		err            error
	)
	c := attrCursor{rest: b}
	for a, ok := c.next(); ok; a, ok = c.next() {
		switch a.typ {
		case ipvsSvcAttrAF:
			ms.AddressFamily, err = attrU16("address family", a)
			haveAF = true
		case ipvsSvcAttrProtocol:
			ms.Protocol, err = attrU16("protocol", a)
		case ipvsSvcAttrAddr:
			addr, err = attrAddr("address", a)
		case ipvsSvcAttrPort:
			ms.Port, err = attrBE16("port", a)
		case ipvsSvcAttrFWMark:
			ms.FWMark, err = attrU32("firewall mark", a)
		case ipvsSvcAttrSchedName:
			v := a.val
			if n := len(v); n > 0 && v[n-1] == 0 {
				v = v[:n-1]
			}
			ms.SchedName, sched = string(v), true
		case ipvsSvcAttrFlags:
			if len(a.val) != 8 {
				err = attrLenErr("flags", a, 8)
			} else {
				ms.Flags = binary.NativeEndian.Uint32(a.val[:4]) // then the mask
			}
		case ipvsSvcAttrTimeout:
			ms.Timeout, err = attrU32("timeout", a)
		case ipvsSvcAttrNetmask:
			// The raw 4 bytes, as moby/ipvs reads and sends them.
			ms.Netmask, err = attrU32("netmask", a)
		case ipvsSvcAttrStats:
			stats = a.val
		case ipvsSvcAttrStats64:
			stats64 = a.val
		}
		if err != nil {
			return nil, st, err
		}
	}
	if c.err != nil {
		return nil, st, c.err
	}
	if !haveAF || !sched {
		return nil, st, errors.New("service without address family or scheduler")
	}
	if ms.FWMark == 0 {
		if !addr.IsValid() {
			return nil, st, errors.New("service without firewall mark or address")
		}
		if addr, err = addrOfFamily(addr, ms.AddressFamily); err != nil {
			return nil, st, fmt.Errorf("service: %w", err)
		}
		ms.Address = addr.AsSlice()
	}
	if stats64 != nil {
		stats = stats64
	}
	if stats != nil {
		if st, err = parseStats(stats); err != nil {
			return nil, st, fmt.Errorf("service counters: %w", err)
		}
	}
	return ms, st, nil
}

// recv reads the next datagram of netlink messages into the receive
// buffer (valid until the next recv). The kernel queues replies before
// sendmsg returns, or soon after; recv waits up to 5 s for one.
func (b *batchSocket) recv() ([]byte, error) {
	fd := b.s.GetFd()
	for {
		n, _, err := unix.Recvfrom(fd, b.rbuf, unix.MSG_TRUNC)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			if ready, perr := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 5000); perr == nil && ready > 0 || errors.Is(perr, unix.EINTR) {
				continue
			}
			return nil, errors.New("no answer from the kernel")
		}
		if err != nil {
			return nil, err
		}
		if n > len(b.rbuf) {
			return nil, fmt.Errorf("a reply of %d bytes, more than the %d-byte buffer", n, len(b.rbuf))
		}
		return b.rbuf[:n], nil
	}
}

// request sends one IPVS command with attrs and returns copies of the
// payloads (generic-netlink header first) of the kernel's answers; see
// exchange. For the rarely used commands; the hot paths encode into
// b.wbuf and parse in place.
func (b *batchSocket) request(cmd uint8, dump bool, attrs ...*nl.RtAttr) ([][]byte, error) {
	buf := b.newRequest(cmd, dump)
	for _, a := range attrs {
		buf = append(buf, a.Serialize()...)
	}
	msg := b.finishRequest(buf)
	var out [][]byte
	err := b.exchange(msg, b.seq, func(data []byte) error {
		out = append(out, slices.Clone(data))
		return nil
	})
	return out, err
}

// exchange sends the request msg (sequence number seq) and hands each
// IPVS message of the answer (its payload, genlmsghdr first, in the
// receive buffer: valid during the call) to each. A dump (NLM_F_DUMP) is
// read up to NLMSG_DONE, another request up to its ACK. It returns the
// errno of an error answer (kernelErr maps it), ErrDumpInterrupted for a
// dump the kernel marked NLM_F_DUMP_INTR, or each's first error (the
// answer is still read to its end, so the socket is ready for the next
// request).
func (b *batchSocket) exchange(msg []byte, seq uint32, each func(data []byte) error) error {
	if err := unix.Sendto(b.s.GetFd(), msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("sendmsg: %w", err)
	}
	r := replyReader{seq: seq, family: b.family, each: each}
	for {
		dgram, err := b.recv()
		if err != nil {
			return fmt.Errorf("reading the reply: %w", err)
		}
		c := msgCursor{rest: dgram}
		for h, data, ok := c.next(); ok; h, data, ok = c.next() {
			if done, err := r.add(h, data); err != nil || done {
				return err
			}
		}
		if c.err != nil {
			return fmt.Errorf("reading the reply: %w", c.err)
		}
	}
}

// replyReader takes the answers to one request, message by message.
type replyReader struct {
	seq         uint32
	family      uint16
	each        func(data []byte) error // gets each IPVS message's payload
	err         error                   // each's first error
	interrupted bool                    // a message had NLM_F_DUMP_INTR
}

// add takes one message; done is true at the end of the answer
// (NLMSG_DONE, or an ACK or error), with the answer's error. Messages of
// other requests are skipped.
func (r *replyReader) add(h unix.NlMsghdr, data []byte) (done bool, err error) {
	if h.Seq != r.seq {
		return false, nil // a late answer to an earlier request
	}
	if h.Flags&unix.NLM_F_DUMP_INTR != 0 {
		r.interrupted = true
	}
	switch h.Type {
	case unix.NLMSG_DONE, unix.NLMSG_ERROR:
		var errno int32
		if len(data) >= 4 {
			errno = -int32(binary.NativeEndian.Uint32(data[:4]))
		} else if h.Type == unix.NLMSG_ERROR {
			return true, fmt.Errorf("truncated error message (%d bytes)", len(data))
		}
		switch {
		case errno != 0:
			return true, syscall.Errno(errno)
		case r.interrupted:
			return true, ErrDumpInterrupted
		}
		return true, r.err
	case unix.NLMSG_NOOP:
		return false, nil
	}
	if h.Type != r.family {
		return true, fmt.Errorf("reply of netlink type %d, want the IPVS family %d", h.Type, r.family)
	}
	if err := r.each(data); err != nil && r.err == nil {
		r.err = err
	}
	return false, nil
}

// keyRequest encodes an IPVS command (a dump with NLM_F_DUMP, else asking
// for an ACK) that names the service svc, into b.wbuf; it returns the
// message and its sequence number.
func (b *batchSocket) keyRequest(cmd uint8, dump bool, svc ServiceKey) ([]byte, uint32, error) {
	ms, err := serviceKeyToMoby(svc)
	if err != nil {
		return nil, 0, err
	}
	buf := b.newRequest(cmd, dump)
	appendService(&buf, ms, false)
	return b.finishRequest(buf), b.seq, nil
}

// newRequest starts an IPVS command in b.wbuf with the next sequence
// number: a dump (NLM_F_DUMP), else asking for an ACK. Append its
// attributes, then finishRequest.
func (b *batchSocket) newRequest(cmd uint8, dump bool) nlBuf {
	var flags uint16 = unix.NLM_F_ACK
	if dump {
		flags = unix.NLM_F_DUMP
	}
	b.seq++
	buf := b.wbuf[:0]
	buf.begin(b.family, flags, b.seq, cmd)
	return buf
}

// finishRequest fills in the length of the request newRequest began and
// keeps the buffer for the next one.
func (b *batchSocket) finishRequest(buf nlBuf) []byte {
	buf.end(0)
	b.wbuf = buf
	return buf
}

// services dumps the table's services.
func (b *batchSocket) services() ([]ServiceState, error) {
	msg := b.finishRequest(b.newRequest(ipvsCmdGetService, true))
	var out []ServiceState
	err := b.exchange(msg, b.seq, func(data []byte) error {
		s, err := parseServiceMsg(data)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, kernelErr(err, false)
	}
	return out, nil
}

// parseServiceMsg maps one service message of a dump.
func parseServiceMsg(data []byte) (ServiceState, error) {
	raw, err := cmdAttr(data, ipvsCmdAttrService)
	if err != nil {
		return ServiceState{}, fmt.Errorf("service message: %w", err)
	}
	ms, st, err := parseService(raw)
	if err != nil {
		return ServiceState{}, fmt.Errorf("service message: %w", err)
	}
	s, err := serviceFromMoby(ms)
	s.Stats = st
	return s, err
}

// destinations dumps the destinations of svc (the service nested in
// IPVS_CMD_ATTR_SERVICE, as moby/ipvs sends it). The kernel answers an
// empty dump for a missing service; then a lookup of the service says
// whether it is there (ESRCH: ErrNotFound). The messages are parsed where
// they were received, into b.dests, and the result is one copy of it.
func (b *batchSocket) destinations(svc ServiceKey) ([]DestinationState, error) {
	msg, seq, err := b.keyRequest(ipvsCmdGetDest, true, svc)
	if err != nil {
		return nil, err
	}
	svc6 := svc.Is6()
	dests := b.dests[:0]
	err = b.exchange(msg, seq, func(data []byte) error {
		d, err := parseDestMsg(data, svc6)
		if err != nil {
			return err
		}
		dests = append(dests, d)
		return nil
	})
	b.dests = dests[:0]
	if err != nil {
		return nil, kernelErr(err, false)
	}
	if len(dests) == 0 {
		msg, seq, err := b.keyRequest(ipvsCmdGetService, false, svc)
		if err != nil {
			return nil, err
		}
		if err := b.exchange(msg, seq, func([]byte) error { return nil }); err != nil {
			return nil, kernelErr(err, false)
		}
	}
	return slices.Clone(dests), nil
}

// parseDestMsg maps one destination message of a dump of a service of
// family svc6.
func parseDestMsg(data []byte, svc6 bool) (DestinationState, error) {
	raw, err := cmdAttr(data, ipvsCmdAttrDest)
	if err != nil {
		return DestinationState{}, fmt.Errorf("destination message: %w", err)
	}
	kd, err := parseDest(raw)
	if err != nil {
		return DestinationState{}, fmt.Errorf("destination message: %w", err)
	}
	return destinationFromKernel(&kd, svc6)
}
