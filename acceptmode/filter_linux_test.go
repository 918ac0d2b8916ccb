package acceptmode_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/acceptmode"
	"github.com/vigil-ha/vigil/internal/nstest"
)

// The VIPs the tests put on host 1.
var (
	vip4  = netip.MustParseAddr("192.0.2.100")
	vip6  = netip.MustParseAddr("2001:db8::100")
	vipLL = netip.MustParseAddr("fe80::100")
)

// port is the TCP port the master serves.
const port = 8080

// rig is two hosts on a segment: host 1 holds the VIPs and serves TCP,
// host 2 is the witness.
type rig struct {
	master, witn *nstest.Host
}

func newRig(t *testing.T) *rig {
	t.Helper()
	nstest.Root(t)
	nstest.NeedTools(t, "nft", "ping")
	seg := nstest.NewSegment(t, 2)
	r := &rig{master: seg.Hosts[0], witn: seg.Hosts[1]}
	m := r.master
	nstest.MustRun(t, "ip", "-n", m.Name, "addr", "add", vip4.String()+"/24", "dev", m.Link)
	nstest.MustRun(t, "ip", "-n", m.Name, "addr", "add", vip6.String()+"/64", "dev", m.Link, "nodad")
	nstest.MustRun(t, "ip", "-n", m.Name, "addr", "add", vipLL.String()+"/64", "dev", m.Link, "nodad")
	m.ServeTCP(t, port)
	return r
}

// reach reports whether the witness gets an echo reply and a TCP
// connection from addr.
func (r *rig) reach(t *testing.T, addr netip.Addr) (ping, tcp bool) {
	t.Helper()
	return r.witn.Reach(t, addr, port, 500*time.Millisecond)
}

// resolved reports whether the witness's neighbour entry for addr has
// the master's MAC.
func (r *rig) resolved(t *testing.T, addr netip.Addr) bool {
	t.Helper()
	mac, err := r.witn.NeighMAC(addr)
	if err != nil {
		t.Fatal(err)
	}
	return mac == r.master.MAC.String()
}

func (r *rig) flushNeigh(t *testing.T) {
	t.Helper()
	nstest.MustRun(t, "ip", "-n", r.witn.Name, "neigh", "flush", "dev", r.witn.Link)
}

// ruleset returns `nft list ruleset` in the master's namespace.
func (r *rig) ruleset(t *testing.T) string {
	t.Helper()
	return nstest.MustRun(t, "ip", "netns", "exec", r.master.Name, "nft", "list", "ruleset")
}

