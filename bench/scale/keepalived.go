//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
)

// keepalivedConf is the equivalent of scaleConfig for keepalived: c.vs
// virtual_server blocks of c.rs real_server blocks with a TCP_CHECK each.
func keepalivedConf(c *config) string {
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id vigil-scale\n}\n")
	for i := range c.vs {
		port := basePort + uint16(i)
		fmt.Fprintf(&b, "virtual_server %s %d {\n    delay_loop %d\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n",
			vsAddr, port, int(c.delay/time.Second))
		for j := range c.rs {
			fmt.Fprintf(&b, "    real_server %s %d {\n        weight 1\n        TCP_CHECK {\n            connect_timeout %d\n        }\n    }\n",
				rsAddr(j), port, int(c.timeout/time.Second))
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// keepalived is keepalived's checker subsystem (-C) run in the
// foreground: the parent and its checker child.
type keepalived struct {
	p        *benchkit.Proc
	out      *benchkit.Log
	checkPID int
}

// startKeepalived starts keepalived -C in ns with keepalivedConf and
// waits for its checker child. It returns an error (with keepalived's own
// words) when the checker cannot run: without IPVS in the kernel,
// keepalived's checker process exits at once ("IPVS: Can't initialize
// ipvs") and the parent stops.
func startKeepalived(ctx context.Context, c *config, ns, dir string) (*keepalived, error) {
	cf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(cf, []byte(keepalivedConf(c)), 0o644); err != nil {
		return nil, err
	}
	k := &keepalived{out: &benchkit.Log{}}
	p, err := benchkit.Start("keepalived", k.out, k.out, "ip", "netns", "exec", ns, "keepalived",
		"-n", "-l", "-D", "-C", "-f", cf,
		"-p", filepath.Join(dir, "ka.pid"), "-c", filepath.Join(dir, "checkers.pid"),
		"-r", filepath.Join(dir, "vrrp.pid"), "-b", filepath.Join(dir, "bfd.pid"))
	if err != nil {
		return nil, err
	}
	k.p = p
	// The checker child writes its pid file, then initializes IPVS; give
	// it a few seconds to fail.
	deadline := time.Now().Add(60 * time.Second)
	var seen time.Time
	for {
		if k.checkPID == 0 {
			if b, err := os.ReadFile(filepath.Join(dir, "checkers.pid")); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
					k.checkPID, seen = pid, time.Now()
				}
			}
		}
		out := k.out.String()
		if i := strings.Index(out, "Can't initialize ipvs"); i >= 0 || p.Exited() {
			k.stop()
			line := lastLine(out, "Can't initialize ipvs")
			if i := strings.Index(line, "IPVS:"); i >= 0 {
				line = line[i:] // without keepalived's time stamp
			}
			if line == "" {
				line = k.out.Tail(5)
			}
			return nil, fmt.Errorf("keepalived's checker did not run: %s", line)
		}
		if !seen.IsZero() && time.Since(seen) > 3*time.Second && benchkit.Alive(k.checkPID) {
			return k, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			k.stop()
			return nil, fmt.Errorf("keepalived: no checker child within a minute: %s", k.out.Tail(10))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pids are the parent and the checker child.
func (k *keepalived) pids() []int { return []int{k.p.PID(), k.checkPID} }

// stop stops keepalived (SIGTERM to the parent, which stops the child)
// and waits for both.
func (k *keepalived) stop() error {
	err := k.p.Stop(0, 15*time.Second)
	if k.checkPID > 0 && !benchkit.Reap(k.checkPID, 5*time.Second) {
		// Still alive without its parent: it is ours, end it by PID.
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", k.checkPID)); strings.TrimSpace(string(comm)) == "keepalived" {
			_ = syscall.Kill(k.checkPID, syscall.SIGKILL)
		}
		if !benchkit.Reap(k.checkPID, 5*time.Second) {
			err = errors.Join(err, fmt.Errorf("keepalived checker child %d did not exit", k.checkPID))
		}
	}
	return err
}

// lastLine returns the last line of s that contains sub, trimmed.
func lastLine(s, sub string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], sub) {
			return strings.TrimSpace(lines[i])
		}
	}
	return ""
}
