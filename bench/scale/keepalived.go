//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
type keepalived struct{ *benchkit.Checker }

// startKeepalived starts keepalived -C in ns with keepalivedConf and
// waits for its checker child. It returns an error (with keepalived's own
// words) when the checker cannot run: without IPVS in the kernel,
// keepalived's checker process exits at once ("IPVS: Can't initialize
// ipvs") and the parent stops. The checker child writes its pid file,
// then initializes IPVS: it is given 3 s to fail.
func startKeepalived(ctx context.Context, c *config, ns, dir string) (*keepalived, error) {
	cf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(cf, []byte(keepalivedConf(c)), 0o644); err != nil {
		return nil, err
	}
	pidFile := filepath.Join(dir, "checkers.pid")
	k, err := benchkit.StartChecker(ctx, []string{"ip", "netns", "exec", ns, "keepalived",
		"-n", "-l", "-D", "-C", "-f", cf,
		"-p", filepath.Join(dir, "ka.pid"), "-c", pidFile,
		"-r", filepath.Join(dir, "vrrp.pid"), "-b", filepath.Join(dir, "bfd.pid")}, pidFile, 3*time.Second, time.Minute)
	if err != nil {
		return nil, err
	}
	return &keepalived{k}, nil
}

// stop stops keepalived (SIGTERM to the parent, which stops the child)
// and waits for both.
func (k *keepalived) stop() error { return k.Stop(15 * time.Second) }
