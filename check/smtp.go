package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/textproto"
	"strings"
)

// SMTP checks a mail server (keepalived's SMTP_CHECK): it reads the 220
// greeting, says HELO and expects 250, then says QUIT and expects 221.
type SMTP struct {
	// Addr is the server (connect_ip, connect_port).
	Addr netip.AddrPort
	// Bind is the local source address (bind_to); zero lets the kernel choose.
	Bind netip.Addr
	// Interface, when not empty, binds the socket to that network
	// interface (bind_if; SO_BINDTODEVICE, Linux only).
	Interface string
	// HELO is the name sent with HELO (helo_name); empty means "localhost".
	HELO string
}

// String returns "smtp ADDR".
func (c *SMTP) String() string { return "smtp " + c.Addr.String() }

// Key identifies the probe for Group's deduplication.
func (c *SMTP) Key() string {
	return fmt.Sprintf("smtp|%s|%s|%s|%q", c.Addr, c.Bind, c.Interface, c.HELO)
}

// helo returns the name sent with HELO.
func (c *SMTP) helo() string {
	if c.HELO == "" {
		return "localhost"
	}
	return c.HELO
}

// Validate reports every problem of c's configuration: Addr not a target
// address, Interface not an interface name, a HELO name with white
// space. Each is a *FieldError.
func (c *SMTP) Validate() error {
	errs := []error{checkTarget(c, "Addr", c.Addr), checkInterface(c, c.Interface)}
	if strings.ContainsAny(c.helo(), " \t\r\n") {
		errs = append(errs, invalid(c, "HELO", fmt.Sprintf("%q has white space", c.HELO)))
	}
	return errors.Join(errs...)
}

// Check runs the SMTP dialogue.
func (c *SMTP) Check(ctx context.Context) error {
	conn, err := dialTCP(ctx, c, c.Addr, c.Bind, c.Interface)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := watchConn(ctx, conn)
	defer stop()
	// A server that talks forever is cut off after 64 KiB.
	tp := textproto.NewConn(struct {
		io.Reader
		io.Writer
		io.Closer
	}{io.LimitReader(conn, 64<<10), conn, conn})
	helo := c.helo()
	step := func(what string, want int, cmd string) error {
		if cmd != "" {
			if err := tp.PrintfLine("%s", cmd); err != nil {
				return fmt.Errorf("check: %s: sending %s: %w", c, what, ctxErr(ctx, err))
			}
		}
		if _, _, err := tp.ReadResponse(want); err != nil {
			var te *textproto.Error
			if errors.As(err, &te) {
				return fmt.Errorf("check: %s: %s: got %d %q, want %d: %w", c, what, te.Code, te.Msg, want, ErrUnexpected)
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("check: %s: %s: connection closed: %w", c, what, ErrUnexpected)
			}
			return fmt.Errorf("check: %s: %s: %w", c, what, ctxErr(ctx, err))
		}
		return nil
	}
	if err := step("greeting", 220, ""); err != nil {
		return err
	}
	if err := step("HELO", 250, "HELO "+helo); err != nil {
		return err
	}
	return step("QUIT", 221, "QUIT")
}
