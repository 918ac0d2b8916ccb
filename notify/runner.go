package notify

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/vigil-ha/vigil/internal/counter"
	"github.com/vigil-ha/vigil/internal/feed"
	"github.com/vigil-ha/vigil/internal/logx"
)

// DefaultQueueLen is the number of notifications that may wait per key
// when Config.QueueLen is zero.
const DefaultQueueLen = 8

// Config configures a Runner.
type Config struct {
	// QueueLen bounds the notifications waiting per key, not counting the
	// one running: zero means DefaultQueueLen, a negative value no bound.
	// When a key has QueueLen waiting and one more comes, the oldest
	// waiting one is dropped.
	QueueLen int
	// Logger receives failed runs, dropped notifications (the 1st and
	// every 100th drop) and, at Debug, every run; nil discards them.
	Logger *slog.Logger
}

// A Call is one script run of a notification: Script with Args appended
// to its own (the four arguments of a generic notify script, say).
type Call struct {
	Script *Script
	Args   []string
}

// An Event reports one Call that ran or could not start.
type Event struct {
	// Key is the notification's key, as given to Notify.
	Key string
	// Result says how the script ended; its Argv is set even when Err is.
	Result Result
	// Err says why the script could not be started, or could not be
	// waited for; nil when it ran.
	Err error
}

// Stats are a Runner's totals.
type Stats struct {
	Notifications uint64 // notifications accepted by Notify
	Runs          uint64 // script runs that ended, whatever their exit status
	Failed        uint64 // runs that did not exit 0 by themselves (timeouts included)
	TimedOut      uint64 // runs stopped after their Timeout
	StartErrors   uint64 // calls whose script could not be started
	Dropped       uint64 // notifications dropped from a full queue, never run
	Canceled      uint64 // notifications never started because Run's context ended
	Waiting       int    // notifications waiting now, all keys together
	Running       int    // keys with a notification running now
}

// counters are the live Stats counters (see internal/counter).
type counters struct {
	Notifications, Runs, Failed, TimedOut, StartErrors, Dropped, Canceled atomic.Uint64
}

// A Runner runs notifications without ever making the caller wait, and
// keeps them in order per key. Create it with NewRunner.
//
// What is guaranteed, for the notifications given to Notify with one
// key (an instance, a sync group, a virtual server):
//
//   - they run one at a time, in the order Notify accepted them: the
//     Calls of a notification run one after another, and a notification
//     starts only after the last script of the one before it has exited
//     (by itself, or killed after its Timeout);
//   - at most QueueLen wait; when another comes, the oldest waiting one
//     is dropped (counted in Stats.Dropped), never the one running and
//     never the newest, so the last notification given always runs,
//     unless Run's context ends first;
//   - notifications of different keys run at the same time, each key in
//     its own goroutine.
//
// keepalived forks each notify script and moves on, so two transitions
// in quick succession can run their scripts at once and finish in any
// order (keepalived issues #1991, #782); the FIFO was its only ordered
// channel. Processes a script leaves behind when it exits are not waited
// for: nothing orders them.
//
// Notify may be called before Run: the notifications wait until Run
// starts. Close stops Notify and lets Run finish what is queued; the end
// of Run's context stops the scripts running (SIGTERM, then SIGKILL) and
// drops what waits (Stats.Canceled).
//
// A Runner runs once: a second call to Run returns ErrRan, whether the
// first is still running or has returned. Its methods are safe for
// concurrent use.
type Runner struct {
	log       *slog.Logger
	max       int // 0: no bound
	exec      func(ctx context.Context, c Call) (Result, error)
	feed      feed.Feed[Event]
	c         counters
	wg        sync.WaitGroup
	closing   chan struct{} // closed by Close
	closeOnce sync.Once

	mu      sync.Mutex
	ran     bool            // Run was called
	ctx     context.Context // Run's, while it runs; nil before
	done    bool            // Run is returning or has returned
	closed  bool            // Close was called
	keys    map[string]*keyQueue
	waiting int
	active  int // workers running
}

// keyQueue is one key's notifications.
type keyQueue struct {
	pending [][]Call
	busy    bool // a worker runs this key
}

// NewRunner returns a Runner configured by cfg.
func NewRunner(cfg Config) *Runner {
	max := cfg.QueueLen
	switch {
	case max == 0:
		max = DefaultQueueLen
	case max < 0:
		max = 0
	}
	return &Runner{
		log:     logx.OrDiscard(cfg.Logger),
		max:     max,
		exec:    func(ctx context.Context, c Call) (Result, error) { return c.Script.Run(ctx, c.Args...) },
		closing: make(chan struct{}),
		keys:    make(map[string]*keyQueue),
	}
}

