package netlink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"

	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The address changes of the AddrManagers of one network namespace go
// through one AddrQueue (AddrConfig.Queue): requests that arrive while one batch
// is in the kernel wait, parked, and go as the next batch, many
// RTM_NEWADDR / RTM_DELADDR messages in one sendmsg (the kernel takes the
// RTNL lock per message, as for separate calls). When 200 instances
// become master at once (a master of 200 VRIDs died), each would
// otherwise make its own round trip, and each router blocked in the
// kernel waiting for the RTNL lock holds its P (a Go syscall keeps its P
// until sysmon takes it back), so the routers behind it cannot even send
// their adverts; here they park, and the adds take one round trip per
// batch. vishvananda/netlink sends one request per call, hence this.
//
// A request alone is sent at once by its caller, as before (one
// sendmsg, its ack); only requests that meet a busy queue wait.

// maxAddrBatch bounds the messages of one sendmsg.
const maxAddrBatch = 128

// addrQueueTimeout bounds the wait for a batch's acknowledgements.
var addrQueueTimeout = unix.Timeval{Sec: 10}

// nsID names a network namespace: its file's device and inode.
type nsID struct{ dev, ino uint64 }

// nsIDOf returns the identity of the namespace at path (the calling
// thread's when empty) and, open, its file.
func nsIDOf(path string) (nsID, *os.File, error) {
	f, err := openNetns(path)
	if err != nil {
		return nsID{}, nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nsID{}, nil, fmt.Errorf("network namespace: %w", err)
	}
	return nsID{dev: st.Dev, ino: st.Ino}, f, nil
}

// AddrQueue sends the address adds and removals of the AddrManagers that
// share it (AddrConfig.Queue), all in one network namespace: requests
// that arrive while a batch is in the kernel wait, parked, and go
// together as the next batch (see above). A request that finds the queue
// idle is sent at once by its caller. Its methods are safe for concurrent
// use.
type AddrQueue struct {
	id nsID
	fd int // a blocking route netlink socket in the namespace

	mu      sync.Mutex
	busy    bool // a leader is sending
	waiting []*addrReq
	closed  bool
	seq     uint32
	buf     []byte
	rbuf    []byte
	// batches counts the sendmsg calls (tests).
	batches int
	// beforeSend, if set (tests), is called by the leader, mu not held,
	// before it takes a batch.
	beforeSend func()
}

// addrReq is one request in the queue.
type addrReq struct {
	msg  []byte // serialized; the queue sets its sequence number
	err  error
	lead bool          // woken to lead, its request not sent yet
	done chan struct{} // one send: answered, or made the leader
}

// NewAddrQueue opens a queue with its netlink socket in the network
// namespace at netns, a path to a namespace file (empty: the namespace of
// the calling thread). Close it after the managers that use it.
func NewAddrQueue(netns string) (*AddrQueue, error) {
	id, f, err := nsIDOf(netns)
	if err != nil {
		return nil, fmt.Errorf("netlink: address queue: %w", err)
	}
	defer f.Close()
	fd := -1
	open := func() error {
		s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("open netlink socket: %w", err)
		}
		fd = s
		return nil
	}
	if netns == "" {
		err = open()
	} else {
		err = inNetns(f, open)
	}
	if err == nil {
		if err = setupAddrSocket(fd); err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("netlink: address queue: %w", err)
	}
	return &AddrQueue{id: id, fd: fd}, nil
}

// sameNetns reports, as an error, a namespace at path that is not q's.
func (q *AddrQueue) sameNetns(path string) error {
	id, f, err := nsIDOf(path)
	if err != nil {
		return err
	}
	f.Close()
	if id != q.id {
		return fmt.Errorf("the address queue is in another network namespace than Netns %q: %w", path, ErrInvalid)
	}
	return nil
}

