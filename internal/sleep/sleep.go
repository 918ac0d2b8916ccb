// Package sleep waits unless a context ends first.
package sleep

import (
	"context"
	"time"
)

// For waits d and reports true, or reports false as soon as ctx is done.
// A d of zero or less returns at once: true unless ctx is already done.
func For(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
