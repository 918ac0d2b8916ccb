//go:build linux

package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
	"github.com/vigil-ha/vigil/vrrp"
	"golang.org/x/sys/unix"
)

// floorSrc is a source address per interface, as a node's would be.
func floorSrc(j int) netip.Addr { return netip.AddrFrom4([4]byte{198, 19, byte(j), 1}) }

// wantInstance is one instance as vrrpd runs it.
type wantInstance struct {
	iface              int
	vrid, prio         uint8
	interval           time.Duration
	vip                netip.Addr
	version, ifaceName string
}

// vrrpdInstances reads vrrpdArgs as vrrpd does (examples/vrrpd: -count
// routers per interface, VRIDs vrid.., the VIP shifted by one address
// per router over all interfaces).
func vrrpdInstances(t *testing.T, args []string) []wantInstance {
	t.Helper()
	fs := flag.NewFlagSet("vrrpd", flag.ContinueOnError)
	ifaces := fs.String("interface", "", "")
	vrid := fs.Int("vrid", 0, "")
	count := fs.Int("count", 0, "")
	prio := fs.Int("priority", 0, "")
	version := fs.String("version", "", "")
	advert := fs.Duration("advert", 0, "")
	vipS := fs.String("vip", "", "")
	fs.String("state", "", "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	first := netip.MustParsePrefix(*vipS).Addr()
	var out []wantInstance
	for j, name := range strings.Split(*ifaces, ",") {
		for i := range *count {
			a := first
			for range j**count + i {
				a = a.Next()
			}
			out = append(out, wantInstance{iface: j, ifaceName: name, vrid: uint8(*vrid + i), prio: uint8(*prio),
				interval: *advert, vip: a, version: *version})
		}
	}
	return out
}

// The floor's adverts are vrrpd's: parsed with vigil's codec (checksum
// over the pseudo-header of the source and 224.0.0.18), each carries the
// VRID, priority, interval and VIP of the instance vrrpdArgs describes,
// and goes out on its interface.
func TestFloorAdvertsAreVrrpds(t *testing.T) {
	for _, n := range []int{1, 200, 1000} {
		l, err := layoutFor(n)
		if err != nil {
			t.Fatal(err)
		}
		want := vrrpdInstances(t, vrrpdArgs(l, 100*time.Millisecond, "MASTER", masterPriority))
		got, err := floorAdverts(l, 100*time.Millisecond, masterPriority, floorSrc)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d instances: %d adverts, vrrpd runs %d", n, len(got), len(want))
		}
		for g, w := range want {
			if w.version != "3" || iface(got[g].iface) != w.ifaceName {
				t.Fatalf("%d instances, instance %d: on %s (vrrpd: version %s on %s)", n, g+1, iface(got[g].iface), w.version, w.ifaceName)
			}
			a, err := vrrp.Parse(got[g].b, floorSrc(w.iface), vrrp.GroupV4)
			if err != nil {
				t.Fatalf("%d instances, instance %d: %v", n, g+1, err)
			}
			if a.Version != vrrp.V3 || a.VRID != w.vrid || a.Priority != w.prio || a.Interval != w.interval ||
				!slices.Equal(a.Addrs, []netip.Addr{w.vip}) {
				t.Fatalf("%d instances, instance %d: %+v, want %+v", n, g+1, a, w)
			}
		}
	}
}

