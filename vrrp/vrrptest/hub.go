// Package vrrptest provides in-memory fakes for testing VRRP routers
// without a network: a Hub that joins many Conns into one L2 segment with
// per-link delay, loss and partition, and recording fakes of the address
// manager and announcer. They work inside testing/synctest bubbles, so
// failover timings can be asserted exactly.
package vrrptest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// QueueLen is how many messages a Conn buffers before dropping.
const QueueLen = 256

// Hub is an in-memory L2 segment. Messages to a multicast address reach
// every other joined Conn of the same family; messages to a unicast
// address reach the Conn with that address.
type Hub struct {
	mu    sync.Mutex
	conns []*Conn
	rng   *rand.Rand
}

// NewHub returns an empty segment. seed drives loss decisions.
func NewHub(seed uint64) *Hub {
	return &Hub{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Join attaches a new Conn with local address addr. Several Conns may share
// an address: they are several virtual routers on one host, and each
// receives what is sent to the address or to a multicast group (but not
// what it sent itself).
func (h *Hub) Join(addr netip.Addr) (*Conn, error) {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsMulticast() {
		return nil, fmt.Errorf("vrrptest: cannot join with address %v", addr)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := &Conn{hub: h, addr: addr, q: make(chan msg, QueueLen), closed: make(chan struct{})}
	h.conns = append(h.conns, c)
	return c, nil
}

type msg struct {
	b    []byte
	info vrrp.PacketInfo
}

// Conn is one host's attachment to a Hub. It implements vrrp.Conn.
type Conn struct {
	hub    *Hub
	addr   netip.Addr
	q      chan msg
	closed chan struct{}

	// guarded by hub.mu
	peers   []netip.Addr
	delay   time.Duration
	loss    float64
	cut     bool
	isClose bool
	sent    uint64
	dropped uint64
	block   bool          // BlockNextWrite
	unblock chan struct{} // closed by UnblockWrites
	stuck   int           // writes blocked now
	panics  int           // PanicWrites: writes left to panic
	panicV  any
}

var _ vrrp.Conn = (*Conn)(nil)

// LocalAddr implements vrrp.Conn.
func (c *Conn) LocalAddr() netip.Addr { return c.addr }

// ReadAdvert implements vrrp.Conn.
func (c *Conn) ReadAdvert(ctx context.Context, b []byte) (int, vrrp.PacketInfo, error) {
	select {
	case m := <-c.q:
		return copy(b, m.b), m.info, nil
	case <-c.closed:
		return 0, vrrp.PacketInfo{}, net.ErrClosed
	case <-ctx.Done():
		return 0, vrrp.PacketInfo{}, ctx.Err()
	}
}

// TryReadAdvert copies the message first in c's queue into b, if there is
// one, and reports whether there was; it does not wait.
func (c *Conn) TryReadAdvert(b []byte) (int, vrrp.PacketInfo, bool) {
	var n int
	var info vrrp.PacketInfo
	ok := c.TryTakeAdvert(func(m []byte, i vrrp.PacketInfo) { n, info = copy(b, m), i })
	return n, info, ok
}

// TryTakeAdvert is TryReadAdvert without the copy: it calls f with the
// message first in c's queue, if there is one (valid only during the
// call), and reports whether there was. A vrrp.Router takes what is
// waiting with it before a Master_Down_Timer expiry.
func (c *Conn) TryTakeAdvert(f func(b []byte, info vrrp.PacketInfo)) bool {
	select {
	case m := <-c.q:
		f(m.b, m.info)
		return true
	default:
		return false
	}
}

// WriteAdvert implements vrrp.Conn. Messages from a cut Conn vanish, as on
// a pulled cable: the sender sees no error.
func (c *Conn) WriteAdvert(_ context.Context, b []byte, dst netip.Addr) error {
	h := c.hub
	dst = dst.Unmap()
	h.mu.Lock()
	if c.panics > 0 {
		c.panics--
		v := c.panicV
		h.mu.Unlock()
		panic(v)
	}
	if c.block && !c.isClose {
		c.block = false
		c.stuck++
		unblock := c.unblock
		h.mu.Unlock()
		select {
		case <-unblock:
		case <-c.closed:
		}
		h.mu.Lock()
		c.stuck--
	}
	if c.isClose {
		h.mu.Unlock()
		return net.ErrClosed
	}
	c.sent++
	if c.cut {
		h.mu.Unlock()
		return nil
	}
	type delivery struct {
		to    *Conn
		delay time.Duration
	}
	var out []delivery
	multicast := dst.IsMulticast()
	for _, to := range h.conns {
		a := to.addr
		if to == c || to.cut || to.isClose || a.Is4() != c.addr.Is4() {
			continue
		}
		if !multicast && a != dst {
			continue
		}
		if p := c.loss + to.loss; p > 0 && h.rng.Float64() < p {
			to.dropped++
			continue
		}
		out = append(out, delivery{to, c.delay + to.delay})
	}
	h.mu.Unlock()
	for _, d := range out {
		m := msg{b: append([]byte(nil), b...), info: vrrp.PacketInfo{Src: c.addr, Dst: dst, TTL: vrrp.TTL}}
		if d.delay <= 0 {
			d.to.deliver(m)
			continue
		}
		to := d.to
		time.AfterFunc(d.delay, func() { to.deliver(m) })
	}
	return nil
}

// BlockNextWrite makes the next WriteAdvert call block, as a send stuck
// in the kernel does: it ignores its ctx and returns only after
// UnblockWrites or Close (net.ErrClosed); then it sends as usual. Later
// calls do not block.
func (c *Conn) BlockNextWrite() {
	c.hub.mu.Lock()
	defer c.hub.mu.Unlock()
	c.block = true
	if c.unblock == nil {
		c.unblock = make(chan struct{})
	}
}

// PanicWrites makes the next n WriteAdvert calls panic with v, as a bug
// in the sender would.
func (c *Conn) PanicWrites(n int, v any) {
	c.hub.mu.Lock()
	defer c.hub.mu.Unlock()
	c.panics, c.panicV = n, v
}

// UnblockWrites releases the writes BlockNextWrite blocked.
func (c *Conn) UnblockWrites() {
	c.hub.mu.Lock()
	defer c.hub.mu.Unlock()
	c.block = false
	if c.unblock != nil {
		close(c.unblock)
		c.unblock = nil
	}
}

// Stuck counts the WriteAdvert calls blocked now (BlockNextWrite).
func (c *Conn) Stuck() int { c.hub.mu.Lock(); defer c.hub.mu.Unlock(); return c.stuck }

// Inject delivers b to c as if it had arrived with info (for testing
// receive-side validation with forged TTLs, checksums, sources).
func (c *Conn) Inject(b []byte, info vrrp.PacketInfo) {
	c.deliver(msg{b: append([]byte(nil), b...), info: info})
}

func (c *Conn) deliver(m msg) {
	h := c.hub
	h.mu.Lock()
	gone := c.cut || c.isClose
	notPeer := len(c.peers) > 0 && !slices.Contains(c.peers, m.info.Src.Unmap())
	if notPeer {
		c.dropped++
	}
	h.mu.Unlock()
	if gone || notPeer {
		return
	}
	select {
	case c.q <- m:
	default:
		h.mu.Lock()
		c.dropped++
		h.mu.Unlock()
	}
}

var _ vrrp.PeerSetter = (*Conn)(nil)

// SetPeers implements vrrp.PeerSetter, as vrrp.SocketConn does: once set,
// only messages from peers reach c (the others count in Dropped). Peers
// given to the router in vrrp.Config are not known to c until SetPeers
// (Router.Reconfigure calls it when they change). A Conn with peers
// cannot lose them all (an error): it would be multicast again.
func (c *Conn) SetPeers(peers []netip.Addr) error {
	ps := make([]netip.Addr, len(peers))
	for i, p := range peers {
		ps[i] = p.Unmap()
	}
	c.hub.mu.Lock()
	defer c.hub.mu.Unlock()
	if c.peers != nil && len(ps) == 0 {
		return fmt.Errorf("vrrptest: %v: a unicast Conn cannot become multicast", c.addr)
	}
	c.peers = ps
	return nil
}

// Peers returns what SetPeers set last.
func (c *Conn) Peers() []netip.Addr {
	c.hub.mu.Lock()
	defer c.hub.mu.Unlock()
	return slices.Clone(c.peers)
}

// SetDelay delays every message to and from c by d (a link's latency; the
// delays of both ends add up).
func (c *Conn) SetDelay(d time.Duration) { c.hub.mu.Lock(); c.delay = d; c.hub.mu.Unlock() }

// SetLoss drops each message to or from c with probability p.
func (c *Conn) SetLoss(p float64) { c.hub.mu.Lock(); c.loss = p; c.hub.mu.Unlock() }

// Cut partitions c from the segment: nothing reaches it or leaves it, and
// messages in flight to it are lost.
func (c *Conn) Cut() {
	c.hub.mu.Lock()
	c.cut = true
	c.hub.mu.Unlock()
	for {
		select {
		case <-c.q:
			continue
		default:
		}
		return
	}
}

// Heal reconnects a cut Conn.
func (c *Conn) Heal() { c.hub.mu.Lock(); c.cut = false; c.hub.mu.Unlock() }

// Close detaches c from the hub; reads return net.ErrClosed.
func (c *Conn) Close() error {
	h := c.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.isClose {
		return nil
	}
	c.isClose = true
	h.conns = slices.DeleteFunc(h.conns, func(x *Conn) bool { return x == c })
	close(c.closed)
	return nil
}

// Sent counts WriteAdvert calls that were accepted (including while cut).
func (c *Conn) Sent() uint64 { c.hub.mu.Lock(); defer c.hub.mu.Unlock(); return c.sent }

// Dropped counts messages to c lost to loss or a full queue.
func (c *Conn) Dropped() uint64 { c.hub.mu.Lock(); defer c.hub.mu.Unlock(); return c.dropped }
