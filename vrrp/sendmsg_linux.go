//go:build linux

package vrrp

import (
	"encoding/binary"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendmsg sends one Conn's adverts with sendmsg(2) over arguments set up
// once: the destination's sockaddr (rebuilt only when the destination
// changes) and the control data (IP_PKTINFO with our source address and
// the interface, and IP_TTL for a unicast TTL; IPv6: IPV6_PKTINFO and
// IPV6_HOPLIMIT), as x/net's WriteTo built them on every send. A send
// allocates nothing.
type sendmsg struct {
	mu    sync.Mutex // one send at a time: the arguments are shared
	rc    syscall.RawConn
	v6    bool
	write func(fd uintptr) bool // the RawConn.Write callback, made once
	// control is the RawConn.Control callback, made once (a closure made
	// per send escapes: 40 bytes of garbage per advert), and wrote its
	// result.
	control func(fd uintptr)
	wrote   bool

	hdr unix.Msghdr
	iov unix.Iovec
	to  [unix.SizeofSockaddrInet6]byte
	oob []byte
	// ifIndexAt is where the interface index goes in oob (it changes on
	// Rebind); dst is the address in to.
	ifIndexAt int
	dst       netip.Addr
	errno     unix.Errno
}

// newSendmsg prepares the sends of Conn c (source c.src, TTL / hop limit
// ttl) on socket s.
func newSendmsg(s *Socket, src netip.Addr, ttl int) (*sendmsg, error) {
	sc, ok := s.raw.(syscall.Conn)
	if !ok {
		return nil, os.ErrInvalid
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	m := &sendmsg{rc: rc, v6: s.cfg.IPv6}
	if m.v6 {
		// IPV6_HOPLIMIT (an int), then IPV6_PKTINFO, as x/net orders them.
		hl := TTL
		if ttl > 0 {
			hl = ttl
		}
		m.oob = make([]byte, unix.CmsgSpace(4)+unix.CmsgSpace(unix.SizeofInet6Pktinfo))
		d := putCmsg(m.oob, unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, 4)
		binary.NativeEndian.PutUint32(d, uint32(hl))
		d = putCmsg(m.oob[unix.CmsgSpace(4):], unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
		a := src.As16()
		copy(d, a[:]) // struct in6_pktinfo: addr, then ifindex
		m.ifIndexAt = unix.CmsgSpace(4) + unix.CmsgLen(0) + 16
	} else {
		n := unix.CmsgSpace(unix.SizeofInet4Pktinfo)
		if ttl > 0 {
			n += unix.CmsgSpace(4)
		}
		m.oob = make([]byte, n)
		d := putCmsg(m.oob, unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo)
		a := src.As4()
		copy(d[4:8], a[:]) // struct in_pktinfo: ifindex, spec_dst, addr
		m.ifIndexAt = unix.CmsgLen(0)
		if ttl > 0 {
			d = putCmsg(m.oob[unix.CmsgSpace(unix.SizeofInet4Pktinfo):], unix.IPPROTO_IP, unix.IP_TTL, 4)
			binary.NativeEndian.PutUint32(d, uint32(ttl))
		}
	}
	m.hdr.Name = &m.to[0]
	m.hdr.Iov = &m.iov
	m.hdr.SetIovlen(1)
	m.hdr.Control = &m.oob[0]
	m.write = func(fd uintptr) bool {
		// Raw, as recvmsg: a non-blocking descriptor never waits.
		_, _, errno := unix.RawSyscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&m.hdr)), 0)
		if errno == unix.EAGAIN {
			return false // the send buffer is full: wait in the poller
		}
		m.errno = errno
		return true
	}
	m.control = func(fd uintptr) { m.wrote = m.write(fd) }
	return m, nil
}

// putCmsg writes a control message header of level, typ and a payload of
// n bytes at the start of b and returns the payload.
func putCmsg(b []byte, level, typ int32, n int) []byte {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(n))
	return b[unix.CmsgLen(0) : unix.CmsgLen(0)+n]
}

// send sends b to dst on interface ifIndex.
func (m *sendmsg) send(b []byte, dst netip.Addr, ifIndex int) error {
	if len(b) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prepare(b, dst, ifIndex)
	// The first try holds only a reference to the descriptor (Control),
	// not its write lock: the routers sharing the socket send side by
	// side, none parked on the lock behind another's syscall and handed
	// it by the scheduler (bench/README.md "failover", -mass). A full
	// send buffer (EAGAIN) waits in the poller through Write.
	m.errno, m.wrote = 0, false
	err := m.rc.Control(m.control)
	if err == nil && !m.wrote { // EAGAIN: m.errno is still 0
		err = m.rc.Write(m.write)
	}
	m.iov.Base = nil // do not keep b alive
	if err != nil {
		return err
	}
	if m.errno != 0 {
		return os.NewSyscallError("sendmsg", m.errno)
	}
	return nil
}

// prepare sets m's arguments to send b to dst on interface ifIndex; the
// caller holds m.mu until the send has returned, and then clears
// m.iov.Base.
func (m *sendmsg) prepare(b []byte, dst netip.Addr, ifIndex int) {
	if dst != m.dst {
		m.setDst(dst)
	}
	binary.NativeEndian.PutUint32(m.oob[m.ifIndexAt:], uint32(ifIndex))
	m.iov.Base = &b[0]
	m.iov.SetLen(len(b))
	m.hdr.SetControllen(len(m.oob))
}

func (m *sendmsg) setDst(dst netip.Addr) {
	clear(m.to[:])
	if m.v6 {
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&m.to[0]))
		sa.Family = unix.AF_INET6
		sa.Addr = dst.As16()
		m.hdr.Namelen = unix.SizeofSockaddrInet6
	} else {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&m.to[0]))
		sa.Family = unix.AF_INET
		sa.Addr = dst.Unmap().As4()
		m.hdr.Namelen = unix.SizeofSockaddrInet4
	}
	m.dst = dst
}