// Every instance is due once per interval. With one wake-up per
// instance, instance g is due at g*interval/n into it and a loop that
// sleeps until the next advert and sends what is due then sends one at a
// time; with fewer, the instances are split evenly among the wake-ups,
// in order, and each wake-up sends its share. A late wake-up catches up
// at once.
func TestPlan(t *testing.T) {
	const interval = 100 * time.Millisecond
	for _, tc := range []struct{ n, wakes int }{
		{1, 1}, {3, 3}, {7, 7}, {200, 200}, {1000, 1000}, // the even spread
		{200, 1}, {1000, 1}, {200, 10}, {1000, 10}, {7, 3}, {250, 249},
	} {
		n, p := tc.n, plan{n: tc.n, interval: interval, wakes: tc.wakes}
		name := fmt.Sprintf("n %d, %d wake-ups", n, tc.wakes)
		for k := range 3 * n {
			r, g := k/n, k%n
			slot := g * tc.wakes / n
			if want := time.Duration(r)*interval + time.Duration(slot)*interval/time.Duration(tc.wakes); p.at(k) != want {
				t.Fatalf("%s: advert %d (instance %d, round %d) at %v, want %v", name, k, g, r, p.at(k), want)
			}
			if tc.wakes == n {
				if want := time.Duration(r)*interval + time.Duration(g)*interval/time.Duration(n); p.at(k) != want {
					t.Fatalf("%s: advert %d (instance %d, round %d) at %v, want %v", name, k, g, r, p.at(k), want)
				}
			}
		}
		// The loop: wake at the next advert's time, send what is due.
		sent := make([][]int, 3) // per round: the instances sent
		wakes := make([]int, 3)  // per round: the wake-ups
		for next := 0; next < 3*n; {
			at := p.at(next)
			end := p.due(next, at)
			if end <= next || (tc.wakes == n && end != next+1) {
				t.Fatalf("%s: at advert %d's time, adverts %d..%d due", name, next, next, end-1)
			}
			r := next / n
			if at < time.Duration(r)*interval || at >= time.Duration(r+1)*interval {
				t.Fatalf("%s: advert %d at %v, outside its round %d", name, next, at, r)
			}
			for k := next; k < end; k++ {
				if k/n != r {
					t.Fatalf("%s: one wake-up sends adverts of rounds %d and %d", name, r, k/n)
				}
				sent[r] = append(sent[r], k%n)
			}
			wakes[r]++
			next = end
		}
		for r, gs := range sent {
			if len(gs) != n || wakes[r] != tc.wakes {
				t.Fatalf("%s: round %d sent %d adverts in %d wake-ups", name, r, len(gs), wakes[r])
			}
			for i, g := range gs {
				if g != i {
					t.Fatalf("%s: round %d sent instance %d at %d", name, r, g, i)
				}
			}
		}
		// Nothing due before the next wake-up; all of a late one at once.
		if end := p.due(n, interval-1); end != n {
			t.Errorf("%s: due(n, just before the second round) = %d, want %d", name, end, n)
		}
		late := p.due(0, interval)
		for k := range late {
			if p.at(k) > interval {
				t.Fatalf("%s: a wake-up one interval late sends advert %d due at %v", name, k, p.at(k))
			}
		}
		if p.at(late) <= interval || late < n+1 {
			t.Errorf("%s: a wake-up one interval late sends up to advert %d", name, late)
		}
	}
}

func TestFloorFlags(t *testing.T) {
	l, _ := layoutFor(1000)
	in := floorFlags{l: l, interval: 50 * time.Millisecond, prio: 150, wakes: 10}
	args := floorArgs(floorSendCmd, in)
	if args[0] != floorSendCmd {
		t.Fatalf("args %q", args)
	}
	got, err := parseFloorFlags(args[0], args[1:], io.Discard)
	if err != nil || got != in {
		t.Fatalf("parseFloorFlags(%q) = %+v, %v; want %+v", args, got, err, in)
	}
	for _, bad := range [][]string{{"-instances", "301"}, {"-instances", "0"}, {"-instances", "10", "-priority", "255"}, {"-instances", "10", "x"},
		{"-instances", "10", "-wakes", "0"}, {"-instances", "10", "-wakes", "11"}} {
		if _, err := parseFloorFlags(floorRecvCmd, bad, io.Discard); err == nil {
			t.Errorf("parseFloorFlags(%q): no error", bad)
		}
	}
	if _, ok := floorMain([]string{"-quick"}, io.Discard, io.Discard); ok {
		t.Error("floorMain took the bench's own flags")
	}
	if code, ok := floorMain([]string{floorRecvCmd, "-instances", "0"}, io.Discard, io.Discard); !ok || code != 2 {
		t.Errorf("floorMain(bad flags) = %d, %v; want 2, true", code, ok)
	}
}

