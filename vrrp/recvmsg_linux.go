//go:build linux

package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// recvmsg reads one raw VRRP message at a time with recvmsg(2), so that it
// gets the kernel's receive timestamp (SO_TIMESTAMPNS) next to the TTL,
// destination and interface: the poll of an expiry (tryReadMsg); the
// Socket's reader reads in batches (mrecv). A read allocates nothing: the call's
// arguments point at buffers made once, the sender's address is read from
// the raw sockaddr the kernel wrote, and parseControl walks the control
// messages in place.
type recvmsg struct {
	rc   syscall.RawConn
	v6   bool
	buf  []byte
	oob  []byte
	read func(fd uintptr) bool // the RawConn.Read callback, made once
	try  func(fd uintptr)      // the RawConn.Control callback of tryReadMsg
	// empty: tryReadMsg found nothing (EAGAIN)
	empty bool

	// recvmsg(2)'s arguments: hdr points at iov (over buf), oob and from,
	// which receives a struct sockaddr_in or sockaddr_in6.
	hdr  unix.Msghdr
	iov  unix.Iovec
	from [unix.SizeofSockaddrInet6]byte

	// results of the last read callback
	n, oobn int
	errno   unix.Errno
	// ICMP errors drained from the error queue after errno, and the
	// destination of the first (the peer that did not take our advert)
	drained int
	errDst  unix.Sockaddr
}

// maxDrain bounds one drain of the error queue (it holds at most a receive
// buffer's worth, a few hundred entries).
const maxDrain = 4096

func newRecvmsg(c net.PacketConn, v6 bool) (*recvmsg, error) {
	rc, err := rawConn(c)
	if err != nil {
		return nil, err
	}
	r := &recvmsg{rc: rc, v6: v6, buf: make([]byte, 65536), oob: make([]byte, rxOOBLen)}
	r.iov.Base = &r.buf[0]
	r.iov.SetLen(len(r.buf))
	r.hdr.Name = &r.from[0]
	r.hdr.Iov = &r.iov
	r.hdr.SetIovlen(1)
	r.hdr.Control = &r.oob[0]
	r.read = func(fd uintptr) bool {
		// The kernel writes back the lengths and flags: set them afresh.
		r.hdr.Namelen = uint32(len(r.from))
		r.hdr.SetControllen(len(r.oob))
		r.hdr.Flags = 0
		// Raw: the descriptor is non-blocking (the poller's), so the
		// call never waits and need not tell the scheduler, whose
		// entersyscall/exitsyscall, waking sysmon from its sleep, cost
		// an idle backup a tenth of its CPU per advert (bench/README.md,
		// "Repeats: adverts that wake no router").
		n, _, errno := unix.RawSyscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.hdr)), 0)
		if errno == unix.EAGAIN {
			return false // wait in the poller
		}
		r.n, r.oobn, r.errno = int(n), int(r.hdr.Controllen), errno
		if errno != 0 {
			r.n, r.oobn = 0, 0
			r.drainErrors(int(fd))
		}
		return true
	}
	r.try = func(fd uintptr) { r.empty = !r.read(fd) }
	return r, nil
}

// tryReadMsg is readMsg without waiting: ok is false if the socket holds
// nothing. It runs the call through RawConn.Control, not Read: Read holds
// the descriptor's read lock while the Socket's reader waits in the
// poller, Control does not.
func (r *recvmsg) tryReadMsg() (b []byte, info PacketInfo, ok bool, err error) {
	if err := r.rc.Control(r.try); err != nil {
		return nil, PacketInfo{}, false, err
	}
	if r.empty {
		return nil, PacketInfo{}, false, nil
	}
	b, info, err = r.result(time.Now())
	return b, info, err == nil, err
}

// rawConn is c's RawConn, through which the readers make their calls.
func rawConn(c net.PacketConn) (syscall.RawConn, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a syscall.Conn")
	}
	return sc.SyscallConn()
}

// rxOOBLen is the room a read gives the control data: TTL or hop limit,
// packet info (the larger IPv6 one) and the timestamp, and some to spare.
var rxOOBLen = unix.CmsgSpace(4) + unix.CmsgSpace(unix.SizeofInet6Pktinfo) +
	unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{}))) + 64

// result is the message or error the last callback read.
func (r *recvmsg) result(now time.Time) ([]byte, PacketInfo, error) {
	if r.errno != 0 {
		return nil, PacketInfo{}, recvErr(r.errno, r.errDst, r.drained)
	}
	src := rawSockaddrAddr(r.from[:min(int(r.hdr.Namelen), len(r.from))])
	b, info := parseMsg(r.buf[:r.n], r.oob[:r.oobn], src, r.v6, now)
	return b, info, nil
}

