package notify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/vigil-ha/vigil/internal/counter"
	"github.com/vigil-ha/vigil/internal/logx"
)

// PipeBuf is Linux's PIPE_BUF: a write of at most this many bytes to a
// pipe is atomic, never mixed with another write nor cut.
const PipeBuf = 4096

// DefaultFIFOMode is the mode of a FIFO OpenFIFO creates when
// FIFOConfig.Mode is zero: what keepalived's mkfifo(0644) gives under its
// default umask, 0177.
const DefaultFIFOMode fs.FileMode = 0o600

// FIFOConfig configures a notify FIFO: keepalived's notify_fifo,
// vrrp_notify_fifo or lvs_notify_fifo, with its *_fifo_script.
type FIFOConfig struct {
	// Path is the FIFO's path.
	Path string
	// User owns the FIFO when OpenFIFO creates it, and may own an
	// existing one (this process's user may too); nil means this
	// process's user only. keepalived's FIFO user is the one given after
	// the path, else the default script user (DefaultUser).
	User *User
	// Mode is the permission bits of a FIFO OpenFIFO creates, whatever
	// the process's umask: zero means DefaultFIFOMode. The mode of an
	// existing FIFO is left alone.
	Mode fs.FileMode
	// Script is keepalived's notify_fifo_script: FIFO.Run runs it with
	// Path appended to its arguments, for as long as Run runs (its
	// Timeout is not used). nil means none.
	Script *Script
	// Logger receives write errors (the 1st and every 100th), dropped
	// lines (likewise) and the script's end; nil discards them.
	Logger *slog.Logger
}

// Validate reports every misconfigured field as a *FieldError wrapping
// ErrInvalid (joined with errors.Join), or nil.
func (c *FIFOConfig) Validate() error {
	var errs []error
	bad := func(field, reason string) {
		errs = append(errs, &FieldError{Object: "fifo " + c.Path, Field: field, Reason: reason})
	}
	if c.Path == "" {
		bad("Path", "empty")
	}
	if c.Mode&^fs.ModePerm != 0 {
		bad("Mode", fmt.Sprintf("%v: only permission bits", c.Mode))
	}
	if c.Script != nil {
		errs = append(errs, c.Script.Validate())
	}
	return errors.Join(errs...)
}

// FIFOStats are a FIFO's totals.
type FIFOStats struct {
	Lines       uint64 // lines written
	Dropped     uint64 // lines dropped because the pipe was full (ErrFull)
	TooLong     uint64 // lines refused for being longer than PipeBuf (ErrTooLong)
	Errors      uint64 // other write errors
	ScriptExits uint64 // times the FIFO script ended before Run's context
}

type fifoCounters struct {
	Lines, Dropped, TooLong, Errors, ScriptExits atomic.Uint64
}

// A FIFO is an open notify FIFO, as keepalived's fifo_open leaves it
// (keepalived/core/notify.c): open for reading and writing, so that
// opening never waits for a reader and a write never fails with EPIPE;
// lines written while nobody reads wait in the pipe (64 KiB on Linux)
// until a reader comes.
//
// WriteLine never waits: the descriptor is non-blocking and a line that
// does not fit is dropped and counted, as keepalived drops it on EAGAIN.
// A line of at most PipeBuf bytes is written whole or not at all, so
// lines written from several goroutines never mix.
//
// A FIFO runs once: a second call to Run returns ErrRan, whether the
// first is still running or has returned. Its methods are safe for
// concurrent use.
type FIFO struct {
	cfg     FIFOConfig
	log     *slog.Logger
	created bool
	c       fifoCounters
	ran     atomic.Bool

	mu     sync.RWMutex // guards fd against Close during a write
	fd     int
	closed bool
}

