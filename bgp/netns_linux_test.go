//go:build linux

package bgp_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/bgp"
	"github.com/vigil-ha/vigil/internal/nstest"
)

// The namespace tests: an upstream router (FRR's bgpd, BIRD 2) on host 1
// (sessions signed with TCP MD5)
// of an nstest segment, two vigil boxes (internal/bgpbox: a Supervisor
// checking the box's service on the VIP, a Speaker announcing the VIP
// while the check passes) on hosts 2 and 3, a witness on host 4 reaching
// the VIP through the router. What the router's RIB and kernel FIB hold
// is polled with a deadline; orders are asserted, and the hold-time
// expiry against its bounds.

var (
	nsVIP   = netip.MustParsePrefix("203.0.113.10/32")
	nsVIP6  = netip.MustParsePrefix("2001:db8:10::10/128")
	nsPort  = uint16(8080)
	nsWait  = 15 * time.Second
	nsHold  = 3 * time.Second
	nsDrain = 2 * time.Second
	// nsPassword signs every session with TCP MD5 (RFC 2385).
	nsPassword = "vigil-md5"
)

// upPath is one path an upstream router holds for the VIP.
type upPath struct {
	NextHop     netip.Addr
	MED         uint32
	LocalPref   uint32
	GraceShut   bool // it carries GRACEFUL_SHUTDOWN (65535:0)
	Communities string
}

// upstream is a router under test on host 1.
type upstream interface {
	// paths returns the router's BGP paths for prefix, by next hop.
	paths(t *testing.T, prefix netip.Prefix) []upPath
	// log returns the router's log, for a failing test.
	log() string
}

// nsRig is the segment, the router and the boxes' services.
type nsRig struct {
	seg      *nstest.Segment
	r, w     *nstest.Host
	boxes    [2]*nstest.Host
	services [2]*service
	up       upstream
	bin      string
}

// newNSRig builds the segment and starts the router with start; the
// boxes are started with rig.startBox.
func newNSRig(t *testing.T, start func(t *testing.T, r *nstest.Host, boxes []*nstest.Host) upstream) *nsRig {
	t.Helper()
	nstest.Require(t)
	bin := nstest.GoBuild(t, "github.com/vigil-ha/vigil/internal/bgpbox")
	seg := nstest.NewSegment(t, 4)
	g := &nsRig{seg: seg, r: seg.Hosts[0], w: seg.Hosts[3], boxes: [2]*nstest.Host{seg.Hosts[1], seg.Hosts[2]}, bin: bin}
	for _, kv := range [][2]string{{"net.ipv4.ip_forward", "1"}, {"net.ipv4.conf.all.send_redirects", "0"},
		{"net.ipv4.conf.eth0.send_redirects", "0"}, {"net.ipv4.fib_multipath_hash_policy", "1"}} {
		if err := g.r.Sysctl(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	nstest.MustRun(t, "ip", "-n", g.w.Name, "route", "add", nsVIP.String(), "via", g.r.Addr4.Addr().String())
	for i, b := range g.boxes {
		nstest.MustRun(t, "ip", "-n", b.Name, "addr", "add", nsVIP.String(), "dev", "lo")
		g.services[i] = serve(t, b, netip.AddrPortFrom(nsVIP.Addr(), nsPort))
	}
	g.up = start(t, g.r, g.boxes[:])
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("router log:\n%s", g.up.log())
		}
	})
	return g
}

// startBox runs bgpbox on box i (0 or 1), peering with the router.
func (g *nsRig) startBox(t *testing.T, i int) *boxProc {
	t.Helper()
	h := g.boxes[i]
	d := nstest.StartDaemon(t, h, fmt.Sprintf("bgpbox%d", i+1), g.bin,
		"-router-id", h.Addr4.Addr().String(), "-peer", g.r.Addr4.Addr().String()+":64512",
		"-peer", g.r.Addr6.Addr().String()+":64512", "-vip", nsVIP.String(), "-vip", nsVIP6.String(), "-check", netip.AddrPortFrom(nsVIP.Addr(), nsPort).String(),
		"-hold", nsHold.String(), "-drain", nsDrain.String(), "-drain-med", "500", "-password", nsPassword)
	return &boxProc{d: d}
}

// boxProc is a running bgpbox.
type boxProc struct{ d *nstest.Daemon }

