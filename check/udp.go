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
	// Payload is the datagram sent; it may be empty.
	Payload []byte
	// RequireReply makes a reply necessary (require_reply).
	RequireReply bool
	// Expect, when non-empty, is the prefix the reply must start with; it
	// implies RequireReply.
	Expect []byte
	// Wait is how long a check without RequireReply waits for a port
	// unreachable before calling the target healthy; zero means one second.
	// The context's deadline cuts it short, and also counts as healthy.
	Wait time.Duration
}

// String returns "udp ADDR".
func (c *UDP) String() string { return "udp " + c.Addr.String() }

// Key identifies the probe for Group's deduplication.
func (c *UDP) Key() string {
	return fmt.Sprintf("udp|%s|%s|%x|%t|%x|%s", c.Addr, c.Bind, c.Payload, c.RequireReply, c.Expect, c.Wait)
}

// Validate returns a *FieldError if Addr is not a target address.
func (c *UDP) Validate() error { return checkTarget(c, "Addr", c.Addr) }

// Check sends Payload and waits for a reply or an ICMP error.
func (c *UDP) Check(ctx context.Context) error {
	if err := c.Validate(); err != nil {
		return err
	}
	conn, err := dialer("udp", c.Bind).DialContext(ctx, "udp", c.Addr.String())
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
