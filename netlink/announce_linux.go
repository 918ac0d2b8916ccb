package netlink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netns"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// AnnouncerConfig configures an Announcer.
type AnnouncerConfig struct {
	// Link is the interface to send on (required): the VRRP interface, or
	// the VMAC macvlan when one is used.
	Link string
	// Namespace is the network namespace of Link; nil means the namespace
	// of the thread calling NewAnnouncer. The sockets are opened there
	// and stay there.
	Namespace *netns.NsHandle
	// MAC is the sender MAC of the frames; nil means Link's own MAC (the
	// virtual MAC when Link is a VMAC).
	MAC net.HardwareAddr
	// Timing is when to send; the zero value is keepalived's defaults.
	Timing Timing
	// Logger receives the announcer's logs; nil discards them.
	Logger *slog.Logger
}

// Announcer tells a segment where addresses are, as keepalived does after
// becoming master: gratuitous ARP requests for IPv4 and unsolicited
// neighbour advertisements (Override set) for IPv6, in bursts, sent on
// packet sockets bound to one interface. It implements vrrp.Announcer.
//
// Each Announce runs on a goroutine of the Announcer until its schedule
// ends or its context is done; Close stops them all and waits for them.
type Announcer struct {
	a *announcer
}

// NewAnnouncer opens the packet sockets on cfg.Link, in cfg.Namespace.
func NewAnnouncer(cfg AnnouncerConfig) (*Announcer, error) {
	if cfg.Link == "" {
		return nil, errors.New("netlink: announcer: no link")
	}
	if err := cfg.Timing.check(); err != nil {
		return nil, fmt.Errorf("netlink: announcer on %s: %w", cfg.Link, err)
	}
	if cfg.MAC != nil && len(cfg.MAC) != 6 {
		return nil, fmt.Errorf("netlink: announcer on %s: bad MAC %q", cfg.Link, cfg.MAC)
	}
	ps := &packetSender{link: cfg.Link}
	if cfg.Namespace != nil {
		// Keep our own handle: the sockets are reopened in this namespace
		// if the interface is deleted and created again.
		fd, err := unix.Dup(int(*cfg.Namespace))
		if err != nil {
			return nil, fmt.Errorf("netlink: announcer on %s: namespace handle: %w", cfg.Link, err)
		}
		ns := netns.NsHandle(fd)
		ps.ns = &ns
	}
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
		return nil, fmt.Errorf("netlink: announcer on %s: link has no Ethernet MAC (%q)", cfg.Link, mac)
	}
	return &Announcer{a: newAnnouncer(cfg.Link, mac, cfg.MAC != nil, cfg.Timing, ps, cfg.Logger)}, nil
}

// Announce starts announcing addrs (IPv4: gratuitous ARP, IPv6: unsolicited
// NA) and returns at once. The bursts and refreshes run until the schedule
// ends, ctx is done, or the Announcer is closed. An invalid address fails
// the call before anything is sent.
func (an *Announcer) Announce(ctx context.Context, addrs []netip.Addr) error {
	return an.a.announce(ctx, addrs)
}

// MAC returns the sender MAC of the frames.
func (an *Announcer) MAC() net.HardwareAddr { return bytes.Clone(an.a.currentMAC()) }

// Stats returns the counters.
func (an *Announcer) Stats() AnnouncerStats { return an.a.stats() }

// Wait blocks until no announcement is running: each has ended its
// schedule or seen its context done.
func (an *Announcer) Wait() { an.a.wait() }

// Close stops every announcement, waits for their goroutines, and closes
// the sockets. Announce fails with ErrClosed afterwards.
func (an *Announcer) Close() error { return an.a.close() }

// packetSender sends frames on two AF_PACKET sockets bound to one
// interface, one per ethertype, with a filter that receives nothing.
type packetSender struct {
	link string
	ns   *netns.NsHandle // owned; nil: the process's namespace

	mu       sync.RWMutex // guards the sockets; sends share it, reopen takes it
	arp, ip6 *packet.Conn
}

// open opens the sockets on the interface named s.link, in s.ns, and
// returns its MAC. The caller holds s.mu or owns s alone.
func (s *packetSender) open() (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := InNamespace(s.ns, func() error {
		ifi, err := net.InterfaceByName(s.link)
		if err != nil {
			return fmt.Errorf("netlink: announcer: link %s: %w", s.link, err)
		}
		mac = ifi.HardwareAddr
		s.arp, s.ip6, err = openPacketConns(ifi)
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
		return fmt.Errorf("netlink: announcer on %s: %w", s.link, ErrClosed)
	}
	_, err := c.WriteTo(b, &packet.Addr{HardwareAddr: net.HardwareAddr(b[0:6])})
	return err
}

func (s *packetSender) reopen() (net.HardwareAddr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := []*packet.Conn{s.arp, s.ip6}
	s.arp, s.ip6 = nil, nil
	for _, c := range old {
		if c != nil {
			c.Close()
		}
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
	s.arp, s.ip6 = nil, nil
	if s.ns != nil {
		errs = append(errs, s.ns.Close())
		s.ns = nil
	}
	return errors.Join(errs...)
}
