package watchdog

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/vigil-ha/vigil/internal/counter"
	"github.com/vigil-ha/vigil/internal/feed"
	"github.com/vigil-ha/vigil/internal/logx"
)

// Defaults for the zero values of Config fields.
const (
	// DefaultDeadline is the deadline of a loop registered with a zero
	// deadline when Config.Deadline is zero.
	DefaultDeadline = 10 * time.Second
	// DefaultStacks bounds the goroutine stacks recorded in an event when
	// Config.Stacks is zero.
	DefaultStacks = 64 << 10
	// MinCheck is the shortest period of the stall check, whatever the
	// deadlines.
	MinCheck = time.Millisecond
	// MinWatchdogInterval is the shortest systemd watchdog interval
	// accepted.
	MinWatchdogInterval = 2 * time.Millisecond
)

// Config configures a Watchdog. The zero value is ready to use.
type Config struct {
	// Deadline is the deadline of loops registered with a zero deadline;
	// zero means DefaultDeadline, a negative value that such loops are
	// never found stalled.
	Deadline time.Duration
	// Stacks bounds, in bytes, the goroutine stacks recorded in an
	// EventStalled (all goroutines) and an EventFailed for a panic (the
	// panicking goroutine), and logged with them; zero means
	// DefaultStacks, a negative value none.
	Stacks int
	// WatchdogInterval is systemd's watchdog timeout (WatchdogSec=): Run
	// sends WATCHDOG=1 every half of it while every registered loop is
	// beating. Zero means the interval systemd gives in WATCHDOG_USEC, if
	// WATCHDOG_PID is unset or this process (read by New through
	// go-systemd's daemon.SdWatchdogEnabled; neither variable is unset);
	// a negative value never sends WATCHDOG=1.
	WatchdogInterval time.Duration
	// NotifySocket is the path of systemd's notification socket (a
	// unixgram socket; a leading "@" names an abstract one). Empty means
	// the socket named by NOTIFY_SOCKET at each send, through go-systemd's
	// daemon.SdNotify; nothing is sent when that is unset too.
	NotifySocket string
	// Logger receives stalls, recoveries, failures and restarts, and
	// notification errors (the 1st and every 100th); nil discards them.
	Logger *slog.Logger
}

// Validate reports an invalid field of c as a *FieldError that wraps
// ErrInvalid; nil if c is valid. It does not read the environment.
func (c Config) Validate() error {
	if c.WatchdogInterval > 0 && c.WatchdogInterval < MinWatchdogInterval {
		return &FieldError{"config", "WatchdogInterval",
			fmt.Sprintf("%v, want at least %v", c.WatchdogInterval, MinWatchdogInterval)}
	}
	return nil
}

// Stats are a Watchdog's gauges and totals.
type Stats struct {
	Loops        int    // registered loops now
	Stalled      int    // registered loops found stalled and not recovered, now
	Stalls       uint64 // stalls found
	Recoveries   uint64 // stalled loops that beat again
	Panics       uint64 // guarded loops that panicked (counted in Failures too)
	Failures     uint64 // guarded loops that panicked, stalled or returned an error
	Restarts     uint64 // guarded loops started again after a failure
	Abandoned    uint64 // stalled guarded runs Guard stopped waiting for
	Stuck        int    // abandoned runs whose goroutine has not returned, now
	GaveUp       uint64 // Guard calls that returned ErrFailing
	Pings        uint64 // WATCHDOG=1 notifications sent
	Withheld     uint64 // WATCHDOG=1 notifications not sent because a loop was stalled
	NotifyErrors uint64 // notifications that failed to send
}

type counters struct {
	Stalls, Recoveries, Panics, Failures, Restarts, GaveUp atomic.Uint64
	Pings, Withheld, NotifyErrors, Abandoned               atomic.Uint64
}

// A Watchdog watches registered loops for stalls and, under systemd,
// tells systemd the process is alive only while they all beat. Create it
// with New. Register, Beat methods, Guard, Subscribe, Stats and the
// notification methods are safe for concurrent use, before, during and
// after Run. A Watchdog runs once: a second call to Run returns ErrRan,
// whether the first is still running or has returned.
type Watchdog struct {
	log      *slog.Logger
	epoch    time.Time // beats are stored as time since epoch (monotonic)
	deadline time.Duration
	stacks   int
	interval time.Duration // systemd's watchdog interval; 0: off
	socket   string
	feed     feed.Feed[Event]
	wake     chan struct{} // capacity 1: the registered loops changed
	counters counters
	stuck    atomic.Int64 // Stats.Stuck
	ran      atomic.Bool

	mu    sync.Mutex
	loops map[*Beat]struct{}
}

