package check

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsServer serves a tiny zone on 127.0.0.1 over UDP and TCP (same port):
// ok.test has an A record, empty.test none, slow.test never answers, and
// every other name is NXDOMAIN. Queries for slow.test are signalled on asked.
func dnsServer(t *testing.T) (ap netip.AddrPort, asked <-chan struct{}) {
	t.Helper()
	slow := make(chan struct{}, 4)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		r := new(dns.Msg)
		r.SetReply(q)
		switch q.Question[0].Name {
		case "ok.test.":
			if q.Question[0].Qtype == dns.TypeA {
				r.Answer = append(r.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: "ok.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		case "empty.test.":
		case "slow.test.":
			slow <- struct{}{}
			return
		default:
			r.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(r)
	})
	var ln net.Listener
	var pc net.PacketConn
	var err error
	for range 10 { // the UDP port may be taken for TCP; try another
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		done := make(chan struct{})
		go func() { defer close(done); s.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { s.Shutdown(); <-done })
	}
	return pc.LocalAddr().(*net.UDPAddr).AddrPort(), slow
}

func TestDNS(t *testing.T) {
	noLeaks(t)
	srv, _ := dnsServer(t)
	tests := []struct {
		name string
		c    *DNS
		want error
	}{
		{"A", &DNS{Server: srv, Name: "ok.test", Type: dns.TypeA, RequireAnswer: true}, nil},
		{"A over TCP", &DNS{Server: srv, Name: "ok.test", Type: dns.TypeA, RequireAnswer: true, TCP: true}, nil},
		{"no answer needed", &DNS{Server: srv, Name: "empty.test", Type: dns.TypeA}, nil},
		{"SOA by default", &DNS{Server: srv, Name: "empty.test"}, nil},
		{"answer required", &DNS{Server: srv, Name: "empty.test", Type: dns.TypeA, RequireAnswer: true}, ErrUnexpected},
		{"other type only", &DNS{Server: srv, Name: "ok.test", Type: dns.TypeAAAA, RequireAnswer: true}, ErrUnexpected},
		{"NXDOMAIN", &DNS{Server: srv, Name: "missing.test", Type: dns.TypeA}, ErrUnexpected},
		{"NXDOMAIN over TCP", &DNS{Server: srv, Name: "missing.test", TCP: true}, ErrUnexpected},
		{"no reply", &DNS{Server: srv, Name: "slow.test"}, ErrNoReply},
		{"bad name", &DNS{Server: srv, Name: "a..b"}, ErrInvalid},
		{"no server", &DNS{Name: "ok.test"}, ErrInvalid},
		{"closed TCP port", &DNS{Server: closedTCPPort(t), TCP: true}, errRefused},
		{"closed UDP port", &DNS{Server: closedUDPPort(t)}, errRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.c.Check(testCtx(t, 200*time.Millisecond)), tt.want)
		})
	}
}

func TestDNSContext(t *testing.T) {
	noLeaks(t)
	srv, asked := dnsServer(t)
	for _, tcp := range []bool{false, true} {
		c := &DNS{Server: srv, Name: "slow.test", TCP: tcp}
		if err := c.Check(testCtx(t, 100*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: no reply: %v, want DeadlineExceeded", c, err)
		}
		<-asked
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-asked; cancel() }()
		if err := c.Check(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: cancelled: %v, want Canceled", c, err)
		}
	}
}