// sendLoop sends each instance's advert on its interface's socket, in
// order, and is ready after the first round. Each interface's socket
// is one end of a socketpair here.
func TestSendLoop(t *testing.T) {
	l := layout{n: 6, ifaces: 2, per: 3}
	adverts, err := floorAdverts(l, 100*time.Millisecond, masterPriority, floorSrc)
	if err != nil {
		t.Fatal(err)
	}
	var socks []*floorSender
	var peers []int
	for range l.ifaces {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
		if err := unix.SetNonblock(fds[1], true); err != nil {
			t.Fatal(err)
		}
		socks = append(socks, &floorSender{fd: fds[0]})
		peers = append(peers, fds[1])
	}
	ready, errc := make(chan struct{}), make(chan error, 1)
	var stop atomic.Bool
	go func() { errc <- sendLoop(socks, adverts, plan{l.n, 100 * time.Millisecond, 2}, ready, &stop) }()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready after 10 s (the first round takes 100 ms)")
	}
	stop.Store(true)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	for j, fd := range peers {
		var got int
		for ; ; got++ {
			n, err := unix.Read(fd, buf)
			if errors.Is(err, unix.EAGAIN) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			want := adverts[j*l.per+got%l.per].b
			if !bytes.Equal(buf[:n], want) {
				t.Fatalf("%s, message %d: % x, want instance %d's % x", iface(j), got, buf[:n], j*l.per+got%l.per+1, want)
			}
		}
		if got < l.per || uint64(got) != socks[j].n.ok.Load() || socks[j].n.failed.Load() != 0 {
			t.Errorf("%s: %d adverts read, %s counted sent; want at least %d", iface(j), got, &socks[j].n, l.per)
		}
	}
}

// ipv4Packet is b as an IPv4 raw socket receives it: a 20-byte header
// (TTL ttl, protocol 112, from src to 224.0.0.18), then b.
func ipv4Packet(b []byte, src netip.Addr, ttl uint8) []byte {
	h := make([]byte, 20)
	h[0], h[8], h[9] = 0x45, ttl, vrrp.Protocol
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(b)))
	s, d := src.As4(), vrrp.GroupV4.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	return append(h, b...)
}

// cmsg is one control message as recvmsg(2) lays it out.
func cmsg(level, typ int32, n int) []byte {
	b := make([]byte, unix.CmsgSpace(n))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(n))
	return b
}