// recvErr is the error of a read that failed with errno, after which
// drained ICMP errors were taken from the error queue, the first for
// adverts to errDst.
func recvErr(errno unix.Errno, errDst unix.Sockaddr, drained int) error {
	err := os.NewSyscallError("recvmsg", errno)
	if dst := sockaddrAddr(errDst); dst.IsValid() {
		return fmt.Errorf("%w (ICMP error for adverts to %v; %d queued errors drained)", err, dst, drained)
	}
	return err
}

// parseMsg takes a message b as a raw socket received it (an IPv4 socket
// keeps the IP header, an IPv6 one (v6) does not) with its sender src and
// control data oob, read at now, and returns the VRRP message in b and
// its PacketInfo: src, and from oob the TTL or hop limit, destination,
// interface and the kernel's receive time. The message is empty if an
// IPv4 header is missing or malformed. Invalid control data leaves the
// PacketInfo without TTL (0: the Router drops the message), destination
// and interface, with the time now. It allocates nothing.
func parseMsg(b, oob []byte, src netip.Addr, v6 bool, now time.Time) ([]byte, PacketInfo) {
	info := PacketInfo{Src: src, Time: now}
	if !v6 {
		// An IPv4 raw socket delivers the IP header too.
		if len(b) < 20 || b[0]>>4 != 4 {
			return b[:0], info // counted as short by dispatch
		}
		hl := int(b[0]&0x0f) * 4
		if hl < 20 || hl > len(b) {
			return b[:0], info
		}
		b = b[hl:]
	}
	if c, ok := parseControl(oob, v6); ok {
		info.TTL, info.IfIndex, info.Dst = c.ttl, c.ifIndex, c.dst
		if c.hasTime {
			info.Time = kernelTime(now, c.time)
		}
	}
	return b, info
}

// rxControl is what a received message's control data says.
type rxControl struct {
	ttl     uint8      // IP_TTL or IPV6_HOPLIMIT (its low byte)
	ifIndex int        // IP_PKTINFO or IPV6_PKTINFO: the interface
	dst     netip.Addr // IP_PKTINFO or IPV6_PKTINFO: the destination
	time    time.Time  // SCM_TIMESTAMPNS, if hasTime
	hasTime bool
}

// cmsgLayout is how a platform lays out control messages.
type cmsgLayout struct {
	lenSize  int // the size of cmsg_len (a size_t); level and type, ints, follow
	align    int // messages and their data start at multiples of it (the word size)
	timespec int // the size of struct timespec, SCM_TIMESTAMPNS's data
}

// nativeCmsg is this platform's layout.
func nativeCmsg() cmsgLayout {
	return cmsgLayout{lenSize: int(unsafe.Sizeof(unix.Cmsghdr{}.Len)), align: unix.SizeofPtr,
		timespec: int(unsafe.Sizeof(unix.Timespec{}))}
}

// parseControl walks the control data of a message received on an IPv4
// or IPv6 (v6) socket, as recvmsg(2) lays it out: messages of a struct
// cmsghdr (cmsg_len, counting the header, then level and type) and data,
// each padded to the word size (the last one may be unpadded). It takes
// an IPv4 socket's IP_TTL and IP_PKTINFO or an IPv6 socket's
// IPV6_HOPLIMIT and IPV6_PKTINFO, the last of each, and the first
// SCM_TIMESTAMPNS; it skips other messages and those whose data is too
// short for what they carry. A cmsg_len shorter than the header or
// running past the data makes the whole buffer invalid (ok false), and
// bytes after the last message too few for a header are ignored, as in
// unix.ParseSocketControlMessage and x/net's ControlMessage.Parse, which
// it replaces on the receive path: they allocate, it does not (nor does
// it need aligned data).
func parseControl(oob []byte, v6 bool) (c rxControl, ok bool) {
	return parseControlIn(nativeCmsg(), oob, v6)
}