// New returns a Watchdog for cfg. It returns an error wrapping ErrInvalid
// if cfg is invalid or, with a zero WatchdogInterval, if WATCHDOG_USEC or
// WATCHDOG_PID cannot be parsed.
func New(cfg Config) (*Watchdog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Watchdog{
		log:      logx.OrDiscard(cfg.Logger),
		epoch:    time.Now(),
		deadline: cfg.Deadline,
		stacks:   cfg.Stacks,
		interval: cfg.WatchdogInterval,
		socket:   cfg.NotifySocket,
		wake:     make(chan struct{}, 1),
		loops:    make(map[*Beat]struct{}),
	}
	if w.deadline == 0 {
		w.deadline = DefaultDeadline
	}
	if w.stacks == 0 {
		w.stacks = DefaultStacks
	}
	switch {
	case w.interval < 0:
		w.interval = 0
	case w.interval == 0:
		d, err := daemon.SdWatchdogEnabled(false)
		if err != nil {
			return nil, &FieldError{"environment", "WATCHDOG_USEC", err.Error()}
		}
		if d > 0 && d < MinWatchdogInterval {
			return nil, &FieldError{"environment", "WATCHDOG_USEC",
				fmt.Sprintf("%v, want at least %v", d, MinWatchdogInterval)}
		}
		w.interval = d
	}
	return w, nil
}

// WatchdogInterval returns systemd's watchdog interval in use (from
// Config or the environment), or zero if Run sends no WATCHDOG=1.
func (w *Watchdog) WatchdogInterval() time.Duration { return w.interval }

// A Beat is one registered loop's heartbeat, returned by Register. Its
// methods are safe for concurrent use.
type Beat struct {
	last     atomic.Int64 // time of the last beat, as nanoseconds since w.epoch
	w        *Watchdog
	name     string
	deadline time.Duration          // negative: never stalled
	stall    chan struct{}          // capacity 1
	onStall  func()                 // Go's run: called when found stalled; set before registered
	hook     atomic.Pointer[func()] // SetOnStall's

	// Guarded by w.mu.
	stalled   bool  // found stalled and not recovered
	stallLast int64 // last when the stall was found
}

// Register starts watching a loop: from now on, it is stalled when it
// goes longer than deadline without calling Beat on the returned value.
// Registering counts as a beat. A zero deadline means Config.Deadline, a
// negative one that the loop is never found stalled. Names label events
// and logs; several loops may share one. Call Done when the loop ends.
func (w *Watchdog) Register(name string, deadline time.Duration) *Beat {
	b := w.newBeat(name, deadline, nil)
	w.add(b)
	return b
}

// newBeat returns the Beat of a loop not yet registered, with the
// function Run calls when it finds the loop stalled (nil: none).
func (w *Watchdog) newBeat(name string, deadline time.Duration, onStall func()) *Beat {
	if deadline == 0 {
		deadline = w.deadline
	}
	return &Beat{w: w, name: name, deadline: deadline, stall: make(chan struct{}, 1), onStall: onStall}
}

// add registers b, counting as a beat.
func (w *Watchdog) add(b *Beat) {
	b.Beat()
	w.mu.Lock()
	w.loops[b] = struct{}{}
	w.mu.Unlock()
	w.poke()
}

// poke tells Run that the registered loops changed.
func (w *Watchdog) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Beat records that the loop is alive. It is one atomic store of a
// monotonic time: no lock, no allocation, cheap enough for every turn of
// a hot loop. Beating after Done does nothing useful and no harm; a nil
// *Beat does nothing, so a part can hold one that is set only when it is
// watched.
func (b *Beat) Beat() {
	if b == nil {
		return
	}
	b.last.Store(int64(time.Since(b.w.epoch)))
}

// Period returns how often a loop that waits for events should wake to
// beat when nothing else wakes it: a quarter of its deadline. It returns
// zero for a nil *Beat and for a loop that is never found stalled.
func (b *Beat) Period() time.Duration {
	if b == nil || b.deadline <= 0 {
		return 0
	}
	return max(b.deadline/4, MinCheck)
}

// Done stops watching the loop; a stall it was in ends without an
// EventRecovered. Calling it again does nothing.
func (b *Beat) Done() {
	w := b.w
	w.mu.Lock()
	_, ok := w.loops[b]
	delete(w.loops, b)
	w.mu.Unlock()
	if ok {
		w.poke()
	}
}

// Name returns the name the loop was registered with.
func (b *Beat) Name() string { return b.name }

// Deadline returns the loop's deadline; negative if it is never found
// stalled.
func (b *Beat) Deadline() time.Duration { return b.deadline }

// SetOnStall makes Run call f, on its own goroutine, each time it finds
// the loop stalled: before Guard or Go cancel the run's ctx, so that the
// loop's owner can cut the run off first (close what it writes to).
// f must not block. A nil f removes it.
func (b *Beat) SetOnStall(f func()) {
	if f == nil {
		b.hook.Store(nil)
		return
	}
	b.hook.Store(&f)
}

// Stalled returns a channel that receives a value when Run finds the loop
// stalled (at most one value waits), so the loop's owner can restart it.
// It is never closed.
func (b *Beat) Stalled() <-chan struct{} { return b.stall }

// Subscribe returns a subscription to the Watchdog's events whose queue
// holds n events (at least 1). Its C is closed when Run returns.
func (w *Watchdog) Subscribe(n int) *Subscription {
	return &Subscription{sub: w.feed.Subscribe(n)}
}

// Stats returns a snapshot of the Watchdog's gauges and totals.
func (w *Watchdog) Stats() Stats {
	s := counter.Snapshot[Stats](&w.counters)
	s.Stuck = int(w.stuck.Load())
	w.mu.Lock()
	defer w.mu.Unlock()
	s.Loops = len(w.loops)
	for b := range w.loops {
		if b.stalled {
			s.Stalled++
		}
	}
	return s
}