func setupAddrSocket(fd int) error {
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("bind netlink socket: %w", err)
	}
	// A batch's acks wait in the socket until the leader reads them: room
	// for a full batch of error acks (each echoes its request).
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20); err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	for _, o := range []int{unix.SO_RCVTIMEO, unix.SO_SNDTIMEO} {
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, o, &addrQueueTimeout); err != nil {
			return fmt.Errorf("netlink socket: %w", err)
		}
	}
	return nil
}

// Close closes the queue's socket once no batch is being sent; requests
// after it fail with ErrClosed. Calling it again does nothing.
func (q *AddrQueue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	if !q.busy {
		q.mu.Unlock()
		return unix.Close(q.fd)
	}
	q.mu.Unlock()
	return nil // the leader closes it when its batch is done
}

// ifIndex returns the index of the interface named name in the queue's
// namespace, by SIOCGIFINDEX on the queue's socket; an interface that
// does not exist is an error wrapping ErrNoInterface. It allocates only
// the request, where vishvananda's LinkByName reads the kernel's answer
// into a new 64 KiB buffer: 1,000 instances looking their interface up at
// start and at BACKUP made 64 MiB of garbage each time, which the process
// then kept as idle heap (bench/README.md, "instances").
func (q *AddrQueue) ifIndex(name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, fmt.Errorf("netlink: interface %q: %w", name, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, fmt.Errorf("netlink: interface %s: %w", name, ErrClosed)
	}
	if err := unix.IoctlIfreq(q.fd, unix.SIOCGIFINDEX, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return 0, fmt.Errorf("netlink: interface %s: %w", name, ErrNoInterface)
		}
		return 0, fmt.Errorf("netlink: interface %s: %w", name, err)
	}
	return int(ifr.Uint32()), nil
}

// do sends msg, a route netlink request with NLM_F_ACK, and returns the
// kernel's answer: nil, or the errno it acknowledged with.
func (q *AddrQueue) do(msg []byte) error {
	r := &addrReq{msg: msg, done: make(chan struct{}, 1)}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.waiting = append(q.waiting, r)
	if q.busy {
		q.mu.Unlock()
		<-r.done
		if !r.lead {
			return r.err
		}
	} else {
		q.busy = true
		q.mu.Unlock()
	}
	// The leader: r is first in line (it was alone, or woken as first).
	if q.beforeSend != nil {
		q.beforeSend()
	}
	q.mu.Lock()
	n := min(len(q.waiting), maxAddrBatch)
	batch := make([]*addrReq, n)
	copy(batch, q.waiting)
	q.waiting = append(q.waiting[:0], q.waiting[n:]...)
	closed := q.closed
	q.mu.Unlock()
	if closed {
		for _, b := range batch {
			b.err = ErrClosed
		}
	} else {
		q.send(batch)
	}
	for _, b := range batch[1:] {
		b.done <- struct{}{}
	}
	q.mu.Lock()
	if len(q.waiting) > 0 {
		next := q.waiting[0]
		next.lead = true
		next.done <- struct{}{}
	} else {
		q.busy = false
		if q.closed {
			unix.Close(q.fd) // Close came while the batch was out
		}
	}
	q.mu.Unlock()
	return r.err
}

