package watchdog

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
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
	res := make(chan error, 1)
	if err := w.Go(ctx, name, p, fn, func(err error) { res <- err }); err != nil {
		return err
	}
	return <-res
}

// Go is Guard without the wait: it returns at once and runs each run of
// fn at the bottom of a goroutine of its own, which after fn returns
// counts the failure, waits the backoff and starts the next; done
// receives what Guard would have returned, once, on the last run's
// goroutine, when the loop ends. While fn runs, its goroutine is the
// only one the loop has (Guard's caller waits besides): Run's stall
// check cancels a stalled run itself and a timer abandons it. A run
// abandoned leaves its goroutine to fn; the timer's goroutine carries
// the loop on. If p is invalid Go returns an error
// wrapping ErrInvalid, runs nothing and never calls done.
func (w *Watchdog) Go(ctx context.Context, name string, p Policy, fn func(ctx context.Context, b *Beat) error, done func(error)) error {
	if err := p.Validate(); err != nil {
		if fe, ok := err.(*FieldError); ok {
			fe.Object = fmt.Sprintf("policy of loop %q", name)
		}
		return err
	}
	g := &guard{w: w, ctx: ctx, name: name, p: p.withDefaults(), fn: fn, done: done}
	go g.run(g.start())
	return nil
}

// guard is a loop Go runs: whichever goroutine owns it (the one running
// fn, or the one that took over from an abandoned run) runs fn, counts
// its failures and waits its backoffs.
type guard struct {
	w      *Watchdog
	ctx    context.Context
	name   string
	p      Policy
	fn     func(ctx context.Context, b *Beat) error
	done   func(error)
	recent []time.Time // failures within the window, oldest first
}

// run is one run of fn, at the bottom of a goroutine of its own: fn's
// frames are all a run adds to its goroutine's stack, so that a loop
// waiting in fn keeps a small one (vrrp.Router.Run's routers: 4 KiB).
func (g *guard) run(r *guardRun) {
	defer g.finish(r)
	r.err = g.fn(r.ctx, r.b)
}

// finish takes the end of run r, a panic recovered into a *PanicError:
// unless r had been abandoned (the loop went on elsewhere) or the loop
// ends, it starts the next run after the backoff. fn calling
// runtime.Goexit ends the loop as a return of nil does.
func (g *guard) finish(r *guardRun) {
	if v := recover(); v != nil {
		r.err = g.w.panicError(v)
	}
	if !r.end(r.err) || !g.next(r.err, r.stalled.Load()) {
		return
	}
	go g.run(g.start())
}

// start registers a run of fn.
func (g *guard) start() *guardRun {
	r := &guardRun{g: g}
	r.ctx, r.cancel = context.WithCancelCause(g.ctx)
	r.b = g.w.newBeat(g.name, g.p.Deadline, r.stall)
	g.w.add(r.b) // from here Run may call r.stall
	return r
}

// next takes a run's end: it reports true when fn is to run again, after
// the backoff; otherwise the loop has ended and done has its result.
func (g *guard) next(err error, stalled bool) bool {
	w, p := g.w, g.p
	if g.ctx.Err() != nil {
		g.done(nil)
		return false
	}
	if stalled {
		err = ErrStalled
	}
	if err == nil {
		g.done(nil)
		return false
	}

	now := time.Now()
	if p.Window > 0 {
		i := 0
		for i < len(g.recent) && now.Sub(g.recent[i]) >= p.Window {
			i++
		}
		g.recent = g.recent[i:]
	}
	g.recent = append(g.recent, now)
	if keep := max(p.Failures, 64); len(g.recent) > keep {
		g.recent = g.recent[len(g.recent)-keep:]
	}
	n := len(g.recent)
	w.counters.Failures.Add(1)
	ev := Event{Kind: EventFailed, Name: g.name, Time: now, Err: err, Failures: n}
	if pe, ok := err.(*PanicError); ok {
		w.counters.Panics.Add(1)
		ev.Stack = pe.Stack
	}

	if p.Failures > 0 && n >= p.Failures {
		w.feed.Publish(ev)
		w.counters.GaveUp.Add(1)
		w.log.Error("watchdog: loop failed, giving up", "loop", g.name, "err", err,
			"failures", n, "window", p.Window, "stack", ev.Stack)
		w.feed.Publish(Event{Kind: EventGaveUp, Name: g.name, Time: now, Err: err, Failures: n})
		g.done(fmt.Errorf("%w: loop %q: %d failures within %v, the last: %w", ErrFailing, g.name, n, p.Window, err))
		return false
	}

	ev.Backoff = p.backoff(n)
	w.log.Error("watchdog: loop failed", "loop", g.name, "err", err,
		"failures", n, "backoff", ev.Backoff, "stack", ev.Stack)
	w.feed.Publish(ev)
	if !sleep.For(g.ctx, ev.Backoff) {
		g.done(nil)
		return false
	}
	w.counters.Restarts.Add(1)
	w.log.Info("watchdog: loop restarted", "loop", g.name, "failures", n)
	w.feed.Publish(Event{Kind: EventRestarted, Name: g.name, Time: time.Now(), Failures: n})
	return true
}