func TestCheckFirst(t *testing.T) {
	l, _ := layoutFor(200)
	adverts, err := floorAdverts(l, 100*time.Millisecond, masterPriority, floorSrc)
	if err != nil {
		t.Fatal(err)
	}
	b := adverts[7].b
	oob := slices.Concat(cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, 16), cmsg(unix.IPPROTO_IP, unix.IP_TTL, 4),
		cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo))
	if err := checkFirst(ipv4Packet(b, floorSrc(0), 255), oob, 0); err != nil {
		t.Errorf("a valid advert: %v", err)
	}
	for name, tc := range map[string]struct {
		p     []byte
		oob   []byte
		flags int32
	}{
		"another source (checksum)": {ipv4Packet(b, floorSrc(1), 255), oob, 0},
		"TTL 254":                   {ipv4Packet(b, floorSrc(0), 254), oob, 0},
		"no IP header":              {b, oob, 0},
		"control data truncated":    {ipv4Packet(b, floorSrc(0), 255), oob, unix.MSG_CTRUNC},
		"no receive time":           {ipv4Packet(b, floorSrc(0), 255), oob[unix.CmsgSpace(16):], 0},
	} {
		if err := checkFirst(tc.p, tc.oob, tc.flags); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// A floor process's instances are in its node's state once it is
// ready, and in no other: measure's checks read them as a daemon's.
func TestFloorNodeStates(t *testing.T) {
	for _, state := range []string{"MASTER", "BACKUP"} {
		f := &floorNode{FloorProc: &benchkit.FloorProc{Out: &benchkit.Log{}}, state: state, n: 200}
		fmt.Fprintln(f.Out, "floor-recv: starting")
		if got := f.States(state); got != 0 {
			t.Errorf("%s before ready: %d", state, got)
		}
		fmt.Fprintln(f.Out, "ready: floor-...: joined")
		if got := f.States(state); got != 200 {
			t.Errorf("%s once ready: %d, want 200", state, got)
		}
		for _, other := range []string{"MASTER", "BACKUP", "FAULT"} {
			if other != state && f.States(other) != 0 {
				t.Errorf("%s node: %d x %s", state, f.States(other), other)
			}
		}
		if state == "BACKUP" && backups(f) != 200 {
			t.Errorf("backups = %d, want 200", backups(f))
		}
		if _, err := f.Crash(); err == nil {
			t.Error("Crash: no error")
		}
		if _, err := f.Leave(); err == nil {
			t.Error("Leave: no error")
		}
	}
}

// fakeSample is a run with adverts adverts whose master and backup used
// the given CPU in µs per advert (whole clock ticks in total).
func fakeSample(impl string, master, backup float64) sample {
	const adverts = 1000
	node := func(us float64) node {
		d := time.Duration(us * adverts * float64(time.Microsecond))
		return node{ticks: int64(d / benchkit.ClockTick), sched: d}
	}
	return sample{impl: impl, window: 10 * time.Second, adverts: adverts, expected: adverts, hasBackup: true,
		master: node(master), backup: node(backup)}
}

func TestPrintFloor(t *testing.T) {
	res := map[string][]sample{
		"keepalived": {fakeSample("keepalived", 40, 30)},
		"vigil":      {fakeSample("vigil", 50, 20)},
		"floor":      {fakeSample("floor", 30, 10)},
	}
	var b strings.Builder
	c := &config{sizes: []layout{{200, 1, 200}}, impls: allImpls, interval: 100 * time.Millisecond, wakes: 1000}
	printTables(&b, "env", c, []map[string][]sample{res}, []map[string]int{{}})
	out := b.String()
	for _, want := range []string{
		"floor (1 runs)",
		"sent in 200 wake-up(s) per interval",
		"keepalived / floor  vigil / floor",
		"master: CPU/advert sent µs (stat)           1.33 / 1.33 / 1.33  1.67 / 1.67 / 1.67",
		"backup: CPU/advert received µs (schedstat)  3.00 / 3.00 / 3.00  2.00 / 2.00 / 2.00",
		"master: CPU/advert sent µs (stat):           target 20.00 µs (0.5 x keepalived's 40.00),  floor 30.00 µs:  the target is BELOW the floor by 10.00 µs: unreachable",
		"backup: CPU/advert received µs (stat):       target 15.00 µs (0.5 x keepalived's 30.00),  floor 10.00 µs:  the target is 5.00 µs above the floor",
		// vigil / keepalived as before.
		"1.25 / 1.25 / 1.25  ≤ 0.5   NO",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if i := strings.Index(out, "CPU next to the floor"); i < 0 || strings.Contains(out[i:], "RSS") || strings.Contains(out[i:], "threads") {
		t.Errorf("no table next to the floor, or more than CPU in it:\n%s", out)
	}
	// Without keepalived: the ratios to the floor, no targets.
	delete(res, "keepalived")
	b.Reset()
	printFloor(&b, res, 1)
	if out := b.String(); !strings.Contains(out, "vigil / floor") || strings.Contains(out, "keepalived / floor") || !strings.Contains(out, "no target in µs") {
		t.Errorf("without keepalived:\n%s", out)
	}
}

// A run that failed for one implementation leaves no ratio for that run
// and does not shift the later pairs: keepalived's runs 1, 2, 3 against
// vigil's 1 and 3 give run 1's and run 3's ratios.
func TestRatiosPairByRun(t *testing.T) {
	withRun := func(s sample, run int) sample { s.run = run; return s }
	ka := []sample{withRun(fakeSample("keepalived", 40, 0), 1), withRun(fakeSample("keepalived", 80, 0), 2),
		withRun(fakeSample("keepalived", 20, 0), 3)}
	vg := []sample{withRun(fakeSample("vigil", 20, 0), 1), withRun(fakeSample("vigil", 10, 0), 3)}
	m := metrics[slices.IndexFunc(metrics, func(m metric) bool { return m.name == "master: CPU/advert sent µs (schedstat)" })]
	got := ratios(vg, ka, m)
	if want := []float64{0.5, 0.5}; !slices.Equal(got, want) {
		t.Errorf("ratios = %v, want %v (runs 1 and 3 paired with their own)", got, want)
	}
}
