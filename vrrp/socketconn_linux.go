//go:build linux

package vrrp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ConnConfig configures one virtual router's Conn on a Socket.
type ConnConfig struct {
	// Source is the source address of our adverts (keepalived
	// unicast_src_ip). The default is the interface's primary IPv4 address
	// or IPv6 link-local address.
	Source netip.Addr
	// Peers switches the Conn to unicast: messages are accepted only from
	// these addresses. (The Router sends to them.)
	Peers []netip.Addr
	// Group is the multicast group a multicast Conn receives on
	// (vrrp.Config.Group): the socket joins it. The zero value means
	// GroupV4 / GroupV6. Ignored with Peers.
	Group netip.Addr
	// TTL is the IPv4 TTL / IPv6 hop limit of the adverts of a unicast
	// Conn (keepalived's unicast_ttl), 1..255. 0 means TTL (255); it must
	// be 0 without Peers. Whatever it is, a unicast Conn's Router accepts
	// adverts of any TTL from its peers, as keepalived does.
	TTL int
	// Queue is how many received messages may wait for the router to
	// read them; when it is full, the oldest waiting is dropped for the
	// newest (counted in SocketStats.QueueFull). 0 means DefaultQueue;
	// negative means no queue: a message is delivered only if the router
	// is waiting for one.
	Queue int
}

// DefaultQueue is ConnConfig.Queue's default.
const DefaultQueue = 64

// SocketConn is one virtual router's view of a Socket; it implements Conn.
type SocketConn struct {
	s      *Socket
	vrid   uint8
	src    netip.Addr
	ttl    int          // 0: the socket's (TTL)
	peers  []netip.Addr // guarded by s.mu; replaced whole (SetPeers)
	q      chan *rawMsg
	free   chan *rawMsg // messages read from q, for dispatch to reuse
	txOnce sync.Once
	tx     *sendmsg // made by the first write
	txErr  error
	closed chan struct{}
	once   sync.Once

	// rep is the advert its Router last stepped, when stepping it again
	// would only restart Master_Down_Timer (setRepeat); out the advert
	// the Socket sends for it (sendRepeats).
	rep repeat
	out atomic.Pointer[outRepeat]
}

// repeat is a Conn's record of the advert its Router is content to hear
// again without being woken: a backup's master sends the same bytes
// every interval, and all its Router does with each is restart
// Master_Down_Timer from when it arrived. dispatch compares a message
// with it and, if it is the same message from the same place, arrived
// before the deadline in force, counts it, notes when it arrived and
// restarts the Router's timer (repeatTimer) instead of queueing it; the
// Router steps the latest of those before anything else it steps, and
// when its timer fires (repeat.go). Per advert a backup so costs a
// comparison and a timer update instead of its Router's wake-up
// (bench/README.md, "Repeats: adverts that wake no router").
//
// Order is kept: a message that is not the repeat stops the recording
// (later repeats queue behind it), and setRepeat records nothing while
// messages wait in the queue; mu is held while a message is queued, so
// that the two cannot cross.
type repeat struct {
	mu   sync.Mutex
	on   bool
	b    []byte
	info PacketInfo // Time unused
	// received counts the repeats as the Router's accepted adverts; t
	// restarts its Master_Down_Timer for each.
	received *atomic.Uint64
	t        repeatTimer
	// at is when the latest repeat not yet taken arrived; zero: none.
	at time.Time
}

// matches reports whether b with info is the recorded message. mu held.
func (p *repeat) matches(b []byte, info PacketInfo) bool {
	return p.on && info.Src == p.info.Src && info.Dst == p.info.Dst && info.TTL == p.info.TTL &&
		info.IfIndex == p.info.IfIndex && bytes.Equal(b, p.b)
}

// maxReuse is the largest buffer a Conn keeps for reuse: no VRRP message
// is longer (the longest, with 255 IPv6 addresses, has 4088 bytes).
const maxReuse = 4096

