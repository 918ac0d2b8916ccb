//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
)

// The keepalived implementation (-impl keepalived, -kind http only):
// keepalived's checker process (`keepalived -C`) with one HTTP_GET per
// target. It needs IPVS (its checker child exits without it: "IPVS:
// Can't initialize ipvs"), so it runs in the VM of tools/ipvsvm
// (bench/checks/vm), or natively on a stand-in for IPVS (-fake-ipvs,
// fakeipvs.go). Its checks are the listener's accepted
// connections: no other client talks to the listener during its run.

// vsAddr is the virtual servers' address (RFC 5737).
var vsAddr = netip.MustParseAddr("203.0.113.1")

// keepalivedConf is the configuration checking every target: one
// virtual server per port (vsAddr:port) whose real servers are the
// targets on that port, each with HTTP_GET { url { path / status_code
// 200 } connect_timeout 2 } every second (delay_loop 1).
func keepalivedConf(c *config) string {
	var b strings.Builder
	b.WriteString("global_defs {\n\trouter_id vigil-bench-checks\n}\n")
	for i := range c.ports {
		port := int(basePort) + i
		fmt.Fprintf(&b, "virtual_server %s %d {\n\tdelay_loop %d\n\tlb_algo rr\n\tlb_kind NAT\n\tprotocol TCP\n",
			vsAddr, port, max(1, int(c.interval/time.Second)))
		for j := range c.addrs {
			fmt.Fprintf(&b, "\treal_server %s %d {\n\t\tHTTP_GET {\n\t\t\turl {\n\t\t\t\tpath /\n\t\t\t\tstatus_code 200\n\t\t\t}\n\t\t\tconnect_timeout 2\n\t\t}\n\t}\n",
				targetAddr(j), port)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// keepalived is a running `keepalived -C`.
type keepalived struct{ *benchkit.Checker }

// startKeepalived writes the configuration into dir and starts
// keepalived's checker subsystem (in ns unless c.here); it returns when
// the checker child's pid file names a live process.
func startKeepalived(ctx context.Context, c *config, ns, dir string) (*keepalived, error) {
	cf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(cf, []byte(keepalivedConf(c)), 0o644); err != nil {
		return nil, err
	}
	var args []string
	if !c.here {
		args = append(args, "ip", "netns", "exec", ns)
	}
	if c.nice != 0 {
		args = append(args, "nice", "-n", fmt.Sprint(c.nice))
	}
	if c.fakeIPVS != "" {
		args = append(args, "env", "LD_PRELOAD="+c.fakeIPVS)
	}
	pidFile := filepath.Join(dir, "checkers.pid")
	args = append(args, c.keepalived, "-n", "-l", "-D", "-C", "-f", cf,
		"-p", filepath.Join(dir, "keepalived.pid"), "-c", pidFile)
	k, err := benchkit.StartChecker(ctx, args, pidFile, 0, 30*time.Second)
	if err != nil {
		return nil, err
	}
	return &keepalived{k}, nil
}

// stop stops keepalived and its checker child.
func (k *keepalived) stop() error { return k.Stop(30 * time.Second) }

// failureLine matches keepalived's log lines of a failed HTTP_GET or a
// real server taken out.
var failureLine = regexp.MustCompile(`(?i)error|fail|timeout|timed out|removing service`)

// failures counts failure lines from line from on, and the first.
func (k *keepalived) failures(from int) (n int, first string) {
	lines := strings.Split(k.Out.String(), "\n")
	for _, l := range lines[min(from, len(lines)):] {
		if failureLine.MatchString(l) {
			if n == 0 {
				first = strings.TrimSpace(l)
			}
			n++
		}
	}
	return n, first
}

func (k *keepalived) lines() int { return strings.Count(k.Out.String(), "\n") }

// oneRunKeepalived measures keepalived once: a fresh keepalived, the
// warmup, the window. Its checks are the listener's accepts; it has no
// lateness histogram.
func oneRunKeepalived(ctx context.Context, c *config, ns string, ln *child) (s sample, err error) {
	s.impl = "keepalived"
	dir, err := os.MkdirTemp("", "vigil-bench-checks-ka-*")
	if err != nil {
		return s, err
	}
	defer os.RemoveAll(dir)
	k, err := startKeepalived(ctx, c, ns, dir)
	if err != nil {
		return s, err
	}
	defer func() { err = errors.Join(err, k.stop()) }()
	pid := k.PID
	if err := benchkit.Sleep(ctx, c.warmup); err != nil {
		return s, err
	}
	if !k.Alive() {
		return s, fmt.Errorf("keepalived's checker exited: %s", k.Out.Tail(20))
	}
	from := k.lines()
	none := func() error { return nil }
	if err := s.measure(ctx, c, pid, ln, none, none); err != nil {
		return s, err
	}
	s.checks = s.accepts
	n, first := k.failures(from)
	s.fail, s.firstErr = uint64(n), first
	return s, nil
}
