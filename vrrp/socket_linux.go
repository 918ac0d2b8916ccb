//go:build linux

package vrrp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/vigil-ha/vigil/internal/counter"
	"github.com/vigil-ha/vigil/internal/logx"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/netnsfile"
)

// dscpCS6 is the traffic class keepalived sends adverts with (DSCP CS6).
const dscpCS6 = 0xc0

// SocketConfig configures a Socket.
type SocketConfig struct {
	// Interface is the interface to send and receive on.
	Interface string
	// Netns is the network namespace of Interface, as a path to a
	// namespace file (/run/netns/NAME, /proc/PID/ns/net). Empty means the
	// namespace of the thread calling Listen. The socket stays in that
	// namespace, whichever thread uses it.
	Netns string
	// IPv6 selects an IPv6 socket (ff02::12, link-local source); the
	// default is IPv4 (224.0.0.18).
	IPv6 bool
	// Primary, if valid, is the address to advertise from instead of the
	// interface's own primary IPv4 / link-local IPv6 address (a VMAC
	// macvlan has none: keepalived uses the parent's).
	Primary netip.Addr
	// ReceiveBuffer is the socket's receive buffer in bytes: it must hold
	// a burst of adverts from every VRID on the interface while the reader
	// is busy (about 1 KiB of kernel memory each). 0 means
	// DefaultReceiveBuffer, negative the kernel's default (212992 bytes on
	// most systems). Above net.core.rmem_max it needs CAP_NET_ADMIN.
	ReceiveBuffer int
	// Logger receives the socket's logs; nil discards them.
	Logger *slog.Logger
}

// DefaultReceiveBuffer is SocketConfig.ReceiveBuffer's default: room for
// about a thousand queued adverts.
const DefaultReceiveBuffer = 1 << 20

// SocketStats are a Socket's counters.
type SocketStats struct {
	Received    uint64 // messages read
	Delivered   uint64 // handed to a Conn
	UnknownVRID uint64 // no Conn for the message's VRID
	NotPeer     uint64 // unicast Conn: sender is not a configured peer
	Short       uint64 // too short to carry a VRID
	QueueFull   uint64 // dropped: a Conn's queue was full (its oldest message)
	ReadErrors  uint64 // errors from the socket, including ICMP errors
	// Retries counts adverts sent again at once after a send failed: the
	// socket may hold an error from the past (an ICMP error from a
	// unicast peer) that the next call, a send, takes.
	Retries uint64
	// Rebinds counts times the socket was bound again to its interface
	// after the interface was deleted and created again.
	Rebinds uint64
	// Polled counts the messages of Received that a Router's expiry read
	// (SocketConn.TryTakeAdvert) before the socket's reader got to them.
	Polled uint64
	// RepeatsReceived counts the messages of Delivered that were the
	// advert their Router last stepped again, recorded without waking it
	// (a backup hearing its master: repeat.go).
	RepeatsReceived uint64
	// RepeatsSent counts the adverts the socket sent for its masters,
	// each the one its Router sent before, due again (sendrepeat_linux.go).
	RepeatsSent uint64
	// RepeatWrites counts the system calls that sent RepeatsSent: one
	// sendmmsg(2) for every advert due at a wake-up of the socket's
	// sender, and a sendmsg(2) for each sent alone after a failure.
	RepeatWrites uint64
}

// socketCounters are a Socket's live counters, copied by Stats into the
// SocketStats fields of the same name.
type socketCounters struct {
	Received, Delivered, UnknownVRID, NotPeer, Short, QueueFull atomic.Uint64
	ReadErrors, Retries, Rebinds, Polled                        atomic.Uint64
	RepeatsReceived, RepeatsSent, RepeatWrites                  atomic.Uint64
}

