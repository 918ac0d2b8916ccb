package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TestDaemonCodec: what daemonAttr encodes, parseDaemon reads back, for
// both roles and both group families; a malformed attribute is an error.
func TestDaemonCodec(t *testing.T) {
	for _, d := range []SyncDaemon{
		{State: SyncMaster, Interface: "eth0", SyncID: 7, MaxLen: 1400, Port: 9000, TTL: 4, Group: netip.MustParseAddr("239.1.2.3")},
		{State: SyncBackup, Interface: "bond0.100", SyncID: 255, MaxLen: 9000, Port: 1, TTL: 255, Group: netip.MustParseAddr("ff12::8")},
	} {
		attrs, err := parseAttrs(daemonAttr(d, true).Serialize())
		if err != nil || len(attrs) != 1 || attrs[0].typ != ipvsCmdAttrDaemon {
			t.Fatalf("%v: encoded %v, %v", d, attrs, err)
		}
		got, err := parseDaemon(attrs[0].val)
		if err != nil || got != d {
			t.Errorf("round trip of %v: %v, %v", d, got, err)
		}
	}
	// The stop request carries the role alone.
	attrs, _ := parseAttrs(daemonAttr(SyncDaemon{State: SyncBackup}, false).Serialize())
	inner, _ := parseAttrs(attrs[0].val)
	if len(inner) != 1 || inner[0].typ != ipvsDaemonAttrState || inner[0].val[0] != ipvsStateBackup {
		t.Errorf("stop request: %v", inner)
	}
	good := daemonAttr(SyncDaemon{State: SyncMaster, Interface: "lo", SyncID: 1}, true).Serialize()[4:]
	for name, b := range map[string][]byte{
		"truncated":  good[:len(good)-3],
		"no state":   good[8:],
		"bad state":  append(slices.Clone(good[:4]), 3, 0, 0, 0),
		"empty":      nil,
		"short ttl":  {4, 0, ipvsDaemonAttrMcastPort, 0},
		"wide group": {7, 0, ipvsDaemonAttrMcastGrp, 0, 1, 2, 3},
	} {
		if d, err := parseDaemon(b); err == nil {
			t.Errorf("%s: parsed as %v", name, d)
		}
	}
}

// TestKernelDaemons: a master and a backup sync daemon start on lo, read
// back with the kernel's defaults as ipvsadm -L --daemon shows them, a
// second start of a role is ErrExists, and they stop (ErrNotFound the
// second time), leaving none.
func TestKernelDaemons(t *testing.T) {
	k := openKernel(t)
	ctx := context.Background()
	stopDaemons(t, k)
	t.Cleanup(func() { stopDaemons(t, k) })
	m := SyncDaemon{State: SyncMaster, Interface: "lo", SyncID: 7}
	b := SyncDaemon{State: SyncBackup, Interface: "lo", SyncID: 9, MaxLen: 2000, Port: 9100, TTL: 3, Group: netip.MustParseAddr("239.10.0.1")}
	for _, d := range []SyncDaemon{m, b} {
		if err := k.StartDaemon(ctx, d); err != nil {
			t.Fatalf("StartDaemon %v: %v", d, err)
		}
	}
	if err := k.StartDaemon(ctx, m); !errors.Is(err, ErrExists) {
		t.Errorf("a second master: %v, want ErrExists", err)
	}
	got, err := k.Daemons(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantM := m.Normalize()
	wantM.MaxLen = 1472 // lo's MTU is larger: a master's is at most 1500 less 28
	wantB := b
	if want := []SyncDaemon{wantM, wantB}; !slices.Equal(got, want) {
		t.Errorf("Daemons:\n got %v\nwant %v", got, want)
	}
	checkIpvsadmDaemons(t, got)

	if err := k.StopDaemon(ctx, SyncMaster); err != nil {
		t.Fatal(err)
	}
	if err := k.StopDaemon(ctx, SyncMaster); !errors.Is(err, ErrNotFound) {
		t.Errorf("stop a stopped master: %v, want ErrNotFound", err)
	}
	if got, err := k.Daemons(ctx); err != nil || !slices.Equal(got, []SyncDaemon{wantB}) {
		t.Errorf("after the master's stop: %v, %v", got, err)
	}
	if err := k.StopDaemon(ctx, SyncBackup); err != nil {
		t.Fatal(err)
	}
	if got, err := k.Daemons(ctx); err != nil || len(got) != 0 {
		t.Errorf("after both stopped: %v, %v", got, err)
	}
	checkIpvsadmDaemons(t, nil)
	if err := k.StartDaemon(ctx, SyncDaemon{State: SyncBackup, Interface: "nosuch0"}); err == nil {
		k.StopDaemon(ctx, SyncBackup)
		t.Error("a daemon on a missing interface started")
	} else {
		t.Logf("missing interface: %v", err)
	}
	if err := k.StartDaemon(ctx, SyncDaemon{State: SyncBackup}); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid daemon: %v, want ErrInvalid", err)
	}
	k.Close()
	if _, err := k.Daemons(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Daemons after Close: %v, want ErrClosed", err)
	}
	if err := k.StopDaemon(ctx, SyncBackup); !errors.Is(err, ErrClosed) {
		t.Errorf("StopDaemon after Close: %v, want ErrClosed", err)
	}
}