// Notify queues a notification for key: calls, run in order after every
// notification queued before for key (see Runner). It never waits. It
// returns a *FieldError (ErrInvalid) if a Call has no Script or an
// invalid one, and ErrClosed after Close or once Run has returned; a
// notification without calls is accepted and does nothing.
func (r *Runner) Notify(key string, calls ...Call) error {
	for i, c := range calls {
		if c.Script == nil {
			return &FieldError{Object: "notification " + key, Field: fmt.Sprintf("Calls[%d].Script", i), Reason: "nil"}
		}
		if err := c.Script.Validate(); err != nil {
			return err
		}
	}
	if len(calls) == 0 {
		return nil
	}
	calls = slices.Clone(calls)
	for i := range calls {
		calls[i].Args = slices.Clone(calls[i].Args)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.done {
		return fmt.Errorf("notify: notification %s: %w", key, ErrClosed)
	}
	r.c.Notifications.Add(1)
	q := r.keys[key]
	if q == nil {
		q = &keyQueue{}
		r.keys[key] = q
	}
	if r.max > 0 && len(q.pending) >= r.max {
		q.pending[0] = nil
		q.pending = q.pending[1:]
		r.waiting--
		if n := r.c.Dropped.Add(1); logx.Sampled(n) {
			r.log.Warn("notify: queue full, oldest notification dropped", "key", key, "dropped", n)
		}
	}
	q.pending = append(q.pending, calls)
	r.waiting++
	r.startLocked(key, q)
	return nil
}

// startLocked starts a worker for key if Run runs and none does.
func (r *Runner) startLocked(key string, q *keyQueue) {
	if r.ctx == nil || r.done || q.busy || len(q.pending) == 0 {
		return
	}
	q.busy = true
	r.active++
	r.wg.Add(1)
	go r.work(r.ctx, key, q)
}

// work runs key's notifications until none waits.
func (r *Runner) work(ctx context.Context, key string, q *keyQueue) {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		if ctx.Err() != nil && len(q.pending) > 0 {
			r.c.Canceled.Add(uint64(len(q.pending)))
			r.waiting -= len(q.pending)
			q.pending = nil
		}
		if len(q.pending) == 0 {
			q.busy = false
			r.active--
			delete(r.keys, key)
			r.mu.Unlock()
			return
		}
		calls := q.pending[0]
		q.pending[0] = nil
		q.pending = q.pending[1:]
		r.waiting--
		r.mu.Unlock()

		for _, c := range calls {
			if ctx.Err() != nil {
				break
			}
			r.call(ctx, key, c)
		}
	}
}

// call runs one Call and reports it.
func (r *Runner) call(ctx context.Context, key string, c Call) {
	res, err := r.exec(ctx, c)
	if res.Argv == nil {
		res.Argv = append(append([]string(nil), c.Script.Args...), c.Args...)
	}
	switch {
	case err != nil:
		r.c.StartErrors.Add(1)
		r.log.Error("notify: script not run", "key", key, "script", res.Argv[0], "err", err)
	default:
		r.c.Runs.Add(1)
		if res.TimedOut {
			r.c.TimedOut.Add(1)
		}
		if res.OK() {
			r.log.Debug("notify: script ran", "key", key, "script", res.Argv[0], "duration", res.Duration)
		} else {
			r.c.Failed.Add(1)
			r.log.Warn("notify: script failed", "key", key, "script", res.Argv[0], "result", res.String(), "duration", res.Duration)
		}
	}
	r.feed.Publish(Event{Key: key, Result: res, Err: err})
}

// Close stops Notify: it returns ErrClosed from now on, and Run returns
// once every notification queued has run. Calling it again does nothing.
func (r *Runner) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.closeOnce.Do(func() { close(r.closing) })
}

// Run runs the notifications until ctx ends, or until Close has been
// called and none is left. When ctx ends, the scripts running are
// stopped (SIGTERM to their process groups, SIGKILL after their
// KillDelay) and the notifications waiting are dropped and counted in
// Stats.Canceled. Run returns only after every goroutine it started has
// ended and every script it started has been reaped; subscriptions are
// closed then. It returns nil, or ErrRan.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.ran {
		r.mu.Unlock()
		return ErrRan
	}
	r.ran = true
	r.ctx = ctx
	for key, q := range r.keys {
		r.startLocked(key, q)
	}
	r.mu.Unlock()

	select {
	case <-ctx.Done():
	case <-r.closing:
	}
	// Workers run what is queued, or drop it if ctx has ended.
	r.mu.Lock()
	r.done = true
	r.mu.Unlock()
	r.wg.Wait()
	r.feed.Close()
	return nil
}

// Stats returns a snapshot of the counters.
func (r *Runner) Stats() Stats {
	s := counter.Snapshot[Stats](&r.c)
	r.mu.Lock()
	s.Waiting, s.Running = r.waiting, r.active
	r.mu.Unlock()
	return s
}

// Subscribe returns a subscription to the Events of every Call run from
// now on, with a queue of n (at least 1). See Subscription.
func (r *Runner) Subscribe(n int) *Subscription {
	return &Subscription{sub: r.feed.Subscribe(n)}
}

// A Subscription receives a Runner's Events. The Runner never waits for
// it: its queue holds the n Events given to Subscribe (at least 1), and
// when it is full the oldest is dropped to make room and counted in
// Dropped. Its methods are safe for concurrent use.
type Subscription struct {
	sub *feed.Sub[Event]
}

// C returns the channel of Events. It is closed by Close, and when the
// Runner's Run returns, after the Events still queued.
func (s *Subscription) C() <-chan Event { return s.sub.C() }

// Close ends the subscription and closes C. Calling it again does nothing.
func (s *Subscription) Close() { s.sub.Close() }

// Dropped counts the Events this subscription lost because its queue was
// full.
func (s *Subscription) Dropped() uint64 { return s.sub.Dropped() }
