//go:build linux

package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// The addresses, all from 198.18.0.0/15 (RFC 2544, benchmarking).
var (
	lbAddr   = netip.MustParsePrefix("198.18.0.1/30") // the checkers' side of the veth pair
	rsGW     = netip.MustParsePrefix("198.18.0.2/30") // the real servers' side
	rsNet    = netip.MustParsePrefix("198.18.1.0/24") // routed from the checkers to the real servers
	vsAddr   = netip.MustParseAddr("198.18.2.1")      // every virtual server's address (IPVS only)
	basePort = uint16(10000)                          // virtual server i listens on basePort+i
)

// rsAddr is the address of real server j (0-based): 198.18.1.(j+1).
func rsAddr(j int) netip.Addr {
	b := rsNet.Addr().As4()
	b[3] = byte(j + 1)
	return netip.AddrFrom4(b)
}

// topo is one run's two namespaces: LB, where the checkers run (the
// Supervisor, a floor or keepalived), and RS, where the real servers
// listen, joined by a veth pair. RS holds the real-server addresses on its
// lo (the kernels this runs on may lack the dummy driver; an address on
// lo is local for packets from any interface) and one listening socket
// per virtual server's port, bound to 0.0.0.0.
type topo struct {
	LB, RS  string
	created []string
}

// newTopo builds the namespaces for nrs real servers; on error it has
// deleted what it made.
func newTopo(dir string, nrs int) (t *topo, err error) {
	var id [3]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	prefix := "vg" + hex.EncodeToString(id[:])
	t = &topo{LB: prefix + "-lb", RS: prefix + "-rs"}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Close())
			t = nil
		}
	}()
	for _, ns := range []string{t.LB, t.RS} {
		if _, err := nstest.Run("ip", "netns", "add", ns); err != nil {
			return t, err
		}
		t.created = append(t.created, ns)
	}
	// The real-server addresses go in with one ip(8) batch.
	var batch strings.Builder
	for j := range nrs {
		fmt.Fprintf(&batch, "addr add %s/32 dev lo\n", rsAddr(j))
	}
	bf := filepath.Join(dir, "rs-addrs.batch")
	if err := os.WriteFile(bf, []byte(batch.String()), 0o644); err != nil {
		return t, err
	}
	lb := func(args ...string) []string { return append([]string{"ip", "-n", t.LB}, args...) }
	rs := func(args ...string) []string { return append([]string{"ip", "-n", t.RS}, args...) }
	for _, cmd := range [][]string{
		lb("link", "set", "lo", "up"),
		rs("link", "set", "lo", "up"),
		lb("link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", t.RS),
		lb("addr", "add", lbAddr.String(), "dev", "veth0"),
		rs("addr", "add", rsGW.String(), "dev", "veth1"),
		lb("link", "set", "veth0", "up"),
		rs("link", "set", "veth1", "up"),
		rs("-batch", bf),
		lb("route", "add", rsNet.String(), "via", rsGW.Addr().String()),
	} {
		if _, err := nstest.Run(cmd...); err != nil {
			return t, err
		}
	}
	return t, nil
}

// Close deletes the namespaces (and with them the links).
func (t *topo) Close() error {
	var errs []error
	for i := len(t.created) - 1; i >= 0; i-- {
		if _, err := nstest.Run("ip", "netns", "del", t.created[i]); err != nil {
			errs = append(errs, err)
		}
	}
	t.created = nil
	return errors.Join(errs...)
}