func TestFilterDropsVIPTrafficKeepsNeighbours(t *testing.T) {
	r := newRig(t)
	// A table of someone else's, which the Filter must leave alone.
	nstest.MustRun(t, "ip", "netns", "exec", r.master.Name, "nft", "add", "table", "inet", "other")
	f, err := acceptmode.New(acceptmode.Config{Netns: r.master.Path(), Counters: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.Contains(r.ruleset(t), "table inet vigil") {
		t.Fatal("New added a table before any Drop")
	}
	for _, a := range []netip.Addr{vip4, vip6, vipLL} {
		if ping, tcp := r.reach(t, a); !ping || !tcp {
			t.Fatalf("%v before Drop: ping %v, tcp %v; want both", a, ping, tcp)
		}
	}

	if err := f.Drop("VI_1", r.master.Link, []netip.Addr{vip4, vip6, vipLL}); err != nil {
		t.Fatal(err)
	}
	rs := r.ruleset(t)
	for _, want := range []string{"table inet vigil", "type filter hook input priority", "ip daddr @vips4 counter packets",
		"ip6 saddr @vips6 counter", "ip6 daddr . iifname @vipsll counter", "ip6 saddr . oifname @vipsll counter",
		"icmpv6 type nd-neighbor-advert counter", "type ipv6_addr . ifname", `elements = { fe80::100 . "eth0" }`,
		"elements = { 192.0.2.100 }", "elements = { 2001:db8::100 }", "table inet other"} {
		if !strings.Contains(rs, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, rs)
		}
	}
	r.flushNeigh(t)
	for _, a := range []netip.Addr{vip4, vip6, vipLL} {
		if ping, tcp := r.reach(t, a); ping || tcp {
			t.Errorf("%v dropped: ping %v, tcp %v; want neither", a, ping, tcp)
		}
		if !r.resolved(t, a) {
			t.Errorf("%v dropped: the witness's neighbour entry did not resolve to %v", a, r.master.MAC)
		}
	}
	// The host's own addresses are not the VIPs: they answer.
	if ping, tcp := r.reach(t, r.master.Addr4.Addr()); !ping || !tcp {
		t.Errorf("primary address: ping %v, tcp %v; want both", ping, tcp)
	}

	// One VIP leaves the set (as accept for it): it answers again, the
	// others stay dropped.
	if err := f.Drop("VI_1", r.master.Link, []netip.Addr{vip6, vipLL}); err != nil {
		t.Fatal(err)
	}
	if ping, tcp := r.reach(t, vip4); !ping || !tcp {
		t.Errorf("%v out of the set: ping %v, tcp %v; want both", vip4, ping, tcp)
	}
	if ping, _ := r.reach(t, vip6); ping {
		t.Errorf("%v still in the set answers ping", vip6)
	}

	// Accept: the set is empty, everything answers.
	if err := f.Drop("VI_1", r.master.Link, nil); err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{vip4, vip6, vipLL} {
		if ping, tcp := r.reach(t, a); !ping || !tcp {
			t.Errorf("%v accepted: ping %v, tcp %v; want both", a, ping, tcp)
		}
	}

	if err := f.Forget("VI_1"); err != nil {
		t.Fatal(err)
	}
	rs = r.ruleset(t)
	if strings.Contains(rs, "table inet vigil") || !strings.Contains(rs, "table inet other") {
		t.Errorf("after the last Forget:\n%s\nwant no vigil table, the other one kept", rs)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Drop("VI_1", "eth0", nil); !errors.Is(err, acceptmode.ErrClosed) {
		t.Errorf("Drop after Close = %v, want ErrClosed", err)
	}
}

func TestFilterInstancesAndCleanup(t *testing.T) {
	r := newRig(t)
	prio := int32(-5)
	cfg := acceptmode.Config{Netns: r.master.Path(), Table: "vt", Priority: &prio}
	crashed, err := acceptmode.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer crashed.Close()
	if err := crashed.Drop("VI_1", r.master.Link, []netip.Addr{vip4}); err != nil {
		t.Fatal(err)
	}
	// VI_2 and VI_3 share a VIP: it is dropped while either drops it.
	for _, name := range []string{"VI_2", "VI_3"} {
		if err := crashed.Drop(name, r.master.Link, []netip.Addr{vip6}); err != nil {
			t.Fatal(err)
		}
	}
	rs := r.ruleset(t)
	for _, want := range []string{"table inet vt", "priority filter - 5", "elements = { 192.0.2.100 }", "elements = { 2001:db8::100 }"} {
		if !strings.Contains(rs, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, rs)
		}
	}
	// Forgetting instances keeps the others' drops.
	for _, name := range []string{"VI_1", "VI_2"} {
		if err := crashed.Forget(name); err != nil {
			t.Fatal(err)
		}
	}
	if ping, _ := r.reach(t, vip4); !ping {
		t.Errorf("%v of a forgotten instance does not answer", vip4)
	}
	if ping, _ := r.reach(t, vip6); ping {
		t.Errorf("%v of the remaining instance (VI_3) answers", vip6)
	}
	if rs := r.ruleset(t); strings.Contains(rs, "192.0.2.100") {
		t.Errorf("forgotten instance's address left:\n%s", rs)
	}

	// A second Filter on the same table (a restart after a crash: the
	// first never closed) starts from nothing.
	next, err := acceptmode.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rs := r.ruleset(t); strings.Contains(rs, "table inet vt") {
		t.Errorf("leftover table after New:\n%s", rs)
	}
	if ping, _ := r.reach(t, vip6); !ping {
		t.Errorf("%v still dropped after the leftover table was cleaned", vip6)
	}
	if err := next.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFilterRebuildsWhenTableRemoved(t *testing.T) {
	r := newRig(t)
	f, err := acceptmode.New(acceptmode.Config{Netns: r.master.Path()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Drop("VI_1", r.master.Link, []netip.Addr{vip4}); err != nil {
		t.Fatal(err)
	}
	nstest.MustRun(t, "ip", "netns", "exec", r.master.Name, "nft", "flush", "ruleset")
	if err := f.Drop("VI_1", r.master.Link, []netip.Addr{vip4, vip6}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{vip4, vip6} {
		if ping, _ := r.reach(t, a); ping {
			t.Errorf("%v answers after the table was put back", a)
		}
	}
}

func TestFilterInvalid(t *testing.T) {
	nstest.Root(t)
	f, err := acceptmode.New(acceptmode.Config{Table: "vigil-invalid-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range []struct{ name, iface string }{{"", "eth0"}, {"VI_1", ""}, {"VI_1", "a-name-too-long-for-linux"}} {
		if err := f.Drop(c.name, c.iface, nil); !errors.Is(err, acceptmode.ErrInvalid) {
			t.Errorf("Drop(%q, %q) = %v, want ErrInvalid", c.name, c.iface, err)
		}
	}
	if _, err := acceptmode.New(acceptmode.Config{Netns: "/nonexistent"}); err == nil {
		t.Error("New in a missing namespace succeeded")
	}
}

// BenchmarkDrop: one instance's transition (two VIPs into the sets or
// out of them) with 200 other instances' VIPs in the table, as root in
// a namespace: what no_accept adds to a takeover.
func BenchmarkDrop(b *testing.B) {
	h := nstest.NewSegment(b, 1).Hosts[0]
	f, err := acceptmode.New(acceptmode.Config{Netns: h.Path()})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for i := range 200 {
		a := []netip.Addr{netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: 1, 15: byte(i)})}
		if err := f.Drop(fmt.Sprintf("VI_%d", i), h.Link, a); err != nil {
			b.Fatal(err)
		}
	}
	vips := []netip.Addr{vip4, vip6}
	for i := 0; b.Loop(); i++ {
		a := vips
		if i%2 == 1 {
			a = nil
		}
		if err := f.Drop("VI_X", h.Link, a); err != nil {
			b.Fatal(err)
		}
	}
}
