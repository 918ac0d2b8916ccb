package check

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// TCP checks that a TCP connection to Addr can be opened (keepalived's
// TCP_CHECK), optionally completes a TLS handshake, writes Send and waits for
// Expect. The connection is closed before Check returns.
type TCP struct {
	// Addr is the target (keepalived's connect_ip and connect_port).
	Addr netip.AddrPort
	// Bind is the local source address (bind_to); zero lets the kernel choose.
	Bind netip.Addr
	// Interface, when not empty, binds the socket to that network
	// interface (bind_if; SO_BINDTODEVICE, Linux only).
	Interface string
	// TLS, when non-nil, makes the check complete a TLS handshake. An empty
	// ServerName is set to Addr's address.
	TLS *tls.Config
	// Send is written once connected.
	Send []byte
	// Expect, when non-empty, must appear within the first 4 KiB read back.
	Expect []byte
}

// String returns "tcp ADDR", or "tls ADDR" with TLS.
func (c *TCP) String() string {
	if c.TLS != nil {
		return "tls " + c.Addr.String()
	}
	return "tcp " + c.Addr.String()
}

// Key identifies the probe for Group's deduplication.
func (c *TCP) Key() string {
	// Not fmt.Sprintf: a reload of 30,000 real servers compares keys.
	return "tcp|" + c.Addr.String() + "|" + c.Bind.String() + "|" + c.Interface + "|" + tlsKey(c.TLS) + "|" +
		hex.EncodeToString(c.Send) + "|" + hex.EncodeToString(c.Expect)
}

// Validate reports every problem of c's configuration: Addr not a target
// address, Interface not an interface name. Each is a *FieldError.
func (c *TCP) Validate() error {
	return errors.Join(checkTarget(c, "Addr", c.Addr), checkInterface(c, c.Interface))
}

// Check connects and, if configured, handshakes, sends and expects.
func (c *TCP) Check(ctx context.Context) error {
	if c.TLS == nil && len(c.Send) == 0 && len(c.Expect) == 0 {
		if ok, err := connectOnly(ctx, c); ok {
			return err
		}
	}
	conn, err := dialTCP(ctx, c, c.Addr, c.Bind, c.Interface)
	if err != nil {
		return err
	}
	defer conn.Close()
	if c.TLS != nil {
		tc := tls.Client(conn, serverName(c.TLS, c.Addr.Addr().String()))
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("check: %s: TLS handshake: %w", c, ctxErr(ctx, err))
		}
		conn = tc
	}
	if len(c.Send) == 0 && len(c.Expect) == 0 {
		return nil
	}
	stop := watchConn(ctx, conn)
	defer stop()
	if len(c.Send) > 0 {
		if _, err := conn.Write(c.Send); err != nil {
			return fmt.Errorf("check: %s: send: %w", c, ctxErr(ctx, err))
		}
	}
	if len(c.Expect) > 0 {
		if err := expect(conn, c.Expect); err != nil {
			return fmt.Errorf("check: %s: %w", c, ctxErr(ctx, err))
		}
	}
	return nil
}

// expect reads r until want appears, the peer closes, or maxRead bytes have
// been read without it.
func expect(r io.Reader, want []byte) error {
	buf := make([]byte, 0, maxRead)
	for len(buf) < maxRead {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if bytes.Contains(buf, want) {
			return nil
		}
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("connection closed after %d bytes without %q: %w", len(buf), want, ErrUnexpected)
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
	}
	return fmt.Errorf("no %q in the first %d bytes: %w", want, len(buf), ErrUnexpected)
}

// serverName returns cfg, or a clone with ServerName set to name when cfg
// has none, so that verification has something to verify against.
func serverName(cfg *tls.Config, name string) *tls.Config {
	if cfg.ServerName != "" {
		return cfg
	}
	cfg = cfg.Clone()
	cfg.ServerName = name
	return cfg
}

// tlsKey describes a TLS configuration for Key: configurations are equal
// only when they are the same value.
func tlsKey(cfg *tls.Config) string {
	if cfg == nil {
		return "plain"
	}
	return fmt.Sprintf("tls=%p,sni=%s,insecure=%t", cfg, cfg.ServerName, cfg.InsecureSkipVerify)
}