// Socket is one raw IP socket (protocol 112) on one interface for one
// family, shared by every virtual router on that interface: received
// messages are demultiplexed by VRID to the Conns made with Socket.Conn.
// Receiving allocates nothing per message: each Conn reuses the buffers
// its queue held once they were read.
//
// It lives in the network namespace SocketConfig.Netns names, whichever
// thread uses it.
type Socket struct {
	cfg       SocketConfig
	log       *slog.Logger
	ifi       *net.Interface // Name is fixed; Index is as of Listen
	index     atomic.Int32   // the interface's index now (Rebind)
	v4        *ipv4.PacketConn
	v6        *ipv6.PacketConn
	raw       net.PacketConn
	primary   netip.Addr // IPv4 primary address or IPv6 link-local
	done      chan struct{}
	closeOnce sync.Once
	readerWG  sync.WaitGroup

	// pollMu guards poller, made with the socket (listen).
	pollMu sync.Mutex
	poller *recvmsg

	mu     sync.Mutex
	conns  map[uint8]*SocketConn
	joined []netip.Addr // multicast groups joined

	// sender sends its masters' repeated adverts (sendrepeat_linux.go).
	sender repeatSender
	// testWrite, if set (tests of a Socket without a raw socket), takes
	// the sends.
	testWrite func(vrid uint8, b []byte, dst netip.Addr) error

	n socketCounters
}

// ErrPermission is wrapped by Listen when the process may not open raw
// sockets.
var ErrPermission = errors.New("vrrp: raw sockets need CAP_NET_RAW (run as root or grant the capability)")

// Listen opens the raw socket for cfg.Interface: TTL / hop limit 255,
// DSCP CS6, multicast loopback off, bound to the interface, with the
// received TTL, destination and interface reported for every message.
func Listen(cfg SocketConfig) (*Socket, error) {
	if cfg.Netns == "" {
		return listen(cfg)
	}
	f, err := netnsfile.Open(cfg.Netns)
	if err != nil {
		return nil, fmt.Errorf("vrrp: socket on %s: %w", cfg.Interface, err)
	}
	defer f.Close()
	var s *Socket
	err = netnsfile.In(f, func() (err error) {
		s, err = listen(cfg)
		return err
	})
	return s, err
}

func listen(cfg SocketConfig) (*Socket, error) {
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("vrrp: interface %q: %w", cfg.Interface, err)
	}
	s := &Socket{cfg: cfg, log: logx.OrDiscard(cfg.Logger).With("interface", cfg.Interface), ifi: ifi,
		done: make(chan struct{}), conns: map[uint8]*SocketConn{}}
	if p := cfg.Primary.Unmap(); p.IsValid() {
		if is6(p) != cfg.IPv6 {
			return nil, invalid("socket "+cfg.Interface, "Primary", "%v on an %s socket", p, family(cfg.IPv6))
		}
		s.primary = p
	} else if s.primary, err = InterfaceAddr(ifi, cfg.IPv6); err != nil {
		return nil, err
	}
	network, laddr := "ip4:112", "0.0.0.0"
	if cfg.IPv6 {
		network, laddr = "ip6:112", "::"
	}
	c, err := net.ListenPacket(network, laddr)
	if err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) {
			return nil, fmt.Errorf("%w: %s on %s: %v", ErrPermission, network, cfg.Interface, err)
		}
		return nil, fmt.Errorf("vrrp: raw socket %s on %s: %w", network, cfg.Interface, err)
	}
	s.raw = c
	s.index.Store(int32(ifi.Index))
	if err := s.setup(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("vrrp: raw socket on %s: %w", cfg.Interface, err)
	}
	// The reader's and the poll's buffers are made here, before Listen
	// returns. Made later, by the first poll (the first Master_Down_Timer
	// expiry: a takeover), the poll's 64 KiB started a garbage collection
	// at the takeover, whose stop-the-world took milliseconds when other
	// processes kept the CPUs busy (bench/README.md, "Tracing a slow
	// takeover").
	r, err := newMrecv(c, cfg.IPv6, s.received)
	if err == nil {
		s.poller, err = newRecvmsg(c, cfg.IPv6)
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("vrrp: raw socket on %s: %w", cfg.Interface, err)
	}
	s.readerWG.Go(func() { s.readLoop(r) })
	return s, nil
}