var _ Conn = (*SocketConn)(nil)

// Conn registers a virtual router with VRID vrid on the socket. A
// multicast Conn makes the socket join its group (ConnConfig.Group,
// 224.0.0.18 / ff02::12 by default). A bad vrid
// or cfg, or a vrid already registered, is a *FieldError (object "socket
// eth0/IPv4") wrapping ErrInvalid; after the Socket's Close it returns
// ErrClosed.
func (s *Socket) Conn(vrid uint8, cfg ConnConfig) (*SocketConn, error) {
	obj := "socket " + s.ifi.Name + "/" + s.family()
	if vrid == 0 {
		return nil, invalid(obj, "vrid", "0, want 1..255")
	}
	src := cfg.Source.Unmap()
	if !src.IsValid() {
		src = s.primary
	}
	if is6(src) != s.cfg.IPv6 {
		return nil, invalid(obj, "Source", "%v on an %s socket", src, s.family())
	}
	for _, p := range cfg.Peers {
		if is6(p) != s.cfg.IPv6 {
			return nil, invalid(obj, "Peers", "%v on an %s socket", p, s.family())
		}
	}
	if err := connOptions(obj, &cfg, s.cfg.IPv6); err != nil {
		return nil, err
	}
	q := cfg.Queue
	switch {
	case q == 0:
		q = DefaultQueue
	case q < 0:
		q = 0
	}
	// Messages are outside the free list while in the queue, or held by
	// dispatch or a reader: cap(q) + 2 with one reader (the Router). Both
	// channels hold pointers: a queue of rawMsg values (PacketInfo's
	// addresses and time) was 7 KiB per Conn, most of a router's heap;
	// messages are made as they are needed, a few per Conn.
	c := &SocketConn{s: s, vrid: vrid, src: src, ttl: cfg.TTL, q: make(chan *rawMsg, q), free: make(chan *rawMsg, q+2),
		closed: make(chan struct{})}
	for _, p := range cfg.Peers {
		c.peers = append(c.peers, p.Unmap())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return nil, ErrClosed
	default:
	}
	if _, ok := s.conns[vrid]; ok {
		return nil, invalid(obj, "vrid", "VRID %d is already registered", vrid)
	}
	if g := mcastGroup(cfg.Group, s.cfg.IPv6); len(c.peers) == 0 && !slices.Contains(s.joined, g) {
		if err := s.join(g); err != nil {
			return nil, err
		}
		s.joined = append(s.joined, g)
	}
	s.conns[vrid] = c
	return c, nil
}

func (s *Socket) dispatch(b []byte, info PacketInfo) {
	if len(b) < 2 {
		s.n.Short.Add(1)
		return
	}
	s.mu.Lock()
	c := s.conns[b[1]]
	var peers []netip.Addr
	if c != nil {
		peers = c.peers
	}
	s.mu.Unlock()
	if c == nil {
		s.n.UnknownVRID.Add(1)
		return
	}
	if len(peers) > 0 && !slices.Contains(peers, info.Src) {
		s.n.NotPeer.Add(1)
		return
	}
	p := &c.rep
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.matches(b, info) {
		at := info.Time
		if at.IsZero() {
			at = time.Now()
		}
		if at.Before(p.t.deadline) {
			p.at = at
			p.received.Add(1)
			p.t.restart(at)
			s.n.Delivered.Add(1)
			s.n.RepeatsReceived.Add(1)
			return
		}
		// Too late: the Router steps its expiry, then this.
	}
	p.on = false // what follows queues behind this message
	m := c.msg(len(b))
	copy(m.b, b)
	m.info = info
	select {
	case c.q <- m:
		s.n.Delivered.Add(1)
		return
	default:
	}
	// Full: the oldest message waiting gives way to this one, the peer's
	// latest word (a priority 0 that follows adverts the Router has not
	// read yet). Counted as that one not delivered after all. This is
	// the queue's only sender (p.mu), so the slot stays free for m.
	select {
	case old := <-c.q:
		c.reuse(old)
		s.n.Delivered.Add(^uint64(0))
		s.n.QueueFull.Add(1)
		c.q <- m
		s.n.Delivered.Add(1)
	default:
		// No queue (ConnConfig.Queue < 0) and no reader waiting, or the
		// reader took the oldest first: then there is room.
		select {
		case c.q <- m:
			s.n.Delivered.Add(1)
		default:
			s.n.QueueFull.Add(1)
			c.reuse(m)
		}
	}
}

