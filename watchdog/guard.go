package watchdog

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/internal/sleep"
)

// Defaults for the zero values of Policy fields.
const (
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 30 * time.Second
	DefaultFailures   = 5
	DefaultWindow     = time.Minute
	DefaultAbandon    = time.Second
)

// A Policy says how Guard watches and restarts a loop. The zero value is
// the defaults.
type Policy struct {
	// Deadline is the loop's deadline, as given to Register: zero means
	// Config.Deadline, a negative value that the loop is never found
	// stalled.
	Deadline time.Duration
	// Backoff is the wait before the restart that follows the first
	// failure within Window; it doubles with each further failure within
	// Window. Zero means DefaultBackoff, a negative value restarts at once.
	Backoff time.Duration
	// MaxBackoff bounds the wait; zero means DefaultMaxBackoff, a negative
	// value no bound.
	MaxBackoff time.Duration
	// Immediate is how many failures within Window are restarted at
	// once, before the backoff applies: with Immediate 1, a loop that
	// fails once in a while comes back without a wait, and Backoff is
	// the wait after its second failure within Window (keepalived
	// respawns a child that ran for over a minute at once). Zero or a
	// negative value means none: every restart waits.
	Immediate int
	// Failures is the failure budget: the Failures-th failure within
	// Window makes Guard return. Zero means DefaultFailures, a negative
	// value never gives up.
	Failures int
	// Window is how long a failure counts, for the budget and the
	// backoff. Zero means DefaultWindow, a negative value forever.
	Window time.Duration
	// Abandon is how long Guard waits for a stalled run to return after
	// canceling its ctx. A run still running then is abandoned: Guard
	// stops waiting, unregisters it and restarts the loop, leaving its
	// goroutine behind (counted in Stats.Abandoned and Stats.Stuck until
	// it returns, if ever). Zero means DefaultAbandon, a negative value
	// that Guard waits for ever (the run stays registered and stalled,
	// so Run withholds WATCHDOG=1 and systemd kills the process).
	Abandon time.Duration
}