func (s *Socket) setup(c net.PacketConn) error {
	if err := sockopt(c, func(fd int) error {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, s.ifi.Name); err != nil {
			return fmt.Errorf("SO_BINDTODEVICE: %w", err)
		}
		if n := s.cfg.ReceiveBuffer; n >= 0 {
			if n == 0 {
				n = DefaultReceiveBuffer
			}
			// FORCE passes net.core.rmem_max with CAP_NET_ADMIN; without
			// it, ask for what the limit allows.
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n); err != nil {
				if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n); err != nil {
					return fmt.Errorf("SO_RCVBUF %d: %w", n, err)
				}
			}
		}
		// The kernel's receive time of every message: timers restart from
		// when an advert arrived, not from when this process got to it.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return fmt.Errorf("SO_TIMESTAMPNS: %w", err)
		}
		// Report ICMP errors (e.g. a unicast peer without VRRP answering
		// protocol-unreachable) instead of dropping them silently.
		if s.cfg.IPv6 {
			return unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_RECVERR, 1)
		}
		return unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_RECVERR, 1)
	}); err != nil {
		return err
	}
	if s.cfg.IPv6 {
		p := ipv6.NewPacketConn(c)
		s.v6 = p
		for _, f := range []func() error{
			func() error { return p.SetHopLimit(TTL) },
			func() error { return p.SetMulticastHopLimit(TTL) },
			func() error { return p.SetTrafficClass(dscpCS6) },
			func() error { return p.SetMulticastLoopback(false) },
			func() error { return p.SetMulticastInterface(s.ifi) },
			func() error {
				return p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true)
			},
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	}
	p := ipv4.NewPacketConn(c)
	s.v4 = p
	for _, f := range []func() error{
		func() error { return p.SetTTL(TTL) },
		func() error { return p.SetMulticastTTL(TTL) },
		func() error { return p.SetTOS(dscpCS6) },
		func() error { return p.SetMulticastLoopback(false) },
		func() error { return p.SetMulticastInterface(s.ifi) },
		func() error {
			return p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true)
		},
	} {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func sockopt(c net.PacketConn, f func(fd int) error) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return errors.New("not a syscall.Conn")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// InterfaceAddr returns the interface's primary IPv4 address or its IPv6
// link-local address: the source of its VRRP adverts.
func InterfaceAddr(ifi *net.Interface, v6 bool) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("vrrp: addresses of %s: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if v6 && ip.Is6() && ip.IsLinkLocalUnicast() {
			return ip, nil
		}
		if !v6 && ip.Is4() {
			return ip, nil
		}
	}
	if v6 {
		return netip.Addr{}, fmt.Errorf("vrrp: %s has no IPv6 link-local address", ifi.Name)
	}
	return netip.Addr{}, fmt.Errorf("vrrp: %s has no IPv4 address", ifi.Name)
}

// PrimaryAddr is the interface's primary IPv4 address or IPv6 link-local
// address, as found when the socket was opened.
func (s *Socket) PrimaryAddr() netip.Addr { return s.primary }

// Stats returns the socket's counters.
func (s *Socket) Stats() SocketStats {
	return counter.Snapshot[SocketStats](&s.n)
}

// Interface returns the name of the socket's interface.
func (s *Socket) Interface() string { return s.ifi.Name }