// setRepeat records b, which arrived with info, as the message the
// Conn's Router is content to hear again (repeat), counting repeats in
// received and restarting t for each; it records nothing while messages
// wait in the queue (they arrived first) and reports whether it did.
// Once clearRepeat returns, t is not touched again.
func (c *SocketConn) setRepeat(b []byte, info PacketInfo, received *atomic.Uint64, t repeatTimer) bool {
	p := &c.rep
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(c.q) > 0 || len(b) > maxReuse {
		p.on = false
		return false
	}
	p.on, p.b, p.info, p.received, p.t = true, append(p.b[:0], b...), info, received, t
	p.info.Time = time.Time{}
	return true
}

// clearRepeat stops recording repeats; one recorded and not taken stays
// for takeRepeat.
func (c *SocketConn) clearRepeat() {
	c.rep.mu.Lock()
	c.rep.on = false
	c.rep.mu.Unlock()
}

// takeRepeat returns when the latest repeat not yet taken arrived, if
// one did.
func (c *SocketConn) takeRepeat() (time.Time, bool) {
	p := &c.rep
	p.mu.Lock()
	defer p.mu.Unlock()
	at := p.at
	p.at = time.Time{}
	return at, !at.IsZero()
}

// msg returns a message of n bytes for c: one from c's free list, or a
// new one if the list is empty; its buffer is new if too small. The
// messages of one VRID have one length (its master's advert), so after
// the first few a Conn allocates no more.
func (c *SocketConn) msg(n int) *rawMsg {
	var m *rawMsg
	select {
	case m = <-c.free:
	default:
		m = new(rawMsg)
	}
	if cap(m.b) < n {
		m.b = make([]byte, n)
	}
	m.b = m.b[:n]
	return m
}

// reuse puts a message that was read on c's free list, unless the list
// is full; a buffer larger than any VRRP message is not kept.
func (c *SocketConn) reuse(m *rawMsg) {
	if cap(m.b) > maxReuse {
		m.b = nil
	}
	select {
	case c.free <- m:
	default:
	}
}

var _ PeerSetter = (*SocketConn)(nil)

