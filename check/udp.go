package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"
)

// UDP sends a datagram to Addr and judges the answer (keepalived's
// UDP_CHECK). With RequireReply (or Expect) the target is healthy only when
// it replies; otherwise it is healthy unless an ICMP port unreachable comes
// back within Wait.
type UDP struct {
	// Addr is the target (connect_ip, connect_port).
	Addr netip.AddrPort
	// Bind is the local source address (bind_to); zero lets the kernel choose.
	Bind netip.Addr
	// Interface, when not empty, binds the socket to that network
	// interface (bind_if; SO_BINDTODEVICE, Linux only).
	Interface string
	// Payload is the datagram sent; it may be empty.
	Payload []byte
	// RequireReply makes a reply necessary (require_reply).
	RequireReply bool
	// Expect, when non-empty, is the prefix the reply must start with; it
	// implies RequireReply.
	Expect []byte
	// MinReply and MaxReply, when positive, are the shortest and the
	// longest reply accepted (min_reply_length, max_reply_length); as in
	// keepalived, they apply only with Expect. Zero or negative means no
	// bound.
	MinReply, MaxReply int
	// Wait is how long a check without RequireReply waits for a port
	// unreachable before calling the target healthy; zero means one second.
	// The context's deadline cuts it short, and also counts as healthy.
	Wait time.Duration
}

// String returns "udp ADDR".
func (c *UDP) String() string { return "udp " + c.Addr.String() }

// Key identifies the probe for Group's deduplication.
func (c *UDP) Key() string {
	return fmt.Sprintf("udp|%s|%s|%s|%x|%t|%x|%d|%d|%s", c.Addr, c.Bind, c.Interface, c.Payload, c.RequireReply, c.Expect,
		max(c.MinReply, 0), max(c.MaxReply, 0), c.Wait)
}

// Validate reports every problem of c's configuration: Addr not a target
// address, Interface not an interface name. Each is a *FieldError.
func (c *UDP) Validate() error {
	return errors.Join(checkTarget(c, "Addr", c.Addr), checkInterface(c, c.Interface))
}

// Check sends Payload and waits for a reply or an ICMP error.
func (c *UDP) Check(ctx context.Context) error {
	if err := c.Validate(); err != nil {
		return err
	}
	conn, err := dialer("udp", c.Bind, c.Interface).DialContext(ctx, "udp", c.Addr.String())
	if err != nil {
		return fmt.Errorf("check: %s: %w", c, ctxErr(ctx, err))
	}
	defer conn.Close()
	required := c.RequireReply || len(c.Expect) > 0
	d, _ := ctx.Deadline()
	if !required {
		wait := c.Wait
		if wait <= 0 {
			wait = time.Second
		}
		if w := time.Now().Add(wait); d.IsZero() || w.Before(d) {
			d = w
		}
	}
	stop := watchConnUntil(ctx, conn, d)
	defer stop()

	if _, err := conn.Write(c.Payload); err != nil {
		return fmt.Errorf("check: %s: send: %w", c, ctxErr(ctx, err))
	}
	buf := make([]byte, 64<<10)
	n, err := conn.Read(buf)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("check: %s: port unreachable: %w", c, err)
	case err != nil && isTimeout(err):
		if errors.Is(ctx.Err(), context.Canceled) {
			return fmt.Errorf("check: %s: %w", c, ctx.Err())
		}
		if required {
			return fmt.Errorf("check: %s: %w: %w", c, ErrNoReply, ctxErr(ctx, err))
		}
		return nil // no port unreachable: something is listening
	case err != nil:
		return fmt.Errorf("check: %s: receive: %w", c, ctxErr(ctx, err))
	}
	if len(c.Expect) > 0 && (n < c.MinReply || c.MaxReply > 0 && n > c.MaxReply) {
		return fmt.Errorf("check: %s: reply of %d bytes, want %s: %w", c, n, c.replyLen(), ErrUnexpected)
	}
	if !bytes.HasPrefix(buf[:n], c.Expect) {
		return fmt.Errorf("check: %s: reply %q does not start with %q: %w", c, trunc(buf[:n], 64), c.Expect, ErrUnexpected)
	}
	return nil
}

// trunc returns at most n bytes of b.
func trunc(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// replyLen describes the reply lengths accepted.
func (c *UDP) replyLen() string {
	if c.MaxReply <= 0 {
		return fmt.Sprintf("at least %d", c.MinReply)
	}
	return fmt.Sprintf("%d to %d", max(c.MinReply, 0), c.MaxReply)
}
