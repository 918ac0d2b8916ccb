package ipvs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TestKernelSyncFailover: an established TCP connection survives a
// director failover when the connection was synchronised, and breaks when
// it was not.
//
// Five network namespaces, each with its own IPVS: a bridge in one joins
// a client, two directors A and B and a real server on one L2 segment
// (198.18.10.0/24). Both directors have the same service, the VIP
// 198.18.10.100:80 with the real server behind it in direct routing
// (Forward: Route): a director rewrites only the frame's destination MAC,
// and the real server, which has the VIP on lo with arp_ignore=1 and
// arp_announce=2, answers the client itself. A runs the master sync
// daemon; the VIP is on A's segment interface, so the client's ARP for it
// resolves to A. The client opens a connection and exchanges lines with
// the real server's echo server through A. Then the failover: A's link
// goes down (it dies), the VIP goes onto B's interface, and the client's
// neighbour entry for the VIP is set to B's MAC with netlink. The entry
// is what B's gratuitous ARP would leave; it is set directly because a
// gratuitous ARP's effect depends on the client's arp_accept and on the
// neighbour locktime, while this test measures the IPVS connection
// table, not the ARP takeover (the vrrp package tests that).
//
//   - synced: B runs the backup sync daemon. The connection's entry
//     reaches B's table (ipvsadm -Lnc, ESTABLISHED) before the failover;
//     after it, the same connection keeps exchanging lines, B's service
//     counts the packets it forwarded, and its entry is still there.
//   - unsynced, the control: B runs no sync daemon, so it has no entry.
//     IPVS schedules only a TCP SYN for a connection it does not know, so
//     the client's next data segment goes to B's own stack, which has no
//     socket for it and resets the connection: the client reads
//     ECONNRESET and B's service counted nothing. This is what shows the
//     synced case measures the synchronisation.
func TestKernelSyncFailover(t *testing.T) {
	requireIPVS(t)
	needTool(t, "ipvsadm", "ipvsadm")
	needModule(t, "veth")
	needModule(t, "bridge")
	t.Run("synced", func(t *testing.T) { testSyncFailover(t, true) })
	t.Run("unsynced", func(t *testing.T) { testSyncFailover(t, false) })
}

// failoverLab is the segment of TestKernelSyncFailover.
type failoverLab struct {
	client, dirA, dirB, rs netns.NsHandle
	pathA, pathB           string // for Open
	macB                   net.HardwareAddr
}

var (
	labVIP    = netip.MustParseAddrPort("198.18.10.100:80")
	labClient = netip.MustParsePrefix("198.18.10.1/24")
	labDirA   = netip.MustParsePrefix("198.18.10.2/24")
	labDirB   = netip.MustParsePrefix("198.18.10.3/24")
	labRS     = netip.MustParsePrefix("198.18.10.4/24")
)

