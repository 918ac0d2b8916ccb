package bgp_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	gbgp "github.com/osrg/gobgp/v4/pkg/packet/bgp"

	"github.com/vigil-ha/vigil/bgp"
)

// A collector is the upstream router of the in-process tests: it accepts
// BGP sessions on loopback, answers the OPEN (hold time 0: no
// keepalives), and records the routes each session announces, decoded
// with GoBGP's message codec. It is not a second GoBGP server because
// GoBGP keeps its route-selection options in package variables that
// every server's start writes: two servers in one process race.
type collector struct {
	t    *testing.T
	asn  uint32 // its AS: routerASN unless a test sets another
	ln   net.Listener
	port uint16
	wg   sync.WaitGroup

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every change
	rib      map[netip.Prefix]route
	open     *gbgp.BGPOpen // the last OPEN received
	notified bool          // a NOTIFICATION arrived
	sessions int           // sessions accepted
	up       bool          // a session is open
	conns    []net.Conn
}

// route is one announced route, reduced to what the tests check.
type route struct {
	NextHop     netip.Addr
	MED         uint32
	MEDSet      bool
	LocalPref   uint32
	Communities []bgp.Community
	Large       []bgp.LargeCommunity
}

// newCollector listens on addr (port chosen by the kernel); it
// closes in t.Cleanup.
func newCollector(t *testing.T, addr string) *collector {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{t: t, asn: routerASN, ln: ln, port: uint16(ln.Addr().(*net.TCPAddr).Port),
		changed: make(chan struct{}), rib: map[netip.Prefix]route{}}
	c.wg.Add(1)
	go c.accept()
	t.Cleanup(func() {
		ln.Close()
		c.mu.Lock()
		for _, conn := range c.conns {
			conn.Close()
		}
		c.mu.Unlock()
		c.wg.Wait()
	})
	return c
}

func (c *collector) accept() {
	defer c.wg.Done()
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.take(conn)
	}
}

// take serves a new session on conn.
func (c *collector) take(conn net.Conn) {
	c.mu.Lock()
	c.conns = append(c.conns, conn)
	c.sessions++
	c.mu.Unlock()
	c.wg.Add(1)
	go c.serve(conn)
}

// update applies fn to the recorded state and wakes the waiters.
func (c *collector) update(fn func()) {
	c.mu.Lock()
	fn()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func (c *collector) serve(conn net.Conn) {
	defer c.wg.Done()
	defer conn.Close()
	defer c.update(func() { c.up = false; clear(c.rib) })
	for {
		msg, err := readMessage(conn)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.t.Logf("collector: %v", err)
			}
			return
		}
		switch body := msg.Body.(type) {
		case *gbgp.BGPOpen:
			caps := []gbgp.ParameterCapabilityInterface{gbgp.NewCapMultiProtocol(gbgp.RF_IPv4_UC),
				gbgp.NewCapMultiProtocol(gbgp.RF_IPv6_UC), gbgp.NewCapFourOctetASNumber(c.asn),
				// a graceful restart helper (RFC 4724): no restart state of its own
				gbgp.NewCapGracefulRestart(false, false, 0, nil)}
			open, _ := gbgp.NewBGPOpenMessage(uint16(c.asn), 0, netip.MustParseAddr("192.0.2.254"),
				[]gbgp.OptionParameterInterface{gbgp.NewOptionParameterCapability(caps)})
			if writeMessage(conn, open) != nil || writeMessage(conn, gbgp.NewBGPKeepAliveMessage()) != nil {
				return
			}
			c.update(func() { c.open, c.up = body, true })
		case *gbgp.BGPNotification:
			c.update(func() { c.notified = true })
		case *gbgp.BGPUpdate:
			c.update(func() { c.apply(body) })
		}
	}
}

