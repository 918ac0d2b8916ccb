//go:build linux

package benchkit

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// ParseList parses a comma-separated flag value whose items must be
// among allowed; repeats are dropped.
func ParseList(s string, allowed []string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(allowed, f) {
			return nil, fmt.Errorf("%q: want one of %s", f, strings.Join(allowed, ", "))
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// AwaitAddr waits (bounded) until h holds (want) or lacks (!want) addr.
func AwaitAddr(ctx context.Context, h *nstest.Host, addr netip.Addr, want bool, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		has, err := h.HasAddr(addr)
		if err != nil {
			return err
		}
		if has == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: has %v = %v after %v", h.Name, addr, has, limit)
		}
		if err := Sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
}

// StopRouters ends a run's routers, named A, B, ... in the order given:
// it stops them in the reverse order (the backup before the master) and
// waits for each, writes each one's output to dir/NAME.log when keep is
// set, and returns err joined with the stop errors and, when that is not
// nil, with the tail of what each router said. Nil routers (not started)
// are skipped.
func StopRouters(err error, dir string, keep bool, routers ...Router) error {
	for _, r := range slices.Backward(routers) {
		if r != nil {
			if serr := r.Stop(); serr != nil {
				err = errors.Join(err, serr)
			}
		}
	}
	for i, r := range routers {
		name := string(rune('A' + i))
		if r == nil {
			continue
		}
		if keep {
			_ = os.WriteFile(filepath.Join(dir, name+".log"), []byte(r.Output()), 0o644)
		}
		if err != nil {
			err = fmt.Errorf("%w\n--- %s (%s) output:\n%s", err, name, r.Impl(), Tail(r.Output(), 15))
		}
	}
	return err
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
