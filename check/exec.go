package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
)

// Exec runs a program and judges its exit status (keepalived's MISC_CHECK):
// 0 is healthy and anything else unhealthy, except that with Dynamic
// (misc_dynamic) 2–255 are healthy too, with weight status − 2.
//
// The program runs without a shell, in a process group of its own. When
// ctx ends first, or when the program exits leaving processes behind in its
// group, the whole group is killed, and the program is always reaped before
// Check returns. The first 4 KiB of its standard output and error are kept
// for the error. Exec runs programs on Linux only.
type Exec struct {
	// Path is the program to run. A name without a slash is looked up in PATH.
	Path string
	// Args are the arguments after the program's name.
	Args []string
	// Env is the program's environment; nil means this process's.
	Env []string
	// Dir is the working directory; empty means this process's.
	Dir string
	// Dynamic makes exit statuses 2–255 healthy, with weight status − 2.
	Dynamic bool
	// User is the user, by name or number, to run the program as; empty
	// means this process's user.
	User string
	// Group is the group, by name or number, to run the program as; empty
	// means User's primary group, or this process's group without User.
	Group string
}

// maxOutput bounds what Exec keeps of a program's output.
const maxOutput = 4 << 10

// String returns "exec PATH ARGS...".
func (c *Exec) String() string {
	return strings.Join(append([]string{"exec", c.Path}, c.Args...), " ")
}

// Key identifies the probe for Group's deduplication.
func (c *Exec) Key() string {
	return fmt.Sprintf("exec|%q|%q|%q|%q|%t|%q|%q", c.Path, c.Args, c.Env, c.Dir, c.Dynamic, c.User, c.Group)
}

// ExitError is the error of an Exec check whose program ran and failed.
type ExitError struct {
	// Status is the exit status, or -1 when a signal ended the program.
	Status int
	// Output holds the start of the program's standard output and error.
	Output []byte
}

// Error describes the failure, with the program's output.
func (e *ExitError) Error() string {
	out := strings.TrimSpace(string(e.Output))
	if e.Status < 0 {
		return fmt.Sprintf("killed by a signal; output %q", out)
	}
	return fmt.Sprintf("exit status %d; output %q", e.Status, out)
}

// Is makes an ExitError match ErrUnexpected.
func (e *ExitError) Is(target error) bool { return target == ErrUnexpected }

// Check runs the program.
func (c *Exec) Check(ctx context.Context) error {
	_, _, err := c.CheckWeight(ctx)
	return err
}

// CheckWeight runs the program; with Dynamic, an exit status of 2–255
// reports weight status − 2, keepalived's new weight for the real server.
func (c *Exec) CheckWeight(ctx context.Context) (weight int, ok bool, err error) {
	if c.Path == "" {
		return 0, false, fmt.Errorf("check: %s: no program: %w", c, ErrConfig)
	}
	if err := ctx.Err(); err != nil {
		return 0, false, fmt.Errorf("check: %s: %w", c, err)
	}
	uid, gid, err := c.credential()
	if err != nil {
		return 0, false, fmt.Errorf("check: %s: %w", c, err)
	}
	var out limitedBuffer
	status, err := c.run(ctx, uid, gid, &out)
	if err != nil {
		if output := out.Bytes(); len(output) > 0 {
			return 0, false, fmt.Errorf("check: %s: %w; output %q", c, err, strings.TrimSpace(string(output)))
		}
		return 0, false, fmt.Errorf("check: %s: %w", c, err)
	}
	switch {
	case status == 0:
		return 0, false, nil
	case c.Dynamic && status >= 2 && status <= 255:
		return status - 2, true, nil
	}
	return 0, false, fmt.Errorf("check: %s: %w", c, &ExitError{Status: status, Output: out.Bytes()})
}

// credential resolves User and Group; -1 means unchanged.
func (c *Exec) credential() (uid, gid int, err error) {
	uid, gid = -1, -1
	if c.User != "" {
		u, err := user.Lookup(c.User)
		if err != nil {
			var uerr error
			if u, uerr = user.LookupId(c.User); uerr != nil {
				return 0, 0, fmt.Errorf("user %q: %w", c.User, errors.Join(ErrConfig, err))
			}
		}
		if uid, err = strconv.Atoi(u.Uid); err != nil {
			return 0, 0, fmt.Errorf("user %q: uid %q: %w", c.User, u.Uid, ErrConfig)
		}
		if gid, err = strconv.Atoi(u.Gid); err != nil {
			return 0, 0, fmt.Errorf("user %q: gid %q: %w", c.User, u.Gid, ErrConfig)
		}
	}
	if c.Group != "" {
		g, err := user.LookupGroup(c.Group)
		if err != nil {
			var gerr error
			if g, gerr = user.LookupGroupId(c.Group); gerr != nil {
				return 0, 0, fmt.Errorf("group %q: %w", c.Group, errors.Join(ErrConfig, err))
			}
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return 0, 0, fmt.Errorf("group %q: gid %q: %w", c.Group, g.Gid, ErrConfig)
		}
		if uid < 0 {
			uid = os.Getuid()
		}
	}
	return uid, gid, nil
}

// limitedBuffer keeps the first maxOutput bytes written to it and drops the
// rest, so that a chatty program never blocks on a full pipe.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxOutput - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *limitedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
