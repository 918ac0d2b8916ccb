//go:build linux

package netlink

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
	vnl "github.com/vishvananda/netlink"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// holdLeader makes q's next leader wait, before it takes its batch, until
// n requests wait (or 10 s have passed: the test then fails on the
// batches it counts).
func holdLeader(q *AddrQueue, n int) {
	held := false
	q.beforeSend = func() {
		if held {
			return
		}
		held = true
		limit := time.Now().Add(10 * time.Second)
		for time.Now().Before(limit) {
			q.mu.Lock()
			k := len(q.waiting)
			q.mu.Unlock()
			if k >= n {
				return
			}
			runtime.Gosched()
		}
	}
}

// queueAndHandle opens an AddrQueue and a route netlink handle in h's
// namespace, closed when the test ends.
func queueAndHandle(t *testing.T, h *nstest.Host) (*AddrQueue, *vnl.Handle) {
	t.Helper()
	path := "/run/netns/" + h.Name
	q, err := NewAddrQueue(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	hd, err := openHandle(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hd.Close)
	return q, hd
}

// Requests that meet a busy queue go in one sendmsg, and each gets its
// own answer: the adds succeed, the duplicate gets EEXIST, the one for an
// interface that does not exist ENODEV, whatever their place in the
// batch.
func TestAddrQueueBatches(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	q, hd := queueAndHandle(t, h)
	link, err := linkByName(hd, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	idx := link.Attrs().Index
	nstest.MustRun(t, "ip", "-n", h.Name, "addr", "add", "198.18.1.7/15", "dev", "eth0")

	const n = 40
	type want struct {
		msg []byte
		err error
		add netip.Prefix // present afterwards
	}
	var reqs []want
	for i := range n {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)}), 15)
		w := want{add: p}
		switch i {
		case 7: // already there
			p = netip.MustParsePrefix("198.18.1.7/15")
			w = want{err: unix.EEXIST}
		case 23: // no such interface
			w = want{err: unix.ENODEV}
		}
		ix := idx
		if w.err == unix.ENODEV {
			ix = 1 << 20
		}
		w.msg = addrMessage(true, ix, &vnl.Addr{IPNet: ipNet(p), Broadcast: net.IPv4zero})
		reqs = append(reqs, w)
	}
	holdLeader(q, n)
	got := make([]error, n)
	var wg sync.WaitGroup
	// The first request leads; held, it finds the others queued behind
	// it and sends all of them.
	wg.Go(func() { got[0] = q.do(reqs[0].msg) })
	for !q.sending() {
		runtime.Gosched()
	}
	for i := 1; i < n; i++ {
		wg.Go(func() { got[i] = q.do(reqs[i].msg) })
	}
	wg.Wait()
	if q.batches != 1 {
		t.Errorf("%d requests took %d sendmsg calls, want 1", n, q.batches)
	}
	for i, w := range reqs {
		if !errors.Is(got[i], w.err) || (w.err == nil) != (got[i] == nil) {
			t.Errorf("request %d: %v, want %v", i, got[i], w.err)
		}
	}
	addrs, err := hd.AddrList(link, unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	var have []netip.Prefix
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP.To4())
		ones, _ := a.Mask.Size()
		have = append(have, netip.PrefixFrom(ip, ones))
	}
	for i, w := range reqs {
		if w.add.IsValid() && !slices.Contains(have, w.add) {
			t.Errorf("request %d: %v not on eth0: %v", i, w.add, have)
		}
	}
}

// sending reports whether a leader is sending.
func (q *AddrQueue) sending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.busy
}