// newFailoverLab builds the segment: a bridge in a namespace of its own,
// and for each host a namespace with eth0, a veth whose peer is a port of
// the bridge. Closing the namespaces at the end of t deletes every link.
func newFailoverLab(t *testing.T) *failoverLab {
	t.Helper()
	sw, _ := newNetns(t)
	hsw := nsHandle(t, sw)
	br := &vnl.Bridge{LinkAttrs: vnl.LinkAttrs{Name: "br0"}}
	if err := hsw.LinkAdd(br); err != nil {
		t.Fatalf("add bridge: %v", err)
	}
	if err := hsw.LinkSetUp(br); err != nil {
		t.Fatal(err)
	}
	l := &failoverLab{}
	l.client, _ = newNetns(t)
	l.dirA, l.pathA = newNetns(t)
	l.dirB, l.pathB = newNetns(t)
	l.rs, _ = newNetns(t)
	for _, h := range []struct {
		port string
		ns   netns.NsHandle
		addr netip.Prefix
	}{{"p-client", l.client, labClient}, {"p-dira", l.dirA, labDirA}, {"p-dirb", l.dirB, labDirB}, {"p-rs", l.rs, labRS}} {
		v := &vnl.Veth{LinkAttrs: vnl.LinkAttrs{Name: h.port, MasterIndex: br.Index}, PeerName: "eth0", PeerNamespace: vnl.NsFd(h.ns)}
		if err := hsw.LinkAdd(v); err != nil {
			t.Fatalf("add veth %s: %v", h.port, err)
		}
		if err := hsw.LinkSetUp(v); err != nil {
			t.Fatal(err)
		}
		hh := nsHandle(t, h.ns)
		eth := nsLink(t, hh, "eth0")
		lo := nsLink(t, hh, "lo")
		for _, ln := range []vnl.Link{eth, lo} {
			if err := hh.LinkSetUp(ln); err != nil {
				t.Fatal(err)
			}
		}
		addAddr(t, hh, eth, h.addr)
		if h.ns == l.dirB {
			l.macB = eth.Attrs().HardwareAddr
		}
	}
	vip := netip.PrefixFrom(labVIP.Addr(), 32)
	hrs := nsHandle(t, l.rs)
	addAddr(t, hrs, nsLink(t, hrs, "lo"), vip)
	// The real server must not answer ARP for the VIP, nor use it as the
	// source of its own ARP requests.
	if err := nstest.DoIn(l.rs, func() error {
		for _, s := range []string{"all/arp_ignore=1", "all/arp_announce=2", "eth0/arp_ignore=1", "eth0/arp_announce=2"} {
			k, v, _ := strings.Cut(s, "=")
			if err := os.WriteFile(filepath.Join("/proc/sys/net/ipv4/conf", k), []byte(v), 0o644); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("real server's sysctls: %v", err)
	}
	ha := nsHandle(t, l.dirA)
	addAddr(t, ha, nsLink(t, ha, "eth0"), vip)
	return l
}

// nsHandle is a netlink handle in ns, closed at the end of t.
func nsHandle(t *testing.T, ns netns.NsHandle) *vnl.Handle {
	t.Helper()
	h, err := vnl.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("netlink handle: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

func nsLink(t *testing.T, h *vnl.Handle, name string) vnl.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("link %s: %v", name, err)
	}
	return l
}

func addAddr(t *testing.T, h *vnl.Handle, l vnl.Link, p netip.Prefix) {
	t.Helper()
	a := &vnl.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
	if err := h.AddrAdd(l, a); err != nil {
		t.Fatalf("%s: add %v: %v", l.Attrs().Name, p, err)
	}
}

// serveEcho runs a line echo server on addr in ns until the end of t.
func serveEcho(t *testing.T, ns netns.NsHandle, addr netip.AddrPort) {
	t.Helper()
	var ln net.Listener
	if err := nstest.DoIn(ns, func() (err error) { ln, err = net.Listen("tcp", addr.String()); return err }); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := fmt.Fprintf(c, "%s\n", sc.Text()); err != nil {
						return
					}
				}
			})
		}
	})
}

// exchange sends each of lines on c and reads it back; the first error
// ends it.
func exchange(c net.Conn, r *bufio.Reader, lines ...string) error {
	for _, s := range lines {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(c, "%s\n", s); err != nil {
			return fmt.Errorf("write %q: %w", s, err)
		}
		got, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("read the echo of %q: %w", s, err)
		}
		if got != s+"\n" {
			return fmt.Errorf("echo of %q: %q", s, got)
		}
	}
	return nil
}

