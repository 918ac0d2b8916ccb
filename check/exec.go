package check

import (
	"bytes"
	"context"
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

// Validate returns a *FieldError if Path is empty. User and Group are
// looked up when the program runs, as they may come and go.
func (c *Exec) Validate() error { return required(c, "Path", c.Path) }

// Check runs the program.
func (c *Exec) Check(ctx context.Context) error {
	_, _, err := c.CheckWeight(ctx)
	return err
}

// CheckWeight runs the program; with Dynamic, an exit status of 2–255
// reports weight status − 2, keepalived's new weight for the real server.
func (c *Exec) CheckWeight(ctx context.Context) (weight int, ok bool, err error) {
	if err := ready(ctx, c); err != nil {
		return 0, false, err
	}
	uid, gid, err := c.credential()
	if err != nil {
		return 0, false, err
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

// credential resolves User and Group; -1 means unchanged. A name or
// number that does not resolve is a *FieldError.
func (c *Exec) credential() (uid, gid int, err error) {
	uid, gid = -1, -1
	if c.User != "" {
		u, err := lookup(user.Lookup, user.LookupId, c.User)
		if err != nil {
			return 0, 0, invalid(c, "User", err.Error())
		}
		if uid, err = strconv.Atoi(u.Uid); err != nil {
			return 0, 0, invalid(c, "User", fmt.Sprintf("%q: uid %q is not a number", c.User, u.Uid))
		}
		if gid, err = strconv.Atoi(u.Gid); err != nil {
			return 0, 0, invalid(c, "User", fmt.Sprintf("%q: gid %q is not a number", c.User, u.Gid))
		}
	}
	if c.Group != "" {
		g, err := lookup(user.LookupGroup, user.LookupGroupId, c.Group)
		if err != nil {
			return 0, 0, invalid(c, "Group", err.Error())
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return 0, 0, invalid(c, "Group", fmt.Sprintf("%q: gid %q is not a number", c.Group, g.Gid))
		}
		if uid < 0 {
			uid = os.Getuid()
		}
	}
	return uid, gid, nil
}

// lookup resolves a user or group given by name, or else by number. The
// error is the lookup by name's.
func lookup[T any](byName, byID func(string) (T, error), s string) (T, error) {
	v, err := byName(s)
	if err == nil {
		return v, nil
	}
	if v, idErr := byID(s); idErr == nil {
		return v, nil
	}
	return v, err
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