// parseControlIn is parseControl for the layout lay.
func parseControlIn(lay cmsgLayout, oob []byte, v6 bool) (c rxControl, ok bool) {
	align := func(n int) int { return (n + lay.align - 1) &^ (lay.align - 1) }
	hl := align(lay.lenSize + 8) // struct cmsghdr, padded: where data starts
	for len(oob) >= hl {
		var l uint64
		if lay.lenSize == 8 {
			l = binary.NativeEndian.Uint64(oob)
		} else {
			l = uint64(binary.NativeEndian.Uint32(oob))
		}
		if l < uint64(hl) || l > uint64(len(oob)) {
			return rxControl{}, false
		}
		level := int32(binary.NativeEndian.Uint32(oob[lay.lenSize:]))
		typ := int32(binary.NativeEndian.Uint32(oob[lay.lenSize+4:]))
		data := oob[hl:l]
		switch {
		case level == unix.SOL_SOCKET && typ == unix.SCM_TIMESTAMPNS:
			if !c.hasTime {
				c.time, c.hasTime = timespec(data, lay.timespec)
			}
		case v6 && level == unix.IPPROTO_IPV6 && typ == unix.IPV6_HOPLIMIT && len(data) >= 4:
			c.ttl = uint8(binary.NativeEndian.Uint32(data))
		case v6 && level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			// struct in6_pktinfo: the address, then the interface (an int)
			c.dst = netip.AddrFrom16([16]byte(data[:16])).Unmap()
			c.ifIndex = int(int32(binary.NativeEndian.Uint32(data[16:])))
		case !v6 && level == unix.IPPROTO_IP && typ == unix.IP_TTL && len(data) >= 4:
			c.ttl = uint8(binary.NativeEndian.Uint32(data))
		case !v6 && level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo: the interface (an int), the local
			// address the kernel would answer from, the destination
			c.ifIndex = int(int32(binary.NativeEndian.Uint32(data)))
			c.dst = netip.AddrFrom4([4]byte(data[8:12]))
		}
		next := align(int(l))
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return c, true
}

// timespec reads a struct timespec of size bytes: two 64-bit or two
// 32-bit words.
func timespec(b []byte, size int) (time.Time, bool) {
	switch {
	case size == 16 && len(b) >= 16:
		return time.Unix(int64(binary.NativeEndian.Uint64(b[0:])), int64(binary.NativeEndian.Uint64(b[8:]))), true
	case size == 8 && len(b) >= 8:
		return time.Unix(int64(int32(binary.NativeEndian.Uint32(b[0:]))), int64(binary.NativeEndian.Uint32(b[4:]))), true
	}
	return time.Time{}, false
}

// rawSockaddrAddr is the address in a struct sockaddr_in or sockaddr_in6
// as the kernel wrote it (an IPv4-mapped IPv6 address unmapped), or the
// zero Addr.
func rawSockaddrAddr(sa []byte) netip.Addr {
	if len(sa) < 2 {
		return netip.Addr{}
	}
	switch binary.NativeEndian.Uint16(sa) {
	case unix.AF_INET: // family, port, address
		if len(sa) >= 8 {
			return netip.AddrFrom4([4]byte(sa[4:8]))
		}
	case unix.AF_INET6: // family, port, flow info, address, scope
		if len(sa) >= 24 {
			return netip.AddrFrom16([16]byte(sa[8:24])).Unmap()
		}
	}
	return netip.Addr{}
}

// drainErrors empties the socket's error queue after recvmsg reported an
// error (see drainErrQueue).
func (r *recvmsg) drainErrors(fd int) { r.drained, r.errDst = drainErrQueue(fd) }

// drainErrQueue empties a socket's error queue and returns how many
// entries it held and the destination of the first. IP_RECVERR /
// IPV6_RECVERR queue every ICMP error there, and the kernel charges that
// queue to the same receive budget as adverts: left alone, a few hundred
// errors from a unicast peer without VRRP would leave no room for the
// adverts of the live peers. The kernel reports a pending error once, to
// whichever call comes first (a read or a send), so both drain. Only the
// entries' addresses are read (their payloads are discarded).
func drainErrQueue(fd int) (n int, first unix.Sockaddr) {
	for n < maxDrain {
		_, _, _, from, err := unix.Recvmsg(fd, nil, nil, unix.MSG_ERRQUEUE)
		if err != nil {
			return n, first // EAGAIN: empty
		}
		if n == 0 {
			first = from
		}
		n++
	}
	return n, first
}

func sockaddrAddr(sa unix.Sockaddr) netip.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(sa.Addr).Unmap()
	}
	return netip.Addr{}
}

// kernelTime turns the kernel's receive timestamp (wall clock) into a time
// on the process's monotonic clock: now minus the message's age. An age
// outside [0, 1 s) means the wall clock moved; then it is now.
func kernelTime(now, ts time.Time) time.Time {
	age := now.Sub(ts)
	if age < 0 || age >= time.Second {
		return now
	}
	return now.Add(-age)
}