// apply records an UPDATE's withdrawals and announcements.
func (c *collector) apply(u *gbgp.BGPUpdate) {
	for _, n := range u.WithdrawnRoutes {
		delete(c.rib, netip.MustParsePrefix(n.NLRI.String()))
	}
	var rt route
	nlri := slices.Clone(u.NLRI)
	for _, a := range u.PathAttributes {
		switch a := a.(type) {
		case *gbgp.PathAttributeNextHop:
			rt.NextHop = a.Value
		case *gbgp.PathAttributeMpReachNLRI:
			rt.NextHop = a.Nexthop
			nlri = append(nlri, a.Value...)
		case *gbgp.PathAttributeMpUnreachNLRI:
			for _, n := range a.Value {
				delete(c.rib, netip.MustParsePrefix(n.NLRI.String()))
			}
		case *gbgp.PathAttributeMultiExitDisc:
			rt.MED, rt.MEDSet = a.Value, true
		case *gbgp.PathAttributeLocalPref:
			rt.LocalPref = a.Value
		case *gbgp.PathAttributeCommunities:
			for _, v := range a.Value {
				rt.Communities = append(rt.Communities, bgp.Community(v))
			}
		case *gbgp.PathAttributeLargeCommunities:
			for _, v := range a.Values {
				rt.Large = append(rt.Large, bgp.LargeCommunity{ASN: v.ASN, Local1: v.LocalData1, Local2: v.LocalData2})
			}
		}
	}
	for _, n := range nlri {
		c.rib[netip.MustParsePrefix(n.NLRI.String())] = rt
	}
}

func readMessage(conn net.Conn) (*gbgp.BGPMessage, error) {
	buf := make([]byte, gbgp.BGP_HEADER_LENGTH)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(buf[16:18]))
	if n < gbgp.BGP_HEADER_LENGTH {
		return nil, errors.New("short BGP message")
	}
	buf = append(buf, make([]byte, n-gbgp.BGP_HEADER_LENGTH)...)
	if _, err := io.ReadFull(conn, buf[gbgp.BGP_HEADER_LENGTH:]); err != nil {
		return nil, err
	}
	return gbgp.ParseBGPMessage(buf)
}

func writeMessage(conn net.Conn, m *gbgp.BGPMessage) error {
	b, err := m.Serialize()
	if err != nil {
		return err
	}
	_, err = conn.Write(b)
	return err
}

// wait waits (at most 15 s) until cond holds on the recorded state; cond
// runs with the collector locked.
func (c *collector) wait(what string, cond func() bool) {
	c.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		c.mu.Lock()
		ok, ch := cond(), c.changed
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			c.mu.Lock()
			defer c.mu.Unlock()
			c.t.Fatalf("collector: no %s within 15s; routes %+v", what, c.rib)
		}
	}
}

// routes returns a copy of the routes announced now.
func (c *collector) routes() map[netip.Prefix]route {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[netip.Prefix]route, len(c.rib))
	for k, v := range c.rib {
		m[k] = v
	}
	return m
}

// waitRoutes waits until exactly prefixes are announced.
func (c *collector) waitRoutes(prefixes ...netip.Prefix) map[netip.Prefix]route {
	c.t.Helper()
	c.wait("routes "+joinPrefixes(prefixes), func() bool {
		if len(c.rib) != len(prefixes) {
			return false
		}
		for _, p := range prefixes {
			if _, ok := c.rib[p]; !ok {
				return false
			}
		}
		return true
	})
	return c.routes()
}

func joinPrefixes(ps []netip.Prefix) string {
	s := "["
	for i, p := range ps {
		if i > 0 {
			s += " "
		}
		s += p.String()
	}
	return s + "]"
}

// grTime returns the restart time of open's graceful restart
// capability, if it has one.
func grTime(open *gbgp.BGPOpen) (uint16, bool) {
	if open == nil {
		return 0, false
	}
	for _, p := range open.OptParams {
		if pc, ok := p.(*gbgp.OptionParameterCapability); ok {
			for _, c := range pc.Capability {
				if gr, ok := c.(*gbgp.CapGracefulRestart); ok {
					return gr.Time, true
				}
			}
		}
	}
	return 0, false
}

// dial opens a session to a Speaker listening on addr, retrying (bounded)
// until it listens.
func (c *collector) dial(addr string) {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.take(conn)
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("collector: dial %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
