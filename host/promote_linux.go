package host

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// promoteSecondaries sets net.ipv4.conf.IFACE.promote_secondaries to 1
// until Close, unless it is 1 already (so that several instances on one
// interface set and restore it once, as keepalived's
// set_promote_secondaries). The caller holds l.mu.
func (l *Linux) promoteSecondaries(iface string) error {
	key := "net/ipv4/conf/" + iface + "/promote_secondaries"
	var cur string
	if err := l.do(func() error {
		b, err := os.ReadFile(filepath.Join("/proc/sys", key))
		cur = strings.TrimSpace(string(b))
		return err
	}); err != nil {
		return fmt.Errorf("sysctl %s: %w", key, err)
	}
	if cur == "1" {
		return nil
	}
	return l.setSysctl(key, "1")
}