// stopDaemons stops whatever daemons run in k's namespace.
func stopDaemons(t *testing.T, k *Kernel) {
	for _, s := range []SyncState{SyncMaster, SyncBackup} {
		if err := k.StopDaemon(context.Background(), s); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrClosed) {
			t.Errorf("stop %v: %v", s, err)
		}
	}
}

// checkIpvsadmDaemons compares ipvsadm -L --daemon with want.
func checkIpvsadmDaemons(t *testing.T, want []SyncDaemon) {
	t.Helper()
	out := strings.TrimSpace(ipvsadm(t, "-L", "--daemon"))
	var exp []string
	for _, d := range want {
		exp = append(exp, d.String())
	}
	if out != strings.Join(exp, "\n") {
		t.Errorf("ipvsadm -L --daemon:\n%s\nwant\n%s", out, strings.Join(exp, "\n"))
	}
}

// TestKernelSyncConnections: two directors in two network namespaces on
// a veth pair, each with its own IPVS and the same service; a master sync
// daemon on one, a backup on the other. Connections made through the
// master's service appear in the backup's connection table (ipvsadm -Lnc
// in its namespace).
func TestKernelSyncConnections(t *testing.T) {
	requireIPVS(t)
	needTool(t, "ipvsadm", "ipvsadm")
	needModule(t, "veth")
	ctx := context.Background()
	nsA, pathA := newNetns(t)
	nsB, pathB := newNetns(t)
	veth := &vnl.Veth{LinkAttrs: vnl.LinkAttrs{Name: "vsync-a"}, PeerName: "vsync-b"}
	if err := vnl.LinkAdd(veth); err != nil {
		t.Fatalf("add veth: %v", err)
	}
	t.Cleanup(func() { vnl.LinkDel(veth) })
	setup := func(ns netns.NsHandle, name, addr string, los ...string) {
		l, err := vnl.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := vnl.LinkSetNsFd(l, int(ns)); err != nil {
			t.Fatalf("move %s: %v", name, err)
		}
		h, err := vnl.NewHandleAt(ns, unix.NETLINK_ROUTE)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		for _, ifc := range []string{name, "lo"} {
			l, err := h.LinkByName(ifc)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.LinkSetUp(l); err != nil {
				t.Fatal(err)
			}
			as := los
			if ifc == name {
				as = []string{addr}
			}
			for _, a := range as {
				p := netip.MustParsePrefix(a)
				if err := h.AddrAdd(l, &vnl.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}); err != nil {
					t.Fatalf("%s: add %v: %v", ifc, a, err)
				}
			}
		}
	}
	setup(nsA, "vsync-a", "198.18.8.1/24", "198.18.9.100/32", "198.18.9.121/32")
	setup(nsB, "vsync-b", "198.18.8.2/24", "198.18.9.100/32")

	vip := netip.MustParseAddrPort("198.18.9.100:80")
	rs := netip.MustParseAddrPort("198.18.9.121:8080")
	svc := Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: vip.Addr(), Port: vip.Port()}, Scheduler: RoundRobin}
	dst := Destination{DestinationKey: DestinationKey{Addr: rs.Addr(), Port: rs.Port()}, Forward: Masquerade, Weight: 1}
	ks := openDirectors(t, svc, dst, pathA, pathB)
	master := SyncDaemon{State: SyncMaster, Interface: "vsync-a", SyncID: 42}
	backup := SyncDaemon{State: SyncBackup, Interface: "vsync-b", SyncID: 42}
	if err := ks[0].StartDaemon(ctx, master); err != nil {
		t.Fatal(err)
	}
	if err := ks[1].StartDaemon(ctx, backup); err != nil {
		t.Fatal(err)
	}

	// The real server listens in A; the clients connect from A.
	var ln net.Listener
	if err := nstest.DoIn(nsA, func() (err error) { ln, err = net.Listen("tcp", rs.String()); return err }); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello\n")
			c.Close()
		}
	}()
	const n = 5
	var clients []string // the clients' address:port, as the tables show them
	for i := range n {
		var c net.Conn
		if err := nstest.DoIn(nsA, func() (err error) { c, err = net.DialTimeout("tcp", vip.String(), 5*time.Second); return err }); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 16)
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("connection %d: read: %v", i, err)
		}
		clients = append(clients, c.LocalAddr().String())
		c.Close()
	}
	t.Logf("clients %v", clients)

	// The master flushes its buffer at least every 2 s.
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := ipvsadmIn(t, nsA, "-Lnc")
		b := ipvsadmIn(t, nsB, "-Lnc")
		missing := 0
		for _, c := range clients {
			if !strings.Contains(a, c) {
				t.Fatalf("client %s not in the master's connection table:\n%s", c, a)
			}
			if !strings.Contains(b, c) {
				missing++
			}
		}
		if missing == 0 {
			t.Logf("master's connections:\n%s\nbackup's connections:\n%s", a, b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s, %d of %d connections are not in the backup's table:\n%s\nmaster's:\n%s", missing, n, b, a)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// openDirectors opens a Kernel in each namespace of paths and gives
// each the service svc with the one real server dst; at the end of t it
// stops their sync daemons and closes them.
func openDirectors(t *testing.T, svc Service, dst Destination, paths ...string) []*Kernel {
	t.Helper()
	ctx := context.Background()
	var ks []*Kernel
	for _, p := range paths {
		k, err := Open(KernelConfig{Netns: p})
		if err != nil {
			t.Fatalf("Open in %s: %v", p, err)
		}
		t.Cleanup(func() { stopDaemons(t, k); k.Close() })
		if err := k.CreateService(ctx, svc); err != nil {
			t.Fatal(err)
		}
		if err := k.CreateDestination(ctx, svc.ServiceKey, dst); err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	return ks
}

// newNetns makes a network namespace, closed at the end of t, and
// returns it with a path Open takes.
func newNetns(t *testing.T) (netns.NsHandle, string) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New() // switches this thread into it
	if serr := netns.Set(orig); serr != nil {
		t.Fatalf("back to the test's namespace: %v", serr) // the thread stays locked and dies
	}
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatalf("new namespace: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns, fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), int(ns))
}

// ipvsadmIn runs ipvsadm in namespace ns.
func ipvsadmIn(t *testing.T, ns netns.NsHandle, args ...string) string {
	t.Helper()
	var out []byte
	err := nstest.DoIn(ns, func() (err error) {
		out, err = exec.Command("ipvsadm", args...).CombinedOutput()
		return err
	})
	if err != nil {
		t.Fatalf("ipvsadm %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
