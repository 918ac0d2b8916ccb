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

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// gets the kernel's receive timestamp (SO_TIMESTAMPNS) next to the TTL,
// destination and interface.
type recvmsg struct {
	rc   syscall.RawConn
	v6   bool
	buf  []byte
	oob  []byte
	cm4  ipv4.ControlMessage
	cm6  ipv6.ControlMessage
	read func(fd uintptr) bool // the RawConn.Read callback, made once

	// results of the last read callback
	n, oobn int
	from    unix.Sockaddr
	err     error
	// ICMP errors drained from the error queue after err, and the
	// destination of the first (the peer that did not take our advert)
	drained int
	errDst  unix.Sockaddr
}

// maxDrain bounds one drain of the error queue (it holds at most a receive
// buffer's worth, a few hundred entries).
const maxDrain = 4096

func newRecvmsg(c net.PacketConn, v6 bool) (*recvmsg, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a syscall.Conn")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var oobLen int
	if v6 {
		oobLen = len(ipv6.NewControlMessage(ipv6.FlagHopLimit | ipv6.FlagDst | ipv6.FlagInterface))
	} else {
		oobLen = len(ipv4.NewControlMessage(ipv4.FlagTTL | ipv4.FlagDst | ipv4.FlagInterface))
	}
	r := &recvmsg{rc: rc, v6: v6, buf: make([]byte, 65536), oob: make([]byte, oobLen+unix.CmsgSpace(16)+64)}
	r.read = func(fd uintptr) bool {
		r.n, r.oobn, _, r.from, r.err = unix.Recvmsg(int(fd), r.buf, r.oob, 0)
		if r.err == unix.EAGAIN || r.err == unix.EWOULDBLOCK {
			return false
		}
		if r.err != nil {
			r.drainErrors(int(fd))
		}
		return true
	}
	return r, nil
}

func (r *recvmsg) readMsg() ([]byte, PacketInfo, error) {
	var info PacketInfo
	if err := r.rc.Read(r.read); err != nil {
		return nil, info, err
	}
	now := time.Now()
	if r.err != nil {
		err := os.NewSyscallError("recvmsg", r.err)
		if dst := sockaddrAddr(r.errDst); dst.IsValid() {
			return nil, info, fmt.Errorf("%w (ICMP error for adverts to %v; %d queued errors drained)", err, dst, r.drained)
		}
		return nil, info, err
	}
	info.Time = now
	info.Src = sockaddrAddr(r.from)
	oob := r.oob[:r.oobn]
	b := r.buf[:r.n]
	if r.v6 {
		r.cm6 = ipv6.ControlMessage{}
		if err := r.cm6.Parse(oob); err == nil {
			info.TTL, info.IfIndex = uint8(r.cm6.HopLimit), r.cm6.IfIndex
			info.Dst, _ = netip.AddrFromSlice(r.cm6.Dst)
		}
	} else {
		// An IPv4 raw socket delivers the IP header too.
		if len(b) < 20 || b[0]>>4 != 4 {
			return b[:0], info, nil // counted as short by dispatch
		}
		hl := int(b[0]&0x0f) * 4
		if hl < 20 || hl > len(b) {
			return b[:0], info, nil
		}
		b = b[hl:]
		r.cm4 = ipv4.ControlMessage{}
		if err := r.cm4.Parse(oob); err == nil {
			info.TTL, info.IfIndex = uint8(r.cm4.TTL), r.cm4.IfIndex
			info.Dst, _ = netip.AddrFromSlice(r.cm4.Dst)
		}
	}
	info.Dst = info.Dst.Unmap()
	if ts, ok := rxTimestamp(oob); ok {
		info.Time = kernelTime(now, ts)
	}
	return b, info, nil
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

// rxTimestamp finds SCM_TIMESTAMPNS (a struct timespec of the platform's
// word size) in a control message buffer.
func rxTimestamp(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_TIMESTAMPNS {
			continue
		}
		switch {
		case unsafe.Sizeof(unix.Timespec{}) == 16 && len(m.Data) >= 16:
			return time.Unix(int64(binary.NativeEndian.Uint64(m.Data[0:])), int64(binary.NativeEndian.Uint64(m.Data[8:]))), true
		case unsafe.Sizeof(unix.Timespec{}) == 8 && len(m.Data) >= 8:
			return time.Unix(int64(int32(binary.NativeEndian.Uint32(m.Data[0:]))), int64(binary.NativeEndian.Uint32(m.Data[4:]))), true
		}
	}
	return time.Time{}, false
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
