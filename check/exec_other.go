//go:build !linux

package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
)

// run is not implemented outside Linux.
func (c *Exec) run(ctx context.Context, uid, gid int, out io.Writer) (int, error) {
	return 0, fmt.Errorf("running programs on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