// Rebind binds the socket again to the interface of its name if that
// interface was deleted and created again (it has a new index): the
// binding, the multicast interface and the VRRP group membership follow
// the new index, so adverts are received and sent there again. It does
// nothing if the index did not change, and fails if no interface has the
// name now. The interface's addresses are not looked up again: Conns keep
// their source address. A send that fails because the interface is gone
// calls it; the owner of the socket calls it when it learns that the
// interface was added (vigil's Host does, from its watcher).
func (s *Socket) Rebind() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := s.ifi.Name
	idx := -1
	err := sockopt(s.raw, func(fd int) error {
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return err
		}
		// The ioctl looks the name up in the socket's own namespace,
		// whichever thread calls.
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
			return fmt.Errorf("interface %q: %w", name, err)
		}
		idx = int(ifr.Uint32())
		if idx == int(s.index.Load()) {
			return nil
		}
		return unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, name)
	})
	if err != nil {
		return fmt.Errorf("vrrp: rebind the %s socket on %s: %w", s.family(), name, err)
	}
	if idx == int(s.index.Load()) {
		return nil
	}
	ifi := &net.Interface{Index: idx, Name: name}
	if s.cfg.IPv6 {
		err = s.v6.SetMulticastInterface(ifi)
	} else {
		err = s.v4.SetMulticastInterface(ifi)
	}
	if err != nil {
		return fmt.Errorf("vrrp: rebind the %s socket on %s: multicast interface: %w", s.family(), name, err)
	}
	s.index.Store(int32(idx))
	for _, g := range s.joined {
		if err := s.join(g); err != nil {
			return err
		}
	}
	s.n.Rebinds.Add(1)
	s.log.Info("vrrp: the interface was created again; socket bound to it anew", "index", idx)
	return nil
}

// Close closes the socket and waits for its reader to end. Conns made from
// it then return ErrClosed.
func (s *Socket) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		err = s.raw.Close()
		s.readerWG.Wait()
	})
	return err
}

func (s *Socket) family() string { return family(s.cfg.IPv6) }

func family(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

// join joins multicast group g on the interface's current index. The
// caller holds s.mu.
func (s *Socket) join(g netip.Addr) error {
	var err error
	ifi := &net.Interface{Index: int(s.index.Load()), Name: s.ifi.Name}
	if s.cfg.IPv6 {
		err = s.v6.JoinGroup(ifi, &net.IPAddr{IP: g.AsSlice()})
	} else {
		err = s.v4.JoinGroup(ifi, &net.IPAddr{IP: g.AsSlice()})
	}
	if err != nil {
		return fmt.Errorf("vrrp: join VRRP group %v on %s: %w", g, s.ifi.Name, err)
	}
	return nil
}

// maxPoll bounds the messages one poll reads: about what the default
// receive buffer holds.
const maxPoll = 1024

// poll reads what the socket holds now, without waiting, and hands it to
// the Conns as the reader does: a Router whose Master_Down_Timer expired
// takes the adverts that arrived before it even when the reader has not
// run (a busy process), through SocketConn.TryTakeAdvert.
func (s *Socket) poll() {
	select {
	case <-s.done:
		return
	default:
	}
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	if s.poller == nil {
		return // a Socket made without a raw socket (tests)
	}
	for range maxPoll {
		b, info, ok, err := s.poller.tryReadMsg()
		if err != nil {
			s.n.ReadErrors.Add(1) // the reader logs what persists
			return
		}
		if !ok {
			return
		}
		s.n.Received.Add(1)
		s.n.Polled.Add(1)
		s.dispatch(b, info)
	}
}

// readLoop reads every message and hands it to the Conn of its VRID
// (received), until the socket is closed.
func (s *Socket) readLoop(r *mrecv) {
	err := r.run(func(err error) {
		if c := s.n.ReadErrors.Add(1); logx.Sampled(c) {
			s.log.Warn("vrrp: error from the network (e.g. ICMP unreachable from a unicast peer without VRRP)",
				"err", err, "errors", c)
		}
	})
	select {
	case <-s.done:
		return
	default:
	}
	if !errors.Is(err, net.ErrClosed) {
		s.log.Error("vrrp: reading the socket failed; no more adverts are read from it", "err", err)
	}
}

// received counts a message the reader read and dispatches it.
func (s *Socket) received(b []byte, info PacketInfo) {
	s.n.Received.Add(1)
	s.dispatch(b, info)
}
