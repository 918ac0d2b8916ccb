package netlink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Announcer tells a segment where addresses are, as keepalived does after
// becoming master: gratuitous ARP requests for IPv4 and unsolicited
// neighbour advertisements (Override set) for IPv6, in bursts, sent on
// packet sockets bound to one interface. It implements vrrp.Announcer.
//
// Announce sends the first frame itself; the rest of each announcement's
// schedule runs on the Announcer's one scheduler goroutine (while any
// announcement runs) until it ends or its context is done; Close stops
// them all and waits for them. Its methods are safe for concurrent use.
type Announcer struct {
	a *announcer
}

// NewAnnouncer checks cfg (see AnnouncerConfig.Validate) and opens the
// packet sockets on cfg.Interface, in cfg.Netns. A missing interface is
// an error wrapping ErrNoInterface.
func NewAnnouncer(cfg AnnouncerConfig) (*Announcer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Keep the namespace open: the sockets are reopened there if the
	// interface is deleted and created again.
	ns, err := openNetns(cfg.Netns)
	if err != nil {
		return nil, fmt.Errorf("netlink: announcer on %s: %w", cfg.Interface, err)
	}
	ps := &packetSender{iface: cfg.Interface, ns: ns}
	mac, err := ps.open()
	if err != nil {
		ps.close()
		return nil, err
	}
	if cfg.MAC != nil {
		mac = bytes.Clone(cfg.MAC)
	}
	if len(mac) != 6 {
		ps.close()
		return nil, fmt.Errorf("netlink: announcer on %s: the interface has no Ethernet MAC (%q)", cfg.Interface, mac)
	}
	return &Announcer{a: newAnnouncer(cfg.Interface, mac, cfg.MAC != nil, cfg.Timing, ps, cfg.Logger)}, nil
}

// Announce starts announcing addrs (IPv4: gratuitous ARP, IPv6: unsolicited
// NA) and returns at once. The bursts and refreshes run until the schedule
// ends, ctx is done, or the Announcer is closed. An invalid address fails
// the call before anything is sent; after Close it returns ErrClosed.
func (an *Announcer) Announce(ctx context.Context, addrs []netip.Addr) error {
	return an.a.announce(ctx, addrs)
}

// AnnounceLowerPrio is Announce for a master that heard a lower priority
// master (vrrp.LowerPrioAnnouncer): bursts of Timing.LowerPrioRepeat
// packets per address, the first at once and the second
// Timing.LowerPrioDelay later, without refreshes.
func (an *Announcer) AnnounceLowerPrio(ctx context.Context, addrs []netip.Addr) error {
	return an.a.announceLowerPrio(ctx, addrs)
}

// MAC returns the sender MAC of the frames.
func (an *Announcer) MAC() net.HardwareAddr { return bytes.Clone(an.a.currentMAC()) }

// Stats returns a snapshot of the counters.
func (an *Announcer) Stats() AnnouncerStats { return an.a.stats() }

// Wait blocks until no announcement is running: each has ended its
// schedule or seen its context done.
func (an *Announcer) Wait() { an.a.wait() }

// Close stops every announcement, waits for the frames being sent, and
// closes the sockets and the namespace. Announce returns ErrClosed
// afterwards; calling Close again does nothing.
func (an *Announcer) Close() error { return an.a.close() }

// packetSender sends frames on two AF_PACKET sockets bound to one
// interface, one per ethertype, with a filter that receives nothing.
type packetSender struct {
	iface string
	ns    *os.File // owned: the namespace the sockets are opened in

	mu       sync.RWMutex // guards the sockets; sends share it, reopen takes it
	arp, ip6 *packet.Conn
	// warp, w6 write arp's and ip6's frames (nil: through WriteTo).
	warp, w6 *rawWriter
}

// rawWriter writes whole frames on a packet socket bound to its
// interface: a write(2) through the socket's RawConn, so a frame costs
// no allocation (packet.Conn.WriteTo builds a sockaddr and a closure per
// call; a mass failover sends a thousand frames at once). The kernel
// sends a frame written without an address on the bound interface, as
// WriteTo with the frame's own destination does.
//
// The write is a raw system call (no entersyscall), as vrrp's sendmsg:
// the descriptor is non-blocking, so it never waits, but a frame's
// write takes 40-140 µs here (the veth and the bridge deliver it within
// the call), past the 20 µs after which sysmon takes a P from a thread
// in a system call and hands it to another thread. In a mass failover
// that was a thread hand-off per GARP; raw, B's page faults in the burst
// fell by a quarter (bench/README.md, thirteenth round).
type rawWriter struct {
	rc  syscall.RawConn
	mu  sync.Mutex // one frame at a time through b, err
	b   []byte
	err error
	fn  func(fd uintptr) bool // w.write, made once
}