// SetPeers implements PeerSetter: messages are accepted from peers from
// now on. A multicast Conn (made without peers) cannot become unicast, nor
// the reverse: that and a peer of the other family are *FieldErrors
// wrapping ErrInvalid.
func (c *SocketConn) SetPeers(peers []netip.Addr) error {
	obj := "socket " + c.s.ifi.Name + "/" + c.s.family()
	ps := make([]netip.Addr, 0, len(peers))
	for _, p := range peers {
		if p = p.Unmap(); !p.IsValid() || is6(p) != c.s.cfg.IPv6 {
			return invalid(obj, "peers", "%v on an %s socket", p, c.s.family())
		}
		ps = append(ps, p)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if (len(c.peers) > 0) != (len(ps) > 0) {
		return invalid(obj, "peers", "VRID %d cannot switch between multicast and unicast", c.vrid)
	}
	c.peers = ps
	return nil
}

// LocalAddr implements Conn.
func (c *SocketConn) LocalAddr() netip.Addr { return c.src }

// ReadAdvert implements Conn.
func (c *SocketConn) ReadAdvert(ctx context.Context, b []byte) (int, PacketInfo, error) {
	select {
	case m := <-c.q:
		n, info := copy(b, m.b), m.info
		c.reuse(m)
		return n, info, nil
	case <-c.closed:
		return 0, PacketInfo{}, ErrClosed
	case <-c.s.done:
		return 0, PacketInfo{}, ErrClosed
	case <-ctx.Done():
		return 0, PacketInfo{}, ctx.Err()
	}
}

// inbox implements inlineConn.
func (c *SocketConn) inbox() (<-chan *rawMsg, <-chan struct{}, <-chan struct{}) {
	return c.q, c.closed, c.s.done
}

// TryReadAdvert copies the message first in the Conn's queue into b, if
// there is one, and reports whether there was; it does not wait. If the
// queue is empty it first reads what the socket holds (for all its Conns)
// without waiting for the socket's reader.
func (c *SocketConn) TryReadAdvert(b []byte) (int, PacketInfo, bool) {
	var n int
	var info PacketInfo
	ok := c.TryTakeAdvert(func(m []byte, i PacketInfo) { n, info = copy(b, m), i })
	return n, info, ok
}

// TryTakeAdvert is TryReadAdvert without the copy: it calls f with the
// message and its PacketInfo, if there is one (the message is valid only
// during the call), and reports whether there was. A Router's
// Master_Down_Timer expiry takes what has arrived with it before it
// steps.
func (c *SocketConn) TryTakeAdvert(f func(b []byte, info PacketInfo)) bool {
	for i := range 2 {
		select {
		case m := <-c.q:
			f(m.b, m.info)
			c.reuse(m)
			return true
		case <-c.closed:
			return false
		default:
		}
		if i == 0 {
			c.s.poll()
		}
	}
	return false
}

// WriteAdvert implements Conn: b goes to dst from our source address,
// with TTL / hop limit 255 (set on the socket) or ConnConfig.TTL. A failed send is tried
// once more at once: the failure may be an error the socket kept from
// the past (an ICMP error the reader did not take first), which the
// failed call consumed. If the interface the socket was bound to is gone,
// the socket is bound again to the interface of the same name (Rebind)
// before the second try.
func (c *SocketConn) WriteAdvert(_ context.Context, b []byte, dst netip.Addr) error {
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	err := c.write(b, dst)
	if err == nil {
		return nil
	}
	// The error may be an ICMP error the kernel reported to this send
	// instead of to the reader: drain the queue it sits in.
	_ = sockopt(c.s.raw, func(fd int) error {
		drainErrQueue(fd)
		return nil
	})
	if errors.Is(err, unix.ENXIO) || errors.Is(err, unix.ENODEV) {
		if rerr := c.s.Rebind(); rerr != nil {
			return fmt.Errorf("vrrp: send to %v on %s: %w (%w)", dst, c.s.ifi.Name, err, rerr)
		}
	} else {
		c.s.n.Retries.Add(1)
	}
	if err := c.write(b, dst); err != nil {
		return fmt.Errorf("vrrp: send to %v on %s: %w", dst, c.s.ifi.Name, err)
	}
	return nil
}

func (c *SocketConn) write(b []byte, dst netip.Addr) error {
	if w := c.s.testWrite; w != nil {
		return w(c.vrid, b, dst)
	}
	m := c.sendmsg()
	if m == nil {
		return c.txErr
	}
	return m.send(b, dst, int(c.s.index.Load()))
}

// sendmsg returns the Conn's prepared sends, or nil where write does not
// use them (a test's Socket) or they could not be made (write says why).
func (c *SocketConn) sendmsg() *sendmsg {
	if c.s.testWrite != nil {
		return nil
	}
	c.txOnce.Do(func() { c.tx, c.txErr = newSendmsg(c.s, c.src, c.ttl) })
	return c.tx
}

// Close unregisters the Conn from its Socket.
func (c *SocketConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.takeBack() // a Router that did not: nothing more is sent
		c.s.mu.Lock()
		if c.s.conns[c.vrid] == c {
			delete(c.s.conns, c.vrid)
		}
		c.s.mu.Unlock()
	})
	return nil
}
