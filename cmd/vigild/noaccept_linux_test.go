//go:build linux

package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// noAcceptConf is a keepalived.conf with an IPv4 and an IPv6 instance
// at priority PRIO, with ACCEPT (accept or no_accept).
const noAcceptConf = `global_defs {
  router_id noaccept
}
vrrp_instance VI_4 {
  state BACKUP
  interface eth0
  virtual_router_id 61
  version 3
  priority PRIO
  advert_int 0.1
  ACCEPT
  virtual_ipaddress {
    192.0.2.100/24
  }
}
vrrp_instance VI_6 {
  state BACKUP
  interface eth0
  virtual_router_id 62
  priority PRIO
  advert_int 0.1
  ACCEPT
  virtual_ipaddress {
    2001:db8::100/64
  }
}
`

// TestNoAccept: vigild with no_accept drops the traffic to its VIPs
// while the segment still resolves them (ARP, ND), accepts it after a
// reload to accept and drops it again after one back, empties its sets
// as backup, deletes its table when it stops, and, killed, leaves a
// table the next vigild deletes at start. Checked from a witness host
// and with nft in the routers' namespaces.
func TestNoAccept(t *testing.T) {
	seg := nstest.NewSegment(t, 3)
	nstest.NeedTools(t, "nft", "ping")
	h1, witness, h3 := seg.Hosts[0], seg.Hosts[1], seg.Hosts[2]
	bin := vigildBinary(t)
	dir := t.TempDir()
	const port = 8080
	h1.ServeTCP(t, port)
	h3.ServeTCP(t, port)
	vips := []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("2001:db8::100")}

	write := func(h *nstest.Host, prio int, accept string) string {
		t.Helper()
		p := filepath.Join(dir, h.Name+".conf")
		text := strings.NewReplacer("PRIO", fmt.Sprint(prio), "ACCEPT", accept).Replace(noAcceptConf)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	start := func(h *nstest.Host, conf string) *nstest.Daemon {
		t.Helper()
		return nstest.StartDaemon(t, h, "vigild", bin, "-n", "-l", "-f", conf,
			"-p", filepath.Join(dir, h.Name+".pid"), "-r", filepath.Join(dir, h.Name+"-vrrp.pid"),
			"-c", filepath.Join(dir, h.Name+"-chk.pid"), "--control-socket", filepath.Join(dir, h.Name+".sock"))
	}
	ruleset := func(h *nstest.Host) string {
		t.Helper()
		return nstest.MustRun(t, "ip", "netns", "exec", h.Name, "nft", "list", "ruleset")
	}
	// dropping reports whether h's table holds the VIPs in its sets.
	dropping := func(h *nstest.Host) bool {
		rs := ruleset(h)
		return strings.Contains(rs, "elements = { 192.0.2.100 }") && strings.Contains(rs, "elements = { 2001:db8::100 }")
	}
	holds := func(h *nstest.Host) bool { return hasAddr(t, h, "192.0.2.100") && hasAddr(t, h, "2001:db8::100") }
	// check asserts what the witness sees of the VIPs: the master's MAC
	// in its neighbour table, and replies (ping, TCP) or none.
	check := func(what string, master *nstest.Host, answers bool) {
		t.Helper()
		nstest.MustRun(t, "ip", "-n", witness.Name, "neigh", "flush", "dev", witness.Link)
		for _, a := range vips {
			ping, tcp := witness.Reach(t, a, port, 500*time.Millisecond)
			if ping != answers || tcp != answers {
				t.Errorf("%s: %v: ping %v, tcp %v; want %v", what, a, ping, tcp, answers)
			}
			if mac, err := witness.NeighMAC(a); err != nil || mac != master.MAC.String() {
				t.Errorf("%s: the witness's neighbour entry for %v is %q (%v), want %v", what, a, mac, err, master.MAC)
			}
		}
	}

	conf1 := write(h1, 150, "no_accept")
	v1 := start(h1, conf1)
	await(t, "vigild on h1 master, dropping", func() bool { return holds(h1) && dropping(h1) })
	rs := ruleset(h1)
	for _, want := range []string{"table inet vigil", "ip daddr @vips4 drop", "ip6 daddr @vips6 drop", "ip6 saddr . oifname @vipsll drop"} {
		if !strings.Contains(rs, want) {
			t.Errorf("h1's ruleset lacks %q:\n%s", want, rs)
		}
	}
	check("no_accept", h1, false)
	if ping, tcp := witness.Reach(t, h1.Addr4.Addr(), port, time.Second); !ping || !tcp {
		t.Errorf("h1's own address: ping %v, tcp %v; want both", ping, tcp)
	}

	// A reload to accept empties the sets without a transition.
	entering := strings.Count(v1.Out.String(), "Entering")
	write(h1, 150, "accept")
	v1.Signal(syscall.SIGHUP)
	await(t, "h1's sets emptied by the reload to accept", func() bool { return !strings.Contains(ruleset(h1), "elements") })
	check("accept", h1, true)
	write(h1, 150, "no_accept")
	v1.Signal(syscall.SIGHUP)
	await(t, "h1 dropping again after the reload to no_accept", func() bool { return dropping(h1) })
	check("no_accept again", h1, false)
	if n := strings.Count(v1.Out.String(), "Entering"); n != entering {
		t.Errorf("the reloads caused %d transitions", n-entering)
	}

	// h3 joins; h1's priority falls below it: h1 becomes backup and
	// empties its sets, h3 drops.
	v3 := start(h3, write(h3, 100, "no_accept"))
	await(t, "vigild on h3 backup", func() bool { return strings.Contains(v3.Out.String(), "(VI_6) Entering BACKUP STATE") })
	write(h1, 50, "no_accept")
	v1.Signal(syscall.SIGHUP)
	await(t, "h3 master and dropping, h1 backup with empty sets", func() bool {
		return holds(h3) && dropping(h3) && !hasAddr(t, h1, "192.0.2.100") && !strings.Contains(ruleset(h1), "elements")
	})
	check("h3 master", h3, false)

	// SIGKILL h3: its table stays (nothing removes it) while h1 takes
	// over.
	v3.Stop(syscall.SIGKILL)
	await(t, "h1 master again", func() bool { return hasAddr(t, h1, "192.0.2.100") && dropping(h1) })
	if !dropping(h3) {
		t.Fatalf("h3's table after SIGKILL:\n%s\nwant the crashed run's sets", ruleset(h3))
	}
	// Restarted below h1's priority it stays backup: the leftover table
	// is deleted at start and no other is made.
	v3 = start(h3, write(h3, 10, "no_accept"))
	await(t, "h3's leftover table deleted by the restarted vigild", func() bool {
		return !strings.Contains(ruleset(h3), "table inet vigil")
	})
	await(t, "vigild on h3 backup again", func() bool { return strings.Contains(v3.Out.String(), "(VI_6) Entering BACKUP STATE") })
	if rs := ruleset(h3); strings.Contains(rs, "table inet vigil") {
		t.Errorf("h3 as backup made a table:\n%s", rs)
	}

	// SIGTERM: the master resigns and its table goes.
	v1.Stop(syscall.SIGTERM)
	if !v1.Exited() {
		t.Fatal("vigild on h1 did not stop")
	}
	if rs := ruleset(h1); strings.Contains(rs, "table inet vigil") {
		t.Errorf("h1's table after a graceful stop:\n%s", rs)
	}
	await(t, "h3 master after h1 stopped", func() bool { return holds(h3) && dropping(h3) })
	v3.Stop(syscall.SIGTERM)
	if rs := ruleset(h3); strings.Contains(rs, "table inet vigil") {
		t.Errorf("h3's table after a graceful stop:\n%s", rs)
	}
}