// OpenFIFO opens the notify FIFO cfg describes, as keepalived's
// fifo_open does:
//
//   - it creates the FIFO if Path does not exist, with Mode, and gives it
//     to User (keepalived logs a failed chown and carries on; so does
//     OpenFIFO);
//   - it opens it O_RDWR|O_NONBLOCK|O_NOFOLLOW, and refuses anything that
//     is not a FIFO owned by this process's user or by User (keepalived:
//     "is not a fifo we own - not using"): a file planted at Path is
//     never written to. Unlike keepalived, which opens first and looks
//     after, OpenFIFO also refuses a non-FIFO before opening it, so that
//     opening a device has no effect;
//   - if opening fails, a FIFO it created is removed.
//
// keepalived carries on without a FIFO it could not open; OpenFIFO
// returns the error, naming the path, and the caller decides. It returns
// a *FieldError (ErrInvalid) if cfg is invalid. Close removes a FIFO that
// OpenFIFO created.
func OpenFIFO(cfg FIFOConfig) (*FIFO, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Mode == 0 {
		cfg.Mode = DefaultFIFOMode
	}
	f := &FIFO{cfg: cfg, log: logx.OrDiscard(cfg.Logger), fd: -1}
	if err := f.open(); err != nil {
		return nil, err
	}
	return f, nil
}

// Path returns the FIFO's path.
func (f *FIFO) Path() string { return f.cfg.Path }

// Created reports whether OpenFIFO created the FIFO (and Close removes it).
func (f *FIFO) Created() bool { return f.created }

// WriteLine writes line, which should end in a newline (the Line
// functions' results do), without waiting. It returns nil when the line
// was written; ErrFull when the pipe had no room, the line dropped and
// counted; ErrTooLong for a line longer than PipeBuf, not written; after
// Close, ErrClosed; or the write's error. Errors name the path.
func (f *FIFO) WriteLine(line string) error {
	if len(line) > PipeBuf {
		f.c.TooLong.Add(1)
		return fmt.Errorf("notify: fifo %s: %d bytes: %w", f.cfg.Path, len(line), ErrTooLong)
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return fmt.Errorf("notify: fifo %s: %w", f.cfg.Path, ErrClosed)
	}
	err := f.write(line)
	switch {
	case err == nil:
		f.c.Lines.Add(1)
		return nil
	case errors.Is(err, ErrFull):
		if n := f.c.Dropped.Add(1); logx.Sampled(n) {
			f.log.Warn("notify: fifo full, line dropped", "fifo", f.cfg.Path, "dropped", n)
		}
	default:
		if n := f.c.Errors.Add(1); logx.Sampled(n) {
			f.log.Warn("notify: fifo write failed", "fifo", f.cfg.Path, "err", err, "errors", n)
		}
	}
	return fmt.Errorf("notify: fifo %s: %w", f.cfg.Path, err)
}

// Close removes the FIFO if OpenFIFO created it, then closes it, in that
// order as keepalived does, so that a reader looping to reopen the path
// cannot find the old FIFO again; a reader still holding it reads what is
// left, then end of file. Later writes return ErrClosed; calling Close
// again does nothing. It does not stop the script; Run's context does.
func (f *FIFO) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	return f.close()
}

// Run runs the FIFO's script, with the FIFO's path as its last argument,
// until ctx ends; then the script's process group gets SIGTERM and,
// after the script's KillDelay, SIGKILL, and Run returns once it has
// been reaped. A script that ends by itself first is logged and counted
// in Stats.ScriptExits, and not started again (keepalived: "notify fifo
// script terminated"); Run then waits for ctx. Without a script Run just
// waits for ctx. It returns nil, ErrRan, or the error that kept the
// script from starting, at once.
func (f *FIFO) Run(ctx context.Context) error {
	if f.ran.Swap(true) {
		return ErrRan
	}
	if f.cfg.Script == nil {
		<-ctx.Done()
		return nil
	}
	s := *f.cfg.Script
	s.Timeout = -1
	res, err := s.Run(ctx, f.cfg.Path)
	if err != nil {
		return err
	}
	if !res.Canceled {
		f.c.ScriptExits.Add(1)
		f.log.Warn("notify: fifo script terminated", "fifo", f.cfg.Path, "script", res.Argv[0], "result", res.String())
		<-ctx.Done()
	}
	return nil
}

// Stats returns a snapshot of the counters.
func (f *FIFO) Stats() FIFOStats { return counter.Snapshot[FIFOStats](&f.c) }
