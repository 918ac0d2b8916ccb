package check

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// DNS checks a DNS server by querying Name for Type (keepalived's
// DNS_CHECK). The server is healthy when it answers the query with rcode
// NOERROR and, with RequireAnswer, at least one answer record of Type.
type DNS struct {
	// Server is the DNS server (connect_ip, connect_port).
	Server netip.AddrPort
	// Bind is the local source address (bind_to); zero lets the kernel choose.
	Bind netip.Addr
	// Interface, when not empty, binds the socket to that network
	// interface (bind_if; SO_BINDTODEVICE, Linux only).
	Interface string
	// Name is the name queried; empty means the root ".", as in keepalived.
	Name string
	// Type is the query type, such as dns.TypeA; zero means SOA, as in
	// keepalived.
	Type uint16
	// TCP sends the query over TCP instead of UDP.
	TCP bool
	// RequireAnswer makes an empty answer section a failure.
	RequireAnswer bool
}

func (c *DNS) query() (name string, typ uint16, network string) {
	name, typ, network = dns.Fqdn(c.Name), c.Type, "udp"
	if typ == 0 {
		typ = dns.TypeSOA
	}
	if c.TCP {
		network = "tcp"
	}
	return name, typ, network
}

// String returns "dns SERVER NAME TYPE" with "/tcp" for TCP.
func (c *DNS) String() string {
	name, typ, network := c.query()
	return fmt.Sprintf("dns %s/%s %s %s", c.Server, network, name, dns.TypeToString[typ])
}

// Key identifies the probe for Group's deduplication.
func (c *DNS) Key() string {
	name, typ, network := c.query()
	return fmt.Sprintf("dns|%s|%s|%s|%s|%s|%d|%t", c.Server, c.Bind, c.Interface, network, strings.ToLower(name), typ, c.RequireAnswer)
}

// Validate reports every problem of c's configuration: Server not a
// server address, Interface not an interface name, Name not a domain
// name. Each is a *FieldError.
func (c *DNS) Validate() error {
	errs := []error{checkTarget(c, "Server", c.Server), checkInterface(c, c.Interface)}
	if name, _, _ := c.query(); !validName(name) {
		errs = append(errs, invalid(c, "Name", fmt.Sprintf("%q is not a domain name", c.Name)))
	}
	return errors.Join(errs...)
}

func validName(name string) bool {
	_, ok := dns.IsDomainName(name)
	return ok
}

// Check sends the query and judges the response.
func (c *DNS) Check(ctx context.Context) error {
	if err := c.Validate(); err != nil {
		return err
	}
	name, typ, network := c.query()
	conn, err := dialer(network, c.Bind, c.Interface).DialContext(ctx, network, c.Server.String())
	if err != nil {
		return fmt.Errorf("check: %s: connect: %w", c, ctxErr(ctx, err))
	}
	defer conn.Close()
	stop := watchConn(ctx, conn)
	defer stop()

	q := new(dns.Msg)
	q.SetQuestion(name, typ)
	co := &dns.Conn{Conn: conn}
	if err := co.WriteMsg(q); err != nil {
		return fmt.Errorf("check: %s: send: %w", c, ctxErr(ctx, err))
	}
	var r *dns.Msg
	for i := 0; r == nil || r.Id != q.Id; i++ {
		// Over UDP a stray or garbled datagram is skipped, a hundred at most.
		r, err = co.ReadMsg()
		var bad *dns.Error
		if err != nil && (c.TCP || !errors.As(err, &bad) || i >= 100) {
			if isTimeout(err) || ctx.Err() != nil {
				return fmt.Errorf("check: %s: %w: %w", c, ErrNoReply, ctxErr(ctx, err))
			}
			return fmt.Errorf("check: %s: receive: %w", c, err)
		}
		if r != nil && r.Id != q.Id && (c.TCP || i >= 100) {
			return fmt.Errorf("check: %s: reply id %d, want %d: %w", c, r.Id, q.Id, ErrUnexpected)
		}
	}
	if !r.Response || len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, name) || r.Question[0].Qtype != typ {
		return fmt.Errorf("check: %s: reply does not answer the query: %w", c, ErrUnexpected)
	}
	if r.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("check: %s: rcode %s: %w", c, dns.RcodeToString[r.Rcode], ErrUnexpected)
	}
	if c.RequireAnswer {
		for _, rr := range r.Answer {
			if rr.Header().Rrtype == typ {
				return nil
			}
		}
		return fmt.Errorf("check: %s: no %s record in the answer: %w", c, dns.TypeToString[typ], ErrUnexpected)
	}
	return nil
}