// The queue's messages are the library's: an address added through it
// and the same address added by vishvananda/netlink's AddrAdd read back
// the same from the kernel, for every option AddrManager sets.
func TestAddrMessageAsLibrary(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	nstest.MustRun(t, "ip", "-n", h.Name, "link", "add", "lib0", "type", "veth", "peer", "name", "que0")
	for _, d := range []string{"lib0", "que0"} {
		nstest.MustRun(t, "ip", "-n", h.Name, "link", "set", d, "up")
	}
	q, hd := queueAndHandle(t, h)
	lib, err := linkByName(hd, "lib0")
	if err != nil {
		t.Fatal(err)
	}
	que, err := linkByName(hd, "que0")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		p    netip.Prefix
		cfg  AddrConfig
		o    AddrOptions
	}{
		{name: "ipv4", p: netip.MustParsePrefix("192.0.2.10/24")},
		{name: "ipv4 label", p: netip.MustParsePrefix("192.0.2.11/24"), cfg: AddrConfig{Label: "%s:v"}},
		{name: "ipv4 /32", p: netip.MustParsePrefix("192.0.2.12/32")},
		{name: "ipv4 broadcast scope", p: netip.MustParsePrefix("198.51.100.1/24"),
			o: AddrOptions{Broadcast: netip.MustParseAddr("198.51.100.255"), Scope: ScopeLink}},
		{name: "ipv4 noprefixroute", p: netip.MustParsePrefix("203.0.113.5/24"), o: AddrOptions{NoPrefixRoute: true}},
		{name: "ipv6", p: netip.MustParsePrefix("2001:db8::10/64")},
		{name: "ipv6 link-local", p: netip.MustParsePrefix("fe80::10/64")},
		{name: "ipv6 lifetime", p: netip.MustParsePrefix("2001:db8::11/64"), o: AddrOptions{PreferredLifetime: -1}},
		{name: "ipv6 preferred", p: netip.MustParsePrefix("2001:db8::12/64"), o: AddrOptions{PreferredLifetime: 90 * time.Second, NoPrefixRoute: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			build := func(link vnl.Link) *vnl.Addr {
				cfg := c.cfg
				if cfg.Label != "" {
					cfg.Label = fmt.Sprintf(cfg.Label, link.Attrs().Name)
				}
				cfg.Options = map[netip.Prefix]AddrOptions{c.p: c.o}
				m := &AddrManager{cfg: cfg, iface: link.Attrs().Name}
				a, err := m.vnlAddr(c.p, true)
				if err != nil {
					t.Fatal(err)
				}
				return a
			}
			if err := hd.AddrAdd(lib, build(lib)); err != nil {
				t.Fatal(err)
			}
			if err := q.do(addrMessage(true, que.Attrs().Index, build(que))); err != nil {
				t.Fatal(err)
			}
			read := func(link vnl.Link) vnl.Addr {
				t.Helper()
				addrs, err := hd.AddrList(link, unix.AF_UNSPEC)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range addrs {
					if a.IP.Equal(c.p.Addr().AsSlice()) {
						a.LinkIndex = 0
						a.Label = trimPrefix(a.Label, link.Attrs().Name)
						a.ValidLft, a.PreferedLft = a.ValidLft/60, a.PreferedLft/60 // ticking
						return a
					}
				}
				t.Fatalf("%v not on %s", c.p, link.Attrs().Name)
				return vnl.Addr{}
			}
			l, g := read(lib), read(que)
			if l.String() != g.String() || l.Flags != g.Flags || l.Scope != g.Scope || !l.Broadcast.Equal(g.Broadcast) ||
				l.Label != g.Label || l.ValidLft != g.ValidLft || l.PreferedLft != g.PreferedLft {
				t.Errorf("library %v %x %d %v %q %d %d\nqueue   %v %x %d %v %q %d %d", l, l.Flags, l.Scope, l.Broadcast, l.Label, l.ValidLft, l.PreferedLft, g, g.Flags, g.Scope, g.Broadcast, g.Label, g.ValidLft, g.PreferedLft)
			}
			// And removed the same way.
			if err := hd.AddrDel(lib, build(lib)); err != nil {
				t.Fatal(err)
			}
			if err := q.do(addrMessage(false, que.Attrs().Index, build(que))); err != nil {
				t.Fatal(err)
			}
			if err := q.do(addrMessage(false, que.Attrs().Index, build(que))); !errors.Is(err, unix.EADDRNOTAVAIL) {
				t.Errorf("removing it twice: %v, want EADDRNOTAVAIL", err)
			}
		})
	}
}

func trimPrefix(s, p string) string {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// A manager given a queue of another namespace is refused; managers
// sharing one queue add and remove through it, and closing them leaves
// it open for the others.
func TestAddrQueueShared(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	seg := nstest.NewSegment(t, 2)
	p0, p1 := "/run/netns/"+seg.Hosts[0].Name, "/run/netns/"+seg.Hosts[1].Name
	q, err := NewAddrQueue(p0)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if m, err := NewAddrManager(AddrConfig{Interface: "eth0", Netns: p1, Queue: q}); !errors.Is(err, ErrInvalid) {
		if m != nil {
			m.Close()
		}
		t.Fatalf("a queue of another namespace: %v, want ErrInvalid", err)
	}
	var ms []*AddrManager
	for range 3 {
		m, err := NewAddrManager(AddrConfig{Interface: "eth0", Netns: p0, Queue: q})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	ctx := t.Context()
	for i, m := range ms {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)}), 24)
		if err := m.AddVIPs(ctx, []netip.Prefix{p}, true); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			m.Close()
		}
	}
	out := nstest.MustRun(t, "ip", "-n", seg.Hosts[0].Name, "-o", "addr", "show", "dev", "eth0")
	for i := range 3 {
		if a := fmt.Sprintf("203.0.113.%d/24", 10+i); !strings.Contains(out, a) {
			t.Errorf("%s missing:\n%s", a, out)
		}
	}
	if err := ms[2].RemoveVIPs(ctx, []netip.Prefix{netip.MustParsePrefix("203.0.113.12/24")}); err != nil {
		t.Fatalf("removing through the queue after two other managers closed: %v", err)
	}
	ms[2].Close()
	q.Close()
	if err := q.do(addrMessage(false, 1, &vnl.Addr{IPNet: ipNet(netip.MustParsePrefix("203.0.113.10/24"))})); !errors.Is(err, ErrClosed) {
		t.Errorf("a request after Close: %v, want ErrClosed", err)
	}
}

// TestAddrQueueIfIndex: the queue finds an interface's index in its own
// namespace (not the test's), says ErrNoInterface for one that is not
// there and ErrClosed after Close, and allocates only its request.
func TestAddrQueueIfIndex(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	seg := nstest.NewSegment(t, 1)
	name := seg.Hosts[0].Name
	q, err := NewAddrQueue("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	// The namespace's own view: eth0 and lo, whatever the test's has.
	for _, dev := range []string{"eth0", "lo"} {
		out := nstest.MustRun(t, "ip", "-n", name, "-o", "link", "show", "dev", dev)
		want, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(out, ":", 2)[0]))
		if err != nil {
			t.Fatalf("ip link show %s: %q", dev, out)
		}
		if got, err := q.ifIndex(dev); err != nil || got != want {
			t.Errorf("ifIndex(%s) = %d, %v; want %d", dev, got, err, want)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { q.ifIndex("eth0") }); allocs > 1 {
		t.Errorf("%v allocations per lookup, want at most 1", allocs)
	}
	if _, err := q.ifIndex("vigil-none0"); !errors.Is(err, ErrNoInterface) {
		t.Errorf("a missing interface: %v, want ErrNoInterface", err)
	}
	q.Close()
	if _, err := q.ifIndex("eth0"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