// connLine is the line of ipvsadm -Lnc about client, or "".
func connLine(table, client string) string {
	for l := range strings.Lines(table) {
		if strings.Contains(l, " "+client+" ") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func testSyncFailover(t *testing.T, synced bool) {
	ctx := context.Background()
	l := newFailoverLab(t)
	rs := netip.AddrPortFrom(labRS.Addr(), labVIP.Port()) // DR keeps the port
	svc := Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: labVIP.Addr(), Port: labVIP.Port()}, Scheduler: RoundRobin}
	dst := Destination{DestinationKey: DestinationKey{Addr: rs.Addr(), Port: rs.Port()}, Forward: Route, Weight: 1}
	ks := openDirectors(t, svc, dst, l.pathA, l.pathB)
	if err := ks[0].StartDaemon(ctx, SyncDaemon{State: SyncMaster, Interface: "eth0", SyncID: 51}); err != nil {
		t.Fatal(err)
	}
	if synced {
		if err := ks[1].StartDaemon(ctx, SyncDaemon{State: SyncBackup, Interface: "eth0", SyncID: 51}); err != nil {
			t.Fatal(err)
		}
	}
	serveEcho(t, l.rs, labVIP)

	var c net.Conn
	if err := nstest.DoIn(l.client, func() (err error) {
		c, err = net.DialTimeout("tcp", labVIP.String(), 10*time.Second)
		return err
	}); err != nil {
		t.Fatalf("connect through A: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	if err := exchange(c, r, "one", "two", "three"); err != nil {
		t.Fatalf("through A: %v", err)
	}
	client := c.LocalAddr().String()
	if a := ipvsadmIn(t, l.dirA, "-Lnc"); !strings.Contains(connLine(a, client), "ESTABLISHED") {
		t.Fatalf("%s is not established in A's table:\n%s", client, a)
	}

	if synced {
		// The master sends what it buffered at least every 2 s.
		deadline := time.Now().Add(30 * time.Second)
		for {
			b := ipvsadmIn(t, l.dirB, "-Lnc")
			if line := connLine(b, client); strings.Contains(line, "ESTABLISHED") {
				t.Logf("B's entry before the failover: %s", line)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 30 s, %s is not established in B's table:\n%s", client, b)
			}
			time.Sleep(100 * time.Millisecond)
		}
	} else if b := ipvsadmIn(t, l.dirB, "-Lnc"); connLine(b, client) != "" {
		t.Fatalf("B has an entry for %s without a sync daemon:\n%s", client, b)
	}
	before := serviceStats(t, ks[1], svc.ServiceKey)
	if before.PacketsIn != 0 || before.Connections != 0 {
		t.Fatalf("B's service counted traffic before the failover: %+v", before)
	}

	// The failover: A dies, B takes the VIP, the client learns B's MAC.
	ha, hb, hc := nsHandle(t, l.dirA), nsHandle(t, l.dirB), nsHandle(t, l.client)
	if err := ha.LinkSetDown(nsLink(t, ha, "eth0")); err != nil {
		t.Fatal(err)
	}
	addAddr(t, hb, nsLink(t, hb, "eth0"), netip.PrefixFrom(labVIP.Addr(), 32))
	if err := hc.NeighSet(&vnl.Neigh{
		LinkIndex:    nsLink(t, hc, "eth0").Attrs().Index,
		Family:       unix.AF_INET,
		State:        vnl.NUD_PERMANENT,
		IP:           labVIP.Addr().AsSlice(),
		HardwareAddr: l.macB,
	}); err != nil {
		t.Fatalf("client's neighbour entry for the VIP: %v", err)
	}

	err := exchange(c, r, "four", "five", "six")
	b := ipvsadmIn(t, l.dirB, "-Lnc")
	t.Logf("B's table after the failover:\n%s", b)
	if !synced {
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("without sync, the connection through B: %v, want ECONNRESET", err)
		}
		t.Logf("without sync, the connection through B: %v", err)
		if line := connLine(b, client); line != "" {
			t.Errorf("without sync, B has an entry for %s: %s", client, line)
		}
		return
	}
	if err != nil {
		t.Fatalf("the synced connection through B: %v", err)
	}
	if line := connLine(b, client); !strings.Contains(line, "ESTABLISHED") {
		t.Errorf("%s is not established in B's table after the failover:\n%s", client, b)
	}
	// Three lines, each a data segment and the acknowledgements of the
	// echoes: B forwarded at least three packets. The kernel folds its
	// per-CPU counters into what a dump shows every 2 s (its estimator).
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := serviceStats(t, ks[1], svc.ServiceKey)
		if after.PacketsIn >= 3 {
			t.Logf("B's service after the failover: %+v", after)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s, B's service shows %d packets in, want at least 3 (%+v)", after.PacketsIn, after)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serviceStats is the counters of service key in k.
func serviceStats(t *testing.T, k *Kernel, key ServiceKey) Stats {
	t.Helper()
	ss, err := k.Services(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if s.ServiceKey == key {
			return s.Stats
		}
	}
	t.Fatalf("no service %v in %v", key, ss)
	return Stats{}
}

// needModule fails t (under IPVS_REQUIRED=1) or skips it when the kernel
// module name is not loaded.
func needModule(t *testing.T, name string) {
	t.Helper()
	_, err := os.Stat("/sys/module/" + name)
	if err == nil {
		return
	}
	if os.Getenv("IPVS_REQUIRED") == "1" {
		t.Fatalf("no %s module: %v", name, err)
	}
	t.Skipf("no %s module (%v); tools/ipvsvm/run loads it", name, err)
}