// withDefaults returns p with its zero fields set to their defaults.
func (p Policy) withDefaults() Policy {
	if p.Backoff == 0 {
		p.Backoff = DefaultBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	if p.Failures == 0 {
		p.Failures = DefaultFailures
	}
	if p.Window == 0 {
		p.Window = DefaultWindow
	}
	if p.Abandon == 0 {
		p.Abandon = DefaultAbandon
	}
	return p
}

// Validate reports an invalid field of p (after defaults) as a *FieldError
// that wraps ErrInvalid; nil if p is valid.
func (p Policy) Validate() error {
	d := p.withDefaults()
	if d.Backoff > 0 && d.MaxBackoff > 0 && d.MaxBackoff < d.Backoff {
		return &FieldError{"policy", "MaxBackoff", fmt.Sprintf("%v, below Backoff %v", d.MaxBackoff, d.Backoff)}
	}
	return nil
}

// backoff returns the wait after the n-th failure within the window
// (n >= 1): none for the first Immediate, then Backoff × 2^(n-1-Immediate),
// bounded by MaxBackoff.
func (p Policy) backoff(n int) time.Duration {
	if p.Backoff < 0 || n <= p.Immediate {
		return 0
	}
	n -= max(p.Immediate, 0)
	d := p.Backoff
	for range n - 1 {
		if p.MaxBackoff > 0 && d >= p.MaxBackoff {
			break
		}
		if d > 1<<62 {
			return 1<<63 - 1
		}
		d *= 2
	}
	if p.MaxBackoff > 0 {
		d = min(d, p.MaxBackoff)
	}
	return d
}

// Guard runs fn as the loop name under the watchdog until ctx is done,
// restarting it when it fails. Each run is registered (Register with
// p.Deadline) and given its Beat, which fn must call at least once per
// deadline; the run is unregistered when fn returns, so no loop is
// watched during a backoff.
//
// A run fails when fn panics (the panic is recovered), returns an error
// while ctx is not done, or is found stalled by Run: then its ctx is
// canceled with cause ErrStalled and Guard waits for fn to return. Each
// failure is logged, counted, and published as an EventFailed; Guard then
// waits the backoff (none for the first p.Immediate failures within
// p.Window, then p.Backoff doubled for each further one, at most
// p.MaxBackoff) and starts fn again (EventRestarted).
// The p.Failures-th failure within p.Window ends Guard instead, with an
// EventGaveUp and an error wrapping ErrFailing and the last failure's
// error.
//
// A goroutine cannot be killed: a run stalled in a call that ignores its
// ctx (a blocked syscall, a deadlock) returns only if what it waits on is
// closed. fn's owner closes it when fn's ctx is canceled with cause
// ErrStalled (closing a socket unblocks a read or write on it). If the
// run has still not returned p.Abandon after the cancel, Guard abandons
// it (EventAbandoned, Stats.Abandoned): it unregisters the run and
// restarts the loop, and the run's goroutine is left behind, counted in
// Stats.Stuck until it returns. fn must then leave nothing behind that a
// later run cannot take over, since the abandoned run may still act when
// it wakes: its owner fences it off (its resources refuse it) before the
// restart. With a negative p.Abandon, Guard waits for ever instead: the
// run stays registered and stalled, so Run withholds WATCHDOG=1 and
// systemd kills the process.
//
// Guard returns nil when ctx is done (after fn returns, or is abandoned)
// or when fn returns nil: a loop that has finished is not restarted. It
// returns an error wrapping ErrInvalid, without running fn, if p is
// invalid. Panics are recovered whether or not Run runs; stalls are found
// only while it does.
func (w *Watchdog) Guard(ctx context.Context, name string, p Policy, fn func(ctx context.Context, b *Beat) error) error {
	if err := p.Validate(); err != nil {
		if fe, ok := err.(*FieldError); ok {
			fe.Object = fmt.Sprintf("policy of loop %q", name)
		}
		return err
	}
	p = p.withDefaults()
	var recent []time.Time // failures within the window, oldest first
	for {
		err, stalled := w.runOnce(ctx, name, p, fn)
		if ctx.Err() != nil {
			return nil
		}
		if stalled {
			err = ErrStalled
		}
		if err == nil {
			return nil
		}

		now := time.Now()
		if p.Window > 0 {
			i := 0
			for i < len(recent) && now.Sub(recent[i]) >= p.Window {
				i++
			}
			recent = recent[i:]
		}
		recent = append(recent, now)
		if keep := max(p.Failures, 64); len(recent) > keep {
			recent = recent[len(recent)-keep:]
		}
		n := len(recent)
		w.counters.Failures.Add(1)
		ev := Event{Kind: EventFailed, Name: name, Time: now, Err: err, Failures: n}
		if pe, ok := err.(*PanicError); ok {
			w.counters.Panics.Add(1)
			ev.Stack = pe.Stack
		}

		if p.Failures > 0 && n >= p.Failures {
			w.feed.Publish(ev)
			w.counters.GaveUp.Add(1)
			w.log.Error("watchdog: loop failed, giving up", "loop", name, "err", err,
				"failures", n, "window", p.Window, "stack", ev.Stack)
			w.feed.Publish(Event{Kind: EventGaveUp, Name: name, Time: now, Err: err, Failures: n})
			return fmt.Errorf("%w: loop %q: %d failures within %v, the last: %w", ErrFailing, name, n, p.Window, err)
		}

		ev.Backoff = p.backoff(n)
		w.log.Error("watchdog: loop failed", "loop", name, "err", err,
			"failures", n, "backoff", ev.Backoff, "stack", ev.Stack)
		w.feed.Publish(ev)
		if !sleep.For(ctx, ev.Backoff) {
			return nil
		}
		w.counters.Restarts.Add(1)
		w.log.Info("watchdog: loop restarted", "loop", name, "failures", n)
		w.feed.Publish(Event{Kind: EventRestarted, Name: name, Time: time.Now(), Failures: n})
	}
}

// runOnce runs fn once, registered, and returns what it returned (a
// *PanicError if it panicked) and whether it was found stalled. A stalled
// run that does not return within p.Abandon is abandoned: runOnce
// returns without it.
func (w *Watchdog) runOnce(ctx context.Context, name string, p Policy, fn func(context.Context, *Beat) error) (err error, stalled bool) {
	b := w.Register(name, p.Deadline)
	defer b.Done()
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	res := make(chan error, 1)
	var state atomic.Int32 // runRunning, runReturned, runAbandoned
	go func() {
		var err error
		defer func() {
			res <- err // also if fn calls runtime.Goexit
			if !state.CompareAndSwap(runRunning, runReturned) {
				w.stuck.Add(-1)
				w.log.Warn("watchdog: abandoned loop returned", "loop", name, "err", err)
			}
		}()
		err = w.call(rctx, b, fn)
	}()
	select {
	case err = <-res:
		return err, false
	case <-b.Stalled():
	}
	cancel(ErrStalled)
	if p.Abandon < 0 {
		return <-res, true
	}
	t := time.NewTimer(p.Abandon)
	defer t.Stop()
	select {
	case err = <-res:
		return err, true
	case <-t.C:
	}
	if !state.CompareAndSwap(runRunning, runAbandoned) {
		return <-res, true // it returned just now
	}
	w.stuck.Add(1)
	w.counters.Abandoned.Add(1)
	w.log.Error("watchdog: stalled loop abandoned: its goroutine is left behind", "loop", name,
		"waited", p.Abandon, "stuck", w.stuck.Load())
	w.feed.Publish(Event{Kind: EventAbandoned, Name: name, Time: time.Now(), Stalled: p.Abandon})
	return nil, true
}

// The states of a guarded run's goroutine.
const (
	runRunning int32 = iota
	runReturned
	runAbandoned
)

// call runs fn, turning a panic into a *PanicError.
func (w *Watchdog) call(ctx context.Context, b *Beat, fn func(context.Context, *Beat) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			pe := &PanicError{Value: v}
			if w.stacks > 0 {
				st := debug.Stack()
				pe.Stack = string(st[:min(len(st), w.stacks)])
			}
			err = pe
		}
	}()
	return fn(ctx, b)
}