// guardRun is one run of a guard's fn.
type guardRun struct {
	g       *guard
	b       *Beat
	ctx     context.Context
	cancel  context.CancelCauseFunc
	state   atomic.Int32 // runRunning, runReturned, runAbandoned
	stalled atomic.Bool  // found stalled: its ctx canceled with ErrStalled
	err     error        // what fn returned; its goroutine's

	mu      sync.Mutex
	abandon *time.Timer // armed when found stalled; nil otherwise
}

// stall is the Beat's onStall: Run's check found the run stalled. It
// cancels the run's ctx with cause ErrStalled and arms the timer that
// abandons the run if it has not returned p.Abandon later.
func (r *guardRun) stall() {
	if !r.stalled.CompareAndSwap(false, true) {
		return
	}
	r.cancel(ErrStalled)
	if r.g.p.Abandon < 0 {
		return
	}
	r.mu.Lock()
	if r.state.Load() == runRunning {
		r.abandon = time.AfterFunc(r.g.p.Abandon, r.abandoned)
	}
	r.mu.Unlock()
}

// end takes the return of the run, with err: false if it had been
// abandoned (the loop goes on elsewhere); otherwise it is unregistered,
// its ctx released, no abandonment pending.
func (r *guardRun) end(err error) bool {
	if !r.state.CompareAndSwap(runRunning, runReturned) {
		r.g.w.stuck.Add(-1)
		r.g.w.log.Warn("watchdog: abandoned loop returned", "loop", r.g.name, "err", err)
		return false
	}
	r.mu.Lock()
	if r.abandon != nil {
		r.abandon.Stop()
	}
	r.mu.Unlock()
	r.b.Done()
	r.cancel(nil)
	return true
}

// abandoned gives up on a stalled run that has not returned: the run is
// unregistered and left to its goroutine, and this goroutine (the
// timer's) carries the loop on.
func (r *guardRun) abandoned() {
	if !r.state.CompareAndSwap(runRunning, runAbandoned) {
		return // it returned just now
	}
	g, w := r.g, r.g.w
	r.b.Done()
	w.stuck.Add(1)
	w.counters.Abandoned.Add(1)
	w.log.Error("watchdog: stalled loop abandoned: its goroutine is left behind", "loop", g.name,
		"waited", g.p.Abandon, "stuck", w.stuck.Load())
	w.feed.Publish(Event{Kind: EventAbandoned, Name: g.name, Time: time.Now(), Stalled: g.p.Abandon})
	if g.next(nil, true) {
		g.run(g.start())
	}
}

// The states of a guarded run's goroutine.
const (
	runRunning int32 = iota
	runReturned
	runAbandoned
)

// panicError is the *PanicError of a recovered panic v, with the
// panicking goroutine's stack (Config.Stacks) when called from the
// deferred function that recovered it.
func (w *Watchdog) panicError(v any) *PanicError {
	pe := &PanicError{Value: v}
	if w.stacks > 0 {
		st := debug.Stack()
		pe.Stack = string(st[:min(len(st), w.stacks)])
	}
	return pe
}
