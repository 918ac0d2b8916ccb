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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
)

// The keepalived implementation (-impl keepalived, -kind http only):
// keepalived's checker process (`keepalived -C`) with one HTTP_GET per
// target. It needs IPVS (its checker child exits without it: "IPVS:
// Can't initialize ipvs"), so it runs in the VM of tools/ipvsvm
// (bench/checks/vm). Its checks are the listener's accepted
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
type keepalived struct {
	p          *benchkit.Proc
	out        *benchkit.Log
	checkerPID int
}

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
	pidFile := filepath.Join(dir, "checkers.pid")
	args = append(args, c.keepalived, "-n", "-l", "-D", "-C", "-f", cf,
		"-p", filepath.Join(dir, "keepalived.pid"), "-c", pidFile)
	k := &keepalived{out: &benchkit.Log{}}
	p, err := benchkit.Start("keepalived", k.out, k.out, args...)
	if err != nil {
		return nil, err
	}
	k.p = p
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && benchkit.Alive(pid) {
				k.checkerPID = pid
				return k, nil
			}
		}
		if p.Exited() || time.Now().After(deadline) || ctx.Err() != nil {
			err := fmt.Errorf("keepalived: no checker child (exited: %v): %s", p.Exited(), k.out.Tail(20))
			return nil, errors.Join(err, k.stop())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether the checker child still runs (it exits when it
// cannot use IPVS).
func (k *keepalived) alive() bool { return benchkit.Alive(k.checkerPID) }

// stop stops keepalived (SIGTERM to the parent, which stops its child)
// and waits for both; a checker left without its parent is ended by
// its PID.
func (k *keepalived) stop() error {
	err := k.p.Stop(syscall.SIGTERM, 30*time.Second)
	if k.checkerPID > 0 && !benchkit.Reap(k.checkerPID, 10*time.Second) {
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", k.checkerPID)); strings.TrimSpace(string(comm)) == "keepalived" {
			_ = syscall.Kill(k.checkerPID, syscall.SIGKILL)
		}
		if !benchkit.Reap(k.checkerPID, 5*time.Second) {
			err = errors.Join(err, fmt.Errorf("keepalived checker %d did not exit", k.checkerPID))
		}
	}
	return err
}

// failureLine matches keepalived's log lines of a failed HTTP_GET or a
// real server taken out.
var failureLine = regexp.MustCompile(`(?i)error|fail|timeout|timed out|removing service`)

// failures counts failure lines from line from on, and the first.
func (k *keepalived) failures(from int) (n int, first string) {
	lines := strings.Split(k.out.String(), "\n")
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

func (k *keepalived) lines() int { return strings.Count(k.out.String(), "\n") }

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
	pid := k.checkerPID
	if err := benchkit.Sleep(ctx, c.warmup); err != nil {
		return s, err
	}
	if !k.alive() {
		return s, fmt.Errorf("keepalived's checker exited: %s", k.out.Tail(20))
	}
	from := k.lines()
	a0, err := ln.ask(ctx)
	if err != nil {
		return s, err
	}
	t0 := time.Now()
	u0, err := readUsage(pid)
	if err != nil {
		return s, err
	}
	if err := benchkit.Sleep(ctx, c.window); err != nil {
		return s, err
	}
	u1, err := readUsage(pid)
	s.window = time.Since(t0)
	if err != nil {
		return s, err
	}
	a1, err := ln.ask(ctx)
	if err != nil {
		return s, err
	}
	if s.mem, err = benchkit.ReadMemory(pid); err != nil {
		return s, err
	}
	s.setUsage(u0, u1)
	s.accepts = a1.Checks - a0.Checks
	s.checks = s.accepts
	n, first := k.failures(from)
	s.fail, s.firstErr = uint64(n), first
	s.expected = float64(c.addrs*c.ports) * s.window.Seconds() / c.interval.Seconds()
	return s, nil
}
