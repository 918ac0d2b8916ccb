package check

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
)

// File reads a number from a file (keepalived's FILE_CHECK and track_file),
// with keepalived's meaning:
//
//   - Weight 0: the value 0 is healthy and any other value unhealthy;
//     Reverse swaps the two, making any non-zero value healthy.
//   - Weight non-zero: the check is healthy, with weight value × Weight
//     (negated by Reverse, clamped to -254..253), which callers add to the
//     target's configured weight or priority; a result of -254 is unhealthy
//     (keepalived's FAULT).
//
// Unlike keepalived, which reads a missing file as 0, a file that cannot be
// read or holds no number fails the check.
type File struct {
	// Path is the file read.
	Path string
	// Weight multiplies the value; see the type's documentation.
	Weight int
	// Reverse inverts the meaning of the value.
	Reverse bool
}

// Weight bounds of File, as keepalived's.
const (
	fileFault     = -254
	fileMaxWeight = 253
)

// String returns "file PATH".
func (c *File) String() string { return "file " + c.Path }

// Key identifies the probe for Group's deduplication.
func (c *File) Key() string { return fmt.Sprintf("file|%q|%d|%t", c.Path, c.Weight, c.Reverse) }

// Validate returns a *FieldError if Path is empty.
func (c *File) Validate() error { return required(c, "Path", c.Path) }

// Check reads the file and judges its value.
func (c *File) Check(ctx context.Context) error {
	_, _, err := c.CheckWeight(ctx)
	return err
}

// CheckWeight reads the file; with a non-zero Weight, it reports the value
// times Weight.
func (c *File) CheckWeight(ctx context.Context) (weight int, ok bool, err error) {
	if err := ready(ctx, c); err != nil {
		return 0, false, err
	}
	f, err := os.Open(c.Path)
	if err != nil {
		return 0, false, fmt.Errorf("check: %s: %w", c, err)
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, 128))
	if err != nil {
		return 0, false, fmt.Errorf("check: %s: %w", c, err)
	}
	// keepalived reads a number at the start of the file, as strtol does.
	field := bytes.Fields(buf)
	if len(field) == 0 {
		return 0, false, fmt.Errorf("check: %s: empty file: %w", c, ErrUnexpected)
	}
	v, err := strconv.ParseInt(string(field[0]), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("check: %s: %w: %w", c, ErrUnexpected, err)
	}
	if c.Weight == 0 {
		if (v != 0) != c.Reverse {
			return 0, false, fmt.Errorf("check: %s: value %d: %w", c, v, ErrUnexpected)
		}
		return 0, false, nil
	}
	w := clampMul(v, int64(c.Weight))
	if c.Reverse {
		w = -w
	}
	w = max(fileFault, min(fileMaxWeight, w))
	if w == fileFault {
		return 0, false, fmt.Errorf("check: %s: value %d × weight %d is at most %d: %w", c, v, c.Weight, fileFault, ErrUnexpected)
	}
	return int(w), true, nil
}

// clampMul returns a×b with each factor first saturated to ±2³¹, so the
// product cannot overflow.
func clampMul(a, b int64) int64 {
	const big = 1 << 31
	// Weights are small; saturate early rather than overflow.
	a = max(-big, min(big, a))
	b = max(-big, min(big, b))
	return a * b
}