func newRawWriter(c syscall.Conn) *rawWriter {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	w := &rawWriter{rc: rc}
	w.fn = w.write
	return w
}

func (w *rawWriter) write(fd uintptr) bool {
	// Raw: the descriptor is non-blocking, so the call never waits.
	_, _, errno := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(w.b))), uintptr(len(w.b)))
	if errno == unix.EAGAIN {
		rawWriterFull()
		return false // the poller waits until the socket is writable
	}
	if errno != 0 {
		w.err = errno
	}
	return true
}

// rawWriterFull is called when a frame finds its socket full; tests
// replace it.
var rawWriterFull = func() {}

func (w *rawWriter) send(b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b, w.err = b, nil
	err := w.rc.Write(w.fn)
	w.b = nil
	if err != nil {
		return err
	}
	return w.err
}

// open opens the sockets on the interface named s.iface, in s.ns, and
// returns its MAC. The caller holds s.mu or owns s alone.
func (s *packetSender) open() (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := inNetns(s.ns, func() error {
		ifi, err := net.InterfaceByName(s.iface)
		if err != nil {
			if strings.Contains(err.Error(), "no such network interface") {
				err = ErrNoInterface
			}
			return fmt.Errorf("netlink: announcer: interface %s: %w", s.iface, err)
		}
		mac = ifi.HardwareAddr
		s.arp, s.ip6, err = openPacketConns(ifi)
		if err == nil {
			s.warp, s.w6 = newRawWriter(s.arp), newRawWriter(s.ip6)
		}
		return err
	})
	return mac, err
}

func openPacketConns(ifi *net.Interface) (arpc, ip6c *packet.Conn, err error) {
	drop, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		return nil, nil, fmt.Errorf("netlink: announcer: %w", err)
	}
	cfg := &packet.Config{Filter: drop}
	arpc, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("netlink: announcer on %s: ARP socket: %w", ifi.Name, err)
	}
	ip6c, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeIPv6), cfg)
	if err != nil {
		arpc.Close()
		return nil, nil, fmt.Errorf("netlink: announcer on %s: IPv6 socket: %w", ifi.Name, err)
	}
	return arpc, ip6c, nil
}

func (s *packetSender) send(ipv6 bool, b []byte) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.arp
	if ipv6 {
		c = s.ip6
	}
	if c == nil {
		if s.ns == nil {
			return fmt.Errorf("netlink: announcer on %s: %w", s.iface, ErrClosed)
		}
		// A reopen failed (the interface was gone): the next send tries
		// again, so the announcer recovers when the interface is back.
		return fmt.Errorf("netlink: announcer on %s: no sockets: %w", s.iface, syscall.ENODEV)
	}
	w := s.warp
	if ipv6 {
		w = s.w6
	}
	if w != nil {
		if err := w.send(b); err != nil {
			return fmt.Errorf("netlink: announcer on %s: send: %w", s.iface, err)
		}
		return nil
	}
	_, err := c.WriteTo(b, &packet.Addr{HardwareAddr: net.HardwareAddr(b[0:6])})
	return err
}

func (s *packetSender) reopen() (net.HardwareAddr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := []*packet.Conn{s.arp, s.ip6}
	s.arp, s.ip6, s.warp, s.w6 = nil, nil, nil, nil
	for _, c := range old {
		if c != nil {
			c.Close()
		}
	}
	if s.ns == nil {
		return nil, fmt.Errorf("netlink: announcer on %s: %w", s.iface, ErrClosed)
	}
	return s.open()
}

func (s *packetSender) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, c := range []*packet.Conn{s.arp, s.ip6} {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	s.arp, s.ip6, s.warp, s.w6 = nil, nil, nil, nil
	if s.ns != nil {
		errs = append(errs, s.ns.Close())
		s.ns = nil
	}
	return errors.Join(errs...)
}
