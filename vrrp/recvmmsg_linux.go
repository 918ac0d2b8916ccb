//go:build linux

package vrrp

import (
	"net"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mrecv is the Socket reader's side of the raw socket: up to mrecvBatch
// messages a recvmmsg(2) call, each in a buffer of its own with its
// control data (the kernel's receive time, TTL, destination, interface),
// handed to each in order. It allocates nothing per read.
//
// It saves the system call that finds the socket empty. One read
// callback serves the reader for as long as no error stops it: a call
// that returns fewer messages than it had room for has emptied the
// socket (the kernel stopped at EAGAIN inside the call), so the callback
// waits in the poller at once, where reading one message a call took one
// more call per wake-up to learn that. Waiting inside the same
// RawConn.Read is what makes that safe: the poller's readiness is reset
// only when a Read begins, so a message that arrives between the last
// call and the wait wakes the wait at once. With a master's adverts on a
// grid (a burst of them per wake-up) that was a system call per advert
// for the backup; at ~1 µs a call here, about a seventh of what a backup
// spends per advert (bench/README.md, "A backup's reads in batches").
type mrecv struct {
	rc   syscall.RawConn
	v6   bool
	mm   []unix.Mmsghdr
	iov  []unix.Iovec
	buf  []byte // mrecvBatch buffers of mrecvSize
	oob  []byte // mrecvBatch control buffers of rxOOBLen
	from [][unix.SizeofSockaddrInet6]byte
	each func(b []byte, info PacketInfo)
	read func(fd uintptr) bool // the RawConn.Read callback, made once

	// after read returned true: the error, and the ICMP errors drained
	// from the error queue with the destination of the first
	errno   unix.Errno
	drained int
	errDst  unix.Sockaddr
	// calls counts the recvmmsg calls (tests).
	calls int
}

const (
	// mrecvBatch is the messages one recvmmsg call takes at most.
	mrecvBatch = 16
	// mrecvSize is a message's buffer: the largest VRRP message is 4,088
	// bytes (255 IPv6 addresses; an IPv6 raw socket delivers no IP
	// header), an IPv4 one with its header at most 1,116. A longer one
	// comes truncated and is taken for a short one.
	mrecvSize = 4096
)

// newMrecv makes the reader of c, which hands each message to each (on
// the reading goroutine, the buffer valid during the call only).
func newMrecv(c net.PacketConn, v6 bool, each func(b []byte, info PacketInfo)) (*mrecv, error) {
	rc, err := rawConn(c)
	if err != nil {
		return nil, err
	}
	r := &mrecv{rc: rc, v6: v6, each: each,
		mm: make([]unix.Mmsghdr, mrecvBatch), iov: make([]unix.Iovec, mrecvBatch),
		buf: make([]byte, mrecvBatch*mrecvSize), oob: make([]byte, mrecvBatch*rxOOBLen),
		from: make([][unix.SizeofSockaddrInet6]byte, mrecvBatch)}
	for i := range r.mm {
		r.iov[i].Base = &r.buf[i*mrecvSize]
		r.iov[i].SetLen(mrecvSize)
		h := &r.mm[i].Hdr
		h.Name = &r.from[i][0]
		h.Iov = &r.iov[i]
		h.SetIovlen(1)
		h.Control = &r.oob[i*rxOOBLen]
	}
	r.read = r.readAll
	return r, nil
}

// readAll is the RawConn.Read callback: it reads and hands on messages
// until a call empties the socket (false: wait in the poller, then call
// again) or fails (true, the error in errno).
func (r *mrecv) readAll(fd uintptr) bool {
	for {
		for i := range r.mm {
			h := &r.mm[i].Hdr
			h.Namelen = uint32(len(r.from[i]))
			h.SetControllen(rxOOBLen)
			h.Flags = 0
			r.mm[i].Len = 0
		}
		// Raw, as recvmsg's: the descriptor is non-blocking.
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.mm[0])), uintptr(len(r.mm)),
			unix.MSG_DONTWAIT, 0, 0)
		r.calls++
		if errno == unix.EAGAIN {
			return false
		}
		if errno != 0 {
			r.errno = errno
			r.drained, r.errDst = drainErrQueue(int(fd))
			return true
		}
		now := time.Now()
		k := int(n)
		for i := range k {
			h := &r.mm[i].Hdr
			b := r.buf[i*mrecvSize : i*mrecvSize+min(int(r.mm[i].Len), mrecvSize)]
			if h.Flags&unix.MSG_TRUNC != 0 {
				b = b[:0]
			}
			src := rawSockaddrAddr(r.from[i][:min(int(h.Namelen), len(r.from[i]))])
			oob := r.oob[i*rxOOBLen : i*rxOOBLen+min(int(h.Controllen), rxOOBLen)]
			b, info := parseMsg(b, oob, src, r.v6, now)
			r.each(b, info)
		}
		if k < len(r.mm) {
			return false // emptied: the kernel met EAGAIN within the call
		}
	}
}

// run reads until the socket is closed, handing each error on to
// failed; it returns the error that ended it.
func (r *mrecv) run(failed func(error)) error {
	for {
		r.errno = 0
		if err := r.rc.Read(r.read); err != nil {
			return err
		}
		if r.errno != 0 {
			failed(recvErr(r.errno, r.errDst, r.drained))
		}
	}
}
