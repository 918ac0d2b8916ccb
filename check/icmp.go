package check

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// ICMP checks that a host answers an ICMP echo request (IPv4 or IPv6;
// keepalived's PING_CHECK). A reply counts only when its identifier,
// sequence number and payload match the request's.
type ICMP struct {
	// Addr is the host to ping.
	Addr netip.Addr
	// Bind is the local source address; zero lets the kernel choose.
	Bind netip.Addr
	// Interface, when not empty, binds the socket to that network
	// interface (bind_if; SO_BINDTODEVICE, Linux only).
	Interface string
	// Privileged selects a raw socket, which needs root or CAP_NET_RAW.
	// Otherwise the check uses an unprivileged datagram ("ping") socket,
	// which Linux allows only to groups in net.ipv4.ping_group_range.
	Privileged bool
	// ID is the echo identifier used with a raw socket; zero picks a random
	// one for each check. The kernel chooses it for datagram sockets.
	ID uint16
	// Size is the payload length in bytes; zero means 56, and values below 16
	// are raised to 16 (the payload carries a random nonce).
	Size int
}

// String returns "icmp ADDR" or "icmp-raw ADDR".
func (c *ICMP) String() string {
	if c.Privileged {
		return "icmp-raw " + c.Addr.String()
	}
	return "icmp " + c.Addr.String()
}

// Key identifies the probe for Group's deduplication.
func (c *ICMP) Key() string {
	return fmt.Sprintf("icmp|%s|%s|%s|%t|%d|%d", c.Addr, c.Bind, c.Interface, c.Privileged, c.ID, c.Size)
}

// Validate reports every problem of c's configuration: Addr not an
// address, Interface not an interface name. Each is a *FieldError.
func (c *ICMP) Validate() error {
	var err error
	if !c.Addr.IsValid() {
		err = invalid(c, "Addr", "no target address")
	}
	return errors.Join(err, checkInterface(c, c.Interface))
}

// Check sends one echo request and waits for its reply until ctx ends.
func (c *ICMP) Check(ctx context.Context) error {
	if err := ready(ctx, c); err != nil {
		return err
	}
	dst := c.Addr.Unmap()
	v6 := dst.Is6()
	network, listen, proto := "udp4", "0.0.0.0", 1
	var typ, replyTyp icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if v6 {
		network, listen, proto = "udp6", "::", 58
		typ, replyTyp = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	if c.Privileged {
		network = map[bool]string{false: "ip4:icmp", true: "ip6:ipv6-icmp"}[v6]
	}
	if c.Bind.IsValid() {
		listen = c.Bind.String()
	}
	conn, err := listenICMP(network, listen, c.Interface)
	if err != nil {
		if !c.Privileged && errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("check: %s: opening a ping socket (is this group in net.ipv4.ping_group_range?): %w", c, err)
		}
		return fmt.Errorf("check: %s: opening %s socket: %w", c, network, err)
	}
	defer conn.Close()
	stop := watchConn(ctx, conn)
	defer stop()

	size := c.Size
	if size == 0 {
		size = 56
	}
	size = max(size, 16)
	payload := make([]byte, size)
	_, _ = rand.Read(payload[:16])
	id, seq := int(c.ID), int(binary.BigEndian.Uint16(payload[:2]))
	if id == 0 {
		id = int(binary.BigEndian.Uint16(payload[2:4])) | 1
	}
	req, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: payload}}).Marshal(nil)
	if err != nil {
		return fmt.Errorf("check: %s: building echo request: %w", c, err)
	}
	var to net.Addr = &net.UDPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	if c.Privileged {
		to = &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	}
	start := time.Now()
	if _, err := conn.WriteTo(req, to); err != nil {
		return fmt.Errorf("check: %s: sending echo request: %w", c, ctxErr(ctx, err))
	}
	buf := make([]byte, size+512)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || isTimeout(err) {
				return fmt.Errorf("check: %s: after %v: %w: %w", c, time.Since(start).Round(time.Microsecond), ErrNoReply, ctxErr(ctx, err))
			}
			return fmt.Errorf("check: %s: receiving: %w", c, err)
		}
		if !sameAddr(from, dst) {
			continue
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != replyTyp {
			continue // someone else's traffic, or our own request looped back
		}
		e, ok := m.Body.(*icmp.Echo)
		// A datagram socket's identifier is chosen by the kernel, which
		// delivers only its own replies.
		if !ok || e.Seq != seq || (c.Privileged && e.ID != id) || !bytes.Equal(e.Data, payload) {
			continue
		}
		return nil
	}
}

// sameAddr reports whether a reply came from dst.
func sameAddr(from net.Addr, dst netip.Addr) bool {
	var ip net.IP
	switch a := from.(type) {
	case *net.IPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	default:
		return false
	}
	got, ok := netip.AddrFromSlice(ip)
	return ok && got.Unmap().WithZone("") == dst.WithZone("")
}