// send sends batch in one sendmsg and sets each request's err from its
// ack. Only the leader calls it, so buf, rbuf and seq are its own.
func (q *AddrQueue) send(batch []*addrReq) {
	q.buf = q.buf[:0]
	first := q.seq + 1
	for _, r := range batch {
		q.seq++
		off := len(q.buf)
		q.buf = append(q.buf, r.msg...)
		binary.NativeEndian.PutUint32(q.buf[off+8:], q.seq) // nlmsghdr.nlmsg_seq
		r.err = errNoAck
	}
	q.batches++
	if err := unix.Sendto(q.fd, q.buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		for _, r := range batch {
			r.err = fmt.Errorf("netlink request: %w", err)
		}
		return
	}
	if len(q.rbuf) == 0 {
		q.rbuf = make([]byte, 64<<10)
	}
	for left := len(batch); left > 0; {
		n, from, err := unix.Recvfrom(q.fd, q.rbuf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			for _, r := range batch {
				if r.err == errNoAck {
					r.err = fmt.Errorf("netlink acknowledgement: %w", err)
				}
			}
			return
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // not from the kernel
		}
		msgs, err := syscall.ParseNetlinkMessage(q.rbuf[:n])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			i := int(m.Header.Seq - first)
			if m.Header.Type != unix.NLMSG_ERROR || i < 0 || i >= len(batch) || batch[i].err != errNoAck || len(m.Data) < 4 {
				continue
			}
			left--
			if errno := int32(binary.NativeEndian.Uint32(m.Data[:4])); errno != 0 {
				batch[i].err = syscall.Errno(-errno)
			} else {
				batch[i].err = nil
			}
		}
	}
}

// errNoAck marks a request whose ack has not been read.
var errNoAck = errors.New("netlink: no acknowledgement")

// addrMessage serializes the RTM_NEWADDR (add) or RTM_DELADDR request for
// a on the interface with index ifindex, as vishvananda/netlink's
// AddrAdd and AddrDel build it (addrHandle), so the kernel sees the same
// request; TestAddrMessageAsLibrary holds them equal.
func addrMessage(add bool, ifindex int, a *vnl.Addr) []byte {
	typ, flags := unix.RTM_DELADDR, unix.NLM_F_ACK
	if add {
		typ, flags = unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK
	}
	req := &nl.NetlinkRequest{NlMsghdr: unix.NlMsghdr{
		Len: uint32(unix.SizeofNlMsghdr), Type: uint16(typ), Flags: unix.NLM_F_REQUEST | uint16(flags)}}
	family := nl.GetIPFamily(a.IP)
	msg := nl.NewIfAddrmsg(family)
	msg.Scope = uint8(a.Scope)
	msg.Index = uint32(ifindex)
	mask := a.Mask
	if a.Peer != nil {
		mask = a.Peer.Mask
	}
	prefixlen, masklen := mask.Size()
	msg.Prefixlen = uint8(prefixlen)
	req.AddData(msg)
	local := []byte(a.IP.To16())
	if family == nl.FAMILY_V4 {
		local = a.IP.To4()
	}
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, local))
	peer := local
	if a.Peer != nil {
		peer = a.Peer.IP.To16()
		if family == nl.FAMILY_V4 {
			peer = a.Peer.IP.To4()
		}
	}
	req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, peer))
	if a.Flags != 0 {
		if a.Flags <= 0xff {
			msg.Flags = uint8(a.Flags)
		} else {
			req.AddData(nl.NewRtAttr(unix.IFA_FLAGS, nl.Uint32Attr(uint32(a.Flags))))
		}
	}
	if family == nl.FAMILY_V4 {
		bcast := a.Broadcast
		if bcast == nil && prefixlen < 31 {
			bcast = make(net.IP, masklen/8)
			for i := range local {
				bcast[i] = local[i] | ^mask[i]
			}
		}
		if net.IPv4zero.Equal(bcast) {
			bcast = nil
		}
		if bcast != nil {
			req.AddData(nl.NewRtAttr(unix.IFA_BROADCAST, bcast))
		}
		if a.Label != "" {
			req.AddData(nl.NewRtAttr(unix.IFA_LABEL, nl.ZeroTerminated(a.Label)))
		}
	}
	if a.ValidLft > 0 || a.PreferedLft > 0 {
		ci := nl.IfaCacheInfo{IfaCacheinfo: unix.IfaCacheinfo{Valid: uint32(a.ValidLft), Prefered: uint32(a.PreferedLft)}}
		req.AddData(nl.NewRtAttr(unix.IFA_CACHEINFO, ci.Serialize()))
	}
	return req.Serialize()
}