// events returns the Speaker events bgpbox printed so far.
func (b *boxProc) events() []bgp.Event {
	var evs []bgp.Event
	sc := bufio.NewScanner(strings.NewReader(b.d.Out.String()))
	for sc.Scan() {
		var ev struct {
			Kind   string       `json:"kind"`
			Prefix netip.Prefix `json:"prefix"`
			Time   time.Time    `json:"time"`
			Cause  time.Time    `json:"cause"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Kind == "" {
			continue
		}
		k := map[string]bgp.EventKind{"announce": bgp.EventAnnounce, "withdraw": bgp.EventWithdraw, "drain": bgp.EventDrain}[ev.Kind]
		evs = append(evs, bgp.Event{Kind: k, Prefix: ev.Prefix, Time: ev.Time, Cause: ev.Cause})
	}
	return evs
}

// nextHops returns the sorted next hops of paths.
func nextHops(ps []upPath) []netip.Addr {
	var out []netip.Addr
	for _, p := range ps {
		out = append(out, p.NextHop)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// waitPaths polls (bounded) until the router's paths for the VIP satisfy
// ok, and returns them.
func (g *nsRig) waitPaths(t *testing.T, what string, ok func([]upPath) bool) []upPath {
	t.Helper()
	return g.waitPathsFor(t, nsVIP, what, ok)
}

// waitPathsFor is waitPaths for prefix.
func (g *nsRig) waitPathsFor(t *testing.T, prefix netip.Prefix, what string, ok func([]upPath) bool) []upPath {
	t.Helper()
	deadline := time.Now().Add(nsWait)
	for {
		ps := g.up.paths(t, prefix)
		if ok(ps) {
			return ps
		}
		if time.Now().After(deadline) {
			t.Fatalf("router: %v: %s not within %v; paths %+v", prefix, what, nsWait, ps)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hopsAre is a waitPaths condition: the paths' next hops are want.
func hopsAre(want ...netip.Addr) func([]upPath) bool {
	return func(ps []upPath) bool { return slices.Equal(nextHops(ps), want) }
}

// fib returns the next hops of the router's kernel route to prefix.
func fib(t *testing.T, r *nstest.Host, prefix netip.Prefix) []netip.Addr {
	t.Helper()
	fam := "-4"
	if prefix.Addr().Is6() {
		fam = "-6"
	}
	out := nstest.MustRun(t, "ip", "-n", r.Name, fam, "-j", "route", "show", "exact", prefix.String())
	var routes []struct {
		Gateway  string `json:"gateway"`
		Nexthops []struct {
			Gateway string `json:"gateway"`
		} `json:"nexthops"`
	}
	if err := json.Unmarshal([]byte(out), &routes); err != nil {
		t.Fatalf("ip -j route: %v: %s", err, out)
	}
	var hops []netip.Addr
	for _, rt := range routes {
		if a, err := netip.ParseAddr(rt.Gateway); err == nil {
			hops = append(hops, a)
		}
		for _, nh := range rt.Nexthops {
			if a, err := netip.ParseAddr(nh.Gateway); err == nil {
				hops = append(hops, a)
			}
		}
	}
	slices.SortFunc(hops, netip.Addr.Compare)
	return hops
}

// waitFIB polls (bounded) until the router's kernel route to the VIP has
// exactly the next hops want (none: no route).
func (g *nsRig) waitFIB(t *testing.T, want ...netip.Addr) {
	t.Helper()
	g.waitFIBFor(t, nsVIP, want...)
}

// waitFIBFor is waitFIB for prefix.
func (g *nsRig) waitFIBFor(t *testing.T, prefix netip.Prefix, want ...netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(nsWait)
	for {
		got := fib(t, g.r, prefix)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("router FIB: %v: next hops %v, want %v", prefix, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// service is a TCP server in a box's namespace that answers each
// connection with the box's name: the box's service on the VIP, which its
// check probes and the witness reaches.
type service struct {
	h    *nstest.Host
	addr netip.AddrPort
	mu   sync.Mutex
	ln   net.Listener
	wg   sync.WaitGroup
}

func serve(t *testing.T, h *nstest.Host, addr netip.AddrPort) *service {
	t.Helper()
	s := &service{h: h, addr: addr}
	s.start(t)
	t.Cleanup(s.stop)
	return s
}

// start listens (again).
func (s *service) start(t *testing.T) {
	t.Helper()
	var ln net.Listener
	if err := s.h.Do(func() (err error) {
		ln, err = net.Listen("tcp", s.addr.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, s.h.Name)
			c.Close()
		}
	}()
}

// stop closes the listener: the box's backend fails.
func (s *service) stop() {
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// ask connects from w to the VIP and returns the name of the box that
// answered.
func ask(w *nstest.Host) (string, error) {
	var conn net.Conn
	if err := w.Do(func() (err error) {
		conn, err = net.DialTimeout("tcp", netip.AddrPortFrom(nsVIP.Addr(), nsPort).String(), time.Second)
		return err
	}); err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	b, err := io.ReadAll(conn)
	return string(b), err
}

// witness makes n connections from w to the VIP and returns who answered
// how often; an error fails t.
func witness(t *testing.T, w *nstest.Host, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		name, err := ask(w)
		if err != nil {
			t.Fatalf("witness: %v (answers so far %v)", err, seen)
		}
		seen[name]++
	}
	return seen
}

// runAnycast is the scenario both routers go through:
//  1. both boxes up: two paths, ECMP in the kernel, the witness served by
//     both; the same for the IPv6 VIP over the IPv6 sessions;
//  2. box 1's service fails: its paths are withdrawn, box 2's stay, the
//     witness is served by box 2 alone; the service returns: two paths;
//  3. box 1 stops gracefully (SIGTERM): its path carries GRACEFUL_SHUTDOWN
//     and MED 500 and leaves the FIB while still in the RIB, then is
//     withdrawn after the drain time; the witness is served by box 2;
//  4. box 1 again, then silenced (its link down): its path goes when the
//     hold time expires, not before 1.5 s (a keepalive interval short of
//     the 3 s hold time).
func runAnycast(t *testing.T, g *nsRig) {
	b1addr, b2addr := g.boxes[0].Addr4.Addr(), g.boxes[1].Addr4.Addr()
	b1addr6, b2addr6 := g.boxes[0].Addr6.Addr(), g.boxes[1].Addr6.Addr()
	b1 := g.startBox(t, 0)
	g.startBox(t, 1)

	// 1.
	g.waitPaths(t, "paths from both boxes", hopsAre(b1addr, b2addr))
	g.waitFIB(t, b1addr, b2addr)
	g.waitPathsFor(t, nsVIP6, "paths from both boxes", hopsAre(b1addr6, b2addr6))
	g.waitFIBFor(t, nsVIP6, b1addr6, b2addr6)
	if seen := witness(t, g.w, 32); seen[g.boxes[0].Name] == 0 || seen[g.boxes[1].Name] == 0 {
		t.Errorf("witness: answers %v, want both boxes (ECMP)", seen)
	}

	// 2.
	g.services[0].stop()
	g.waitPaths(t, "box 1's path withdrawn", hopsAre(b2addr))
	g.waitFIB(t, b2addr)
	g.waitPathsFor(t, nsVIP6, "box 1's path withdrawn", hopsAre(b2addr6))
	g.waitFIBFor(t, nsVIP6, b2addr6)
	if seen := witness(t, g.w, 16); seen[g.boxes[1].Name] != 16 {
		t.Errorf("witness after box 1's failure: answers %v, want box 2 only", seen)
	}
	var wd *bgp.Event
	for _, ev := range b1.events() {
		if ev.Kind == bgp.EventWithdraw {
			wd = &ev
		}
	}
	if wd == nil || wd.Cause.IsZero() || wd.Time.Before(wd.Cause) {
		t.Errorf("box 1's withdraw event %+v: want one with the check's time as its cause", wd)
	}
	g.services[0].start(t)
	g.waitPaths(t, "box 1's path back", hopsAre(b1addr, b2addr))
	g.waitFIB(t, b1addr, b2addr)
	g.waitPathsFor(t, nsVIP6, "box 1's path back", hopsAre(b1addr6, b2addr6))

	// 3.
	b1.d.Signal(syscall.SIGTERM)
	start := time.Now()
	g.waitPaths(t, "box 1's draining path", func(ps []upPath) bool {
		for _, p := range ps {
			if p.NextHop == b1addr && p.GraceShut && p.MED == 500 {
				return true
			}
		}
		return false
	})
	g.waitFIB(t, b2addr) // traffic leaves box 1 before its route does
	if ps := g.up.paths(t, nsVIP); time.Since(start) < nsDrain && !slices.Equal(nextHops(ps), []netip.Addr{b1addr, b2addr}) {
		t.Errorf("during the drain: paths %+v, want both", ps)
	}
	// New connections go to box 2. (A connection open across the FIB's
	// change is re-hashed to box 2, which resets it: ECMP keeps no
	// state, and draining does not change that.)
	if seen := witness(t, g.w, 8); seen[g.boxes[1].Name] != 8 {
		t.Errorf("witness during the drain: answers %v, want box 2 only", seen)
	}
	g.waitPaths(t, "box 1's path withdrawn after the drain", hopsAre(b2addr))
	if d := time.Since(start); d < nsDrain {
		t.Errorf("box 1's path withdrawn %v after SIGTERM, before the drain time %v", d, nsDrain)
	}
	if seen := witness(t, g.w, 8); seen[g.boxes[1].Name] != 8 {
		t.Errorf("witness after the drain: answers %v, want box 2 only", seen)
	}
	b1.d.Stop(syscall.SIGTERM)

	// 4.
	b1 = g.startBox(t, 0)
	g.waitPaths(t, "box 1's path after its restart", hopsAre(b1addr, b2addr))
	if err := g.boxes[0].SetLink(false); err != nil {
		t.Fatal(err)
	}
	silenced := time.Now()
	g.waitPaths(t, "box 1's path gone on hold time expiry", hopsAre(b2addr))
	if d := time.Since(silenced); d < nsHold/2 || d > nsHold+2*time.Second {
		t.Errorf("box 1's path gone %v after it went silent; the hold time is %v", d, nsHold)
	}
	g.waitFIB(t, b2addr)
	if seen := witness(t, g.w, 8); seen[g.boxes[1].Name] != 8 {
		t.Errorf("witness after box 1 died: answers %v, want box 2 only", seen)
	}
	b1.d.Stop(syscall.SIGKILL)
}
