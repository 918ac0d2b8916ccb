package sched

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/hist"
	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/watchdog"
)

// Histogram is a histogram of durations (Stats.Lateness; check.Stats
// uses it too): counts per bucket, the buckets' bounds in HistogramBounds.
type Histogram = hist.Snapshot

// HistogramBounds are the upper bounds of a Histogram's buckets, 1 ms to
// 10 s; its last bucket is unbounded.
var HistogramBounds = hist.Bounds

// DefaultMaxInFlight is the bound on concurrent runs when
// Config.MaxInFlight is zero.
const DefaultMaxInFlight = 1024

// DefaultStopTimeout is how long Run waits, once its context is done,
// for the runs in flight when Config.StopTimeout is zero.
const DefaultStopTimeout = 5 * time.Second

// Config configures a Runner.
type Config struct {
	// MaxInFlight bounds the runs executing at once; zero means
	// DefaultMaxInFlight, a negative value no bound. Runs beyond it wait
	// for a slot in FIFO order.
	MaxInFlight int
	// Logger receives recovered panics (the 1st and every 100th of each
	// job) and debug events; nil discards them.
	Logger *slog.Logger
	// Rand is the jitter source, used only by Run's goroutine; nil means a
	// randomly seeded PCG.
	Rand *rand.Rand
	// StopTimeout bounds how long Run waits for the runs in flight after
	// its context is done (their contexts are cancelled then); zero means
	// DefaultStopTimeout, a negative value waits for ever. A run still
	// going then is abandoned (see Run).
	StopTimeout time.Duration
}

// Stats are a Runner's totals.
type Stats struct {
	Jobs     int    // jobs added and not removed
	InFlight int    // runs executing now
	Queued   int    // runs waiting for a MaxInFlight slot now
	Runs     uint64 // runs finished
	Skipped  uint64 // ticks skipped because the job's previous run was not finished
	Delayed  uint64 // runs that had to wait for a MaxInFlight slot
	Panics   uint64 // runs that panicked (the panic is recovered and logged)
	// Abandoned counts the runs Run left still running when it returned,
	// past StopTimeout: jobs that ignore their context.
	Abandoned uint64
	// Lateness is the histogram of the runs' lateness: how long after its
	// due time each run started (waiting for a MaxInFlight slot, or the
	// Runner's goroutine late).
	Lateness Histogram
}

// A Runner runs periodic jobs from one timer heap. Create it with New.
// A Runner runs once: a second call to Run returns ErrRan, whether the
// first is still running or has returned.
type Runner struct {
	log  *slog.Logger
	max  int           // 0: no bound
	stop time.Duration // StopTimeout, defaulted; negative: for ever
	wake chan struct{} // capacity 1: "ops are pending"
	wg   sync.WaitGroup

	// Owned by the Run goroutine.
	rng     *rand.Rand
	heap    jobHeap
	stagger uint64

	// mu guards the fields below and every Handle's fields marked so. The
	// counters are updated together with the gauges, so Stats reads them
	// all under mu rather than as separate atomics.
	mu       sync.Mutex
	jctx     context.Context // the runs' parent, set when Run starts
	started  bool
	stopped  bool
	epoch    time.Time // when Run started; due times are offsets from it
	ops      []op      // requests for the Run goroutine
	queue    fifo      // runs waiting for a slot
	inFlight int
	jobs     int
	runs     uint64
	skipped  uint64
	delayed  uint64
	panics   uint64
	abandon  uint64
	late     hist.Hist
	beat     *watchdog.Beat // SetBeat's
}

type opKind uint8

const (
	opAdd opKind = iota + 1
	opRemove
	opTrigger
	opInterval
)

// op is a request from Add or a Handle method to the Run goroutine.
type op struct {
	kind opKind
	h    *Handle
	at   time.Time     // opTrigger: when Trigger was called
	iv   time.Duration // opInterval: the new interval
}

// New returns a Runner; start it with Run.
func New(cfg Config) *Runner {
	s := &Runner{
		log:  logx.OrDiscard(cfg.Logger),
		rng:  cfg.Rand,
		wake: make(chan struct{}, 1),
	}
	switch {
	case cfg.MaxInFlight == 0:
		s.max = DefaultMaxInFlight
	case cfg.MaxInFlight > 0:
		s.max = cfg.MaxInFlight
	}
	if s.rng == nil {
		s.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	s.stop = cfg.StopTimeout
	if s.stop == 0 {
		s.stop = DefaultStopTimeout
	}
	return s
}

// Add schedules j. It may be called before or during Run. It returns the
// errors of j.Validate (wrapping ErrInvalid) if j is malformed, and
// ErrStopped once Run has stopped.
func (s *Runner) Add(j Job) (*Handle, error) {
	if err := j.Validate(); err != nil {
		return nil, err
	}
	h := &Handle{s: s, job: j, iv: j.Interval, index: -1}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil, fmt.Errorf("job %q: %w", j.Name, ErrStopped)
	}
	s.jobs++
	s.ops = append(s.ops, op{kind: opAdd, h: h})
	s.mu.Unlock()
	s.poke()
	return h, nil
}

// Stats returns the runner's totals.
func (s *Runner) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Jobs:      s.jobs,
		InFlight:  s.inFlight,
		Queued:    s.queue.len(),
		Runs:      s.runs,
		Skipped:   s.skipped,
		Delayed:   s.delayed,
		Panics:    s.panics,
		Abandoned: s.abandon,
		Lateness:  s.late.Snapshot(),
	}
}

// SetBeat makes Run's goroutine beat b (see package watchdog) on every
// turn of its loop, and at least every b.Period() while no run is due, so
// that a Runner stuck (its goroutine blocked, or starved) is found
// stalled; its owner calls b.Done once Run returned. The runs themselves do not
// beat: a hung run is the job's business (Config.StopTimeout). Call it
// before Run: once Run was called, it changes nothing and returns ErrRan.
func (s *Runner) SetBeat(b *watchdog.Beat) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrRan
	}
	s.beat = b
	return nil
}

// request queues o for the Run goroutine and wakes it, unless Run has
// stopped.
func (s *Runner) request(o op) {
	s.mu.Lock()
	notify := s.started && !s.stopped
	if !s.stopped {
		s.ops = append(s.ops, o)
	}
	s.mu.Unlock()
	if notify {
		s.poke()
	}
}

// poke wakes the Run goroutine. It must not be called with s.mu held.
func (s *Runner) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run runs the jobs until ctx is done, then cancels the runs in flight
// and waits for them to return, up to Config.StopTimeout; runs still
// waiting for a slot are dropped. It returns nil when ctx is done. A run
// that ignores its context and is still going after StopTimeout is
// abandoned, so that a hung job cannot hold its owner's shutdown: it is
// logged with its job's name and counted (Stats.Abandoned), and its
// goroutine, the one thing Run leaves behind, ends when the job returns.
// A Runner runs once: a second call returns ErrRan.
func (s *Runner) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return ErrRan
	}
	s.started = true
	s.epoch = time.Now()
	s.mu.Unlock()

	// Runs' contexts hang off one standard cancelCtx, whatever ctx is.
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.jctx = jctx
	s.mu.Unlock()
	s.log.Debug("sched: running", "max_in_flight", s.max)
	s.loop(ctx)

	s.mu.Lock()
	s.stopped = true
	for _, r := range s.queue.drain() {
		r.h.busy = false
	}
	s.ops = nil
	s.mu.Unlock()
	s.waitRuns()
	s.heap = nil
	s.log.Debug("sched: stopped")
	return nil
}

// waitRuns waits for the runs in flight, up to s.stop, and abandons
// those still going then.
func (s *Runner) waitRuns() {
	if s.stop < 0 {
		s.wg.Wait()
		return
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	t := time.NewTimer(s.stop)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	var names []string
	s.mu.Lock()
	n := s.inFlight
	s.abandon += uint64(n)
	for _, e := range s.heap {
		if e.h.cancel != nil {
			names = append(names, e.h.job.Name)
		}
	}
	s.mu.Unlock()
	s.log.Error("sched: runs ignored their cancellation; abandoned", "runs", n, "jobs", fmt.Sprint(names), "waited", s.stop.String())
}

// loop is the Run goroutine's body: it applies ops, starts due runs and
// sleeps until the next due time, a poke or ctx's end.
func (s *Runner) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	s.mu.Lock()
	beat := s.beat
	s.mu.Unlock()
	var ops []op
	for ctx.Err() == nil {
		now := time.Since(s.epoch)
		s.mu.Lock()
		ops, s.ops = s.ops, ops
		for _, o := range ops {
			s.applyLocked(o, now)
		}
		clear(ops)
		ops = ops[:0]
		if cap(ops) > 1024 { // do not keep a burst of Adds' buffer forever
			ops = nil
		}
		s.fireLocked(now)
		s.mu.Unlock()

		var tc <-chan time.Time
		if len(s.heap) > 0 {
			d := s.heap[0].due - time.Since(s.epoch)
			if p := beat.Period(); p > 0 {
				d = min(d, p)
			}
			timer.Reset(d)
			tc = timer.C
		} else if p := beat.Period(); p > 0 {
			timer.Reset(p)
			tc = timer.C
		} else {
			timer.Stop()
		}
		beat.Beat()
		select {
		case <-ctx.Done():
		case <-tc:
		case <-s.wake:
		}
	}
}

// applyLocked carries out one request from Add or a Handle method.
func (s *Runner) applyLocked(o op, now time.Duration) {
	h := o.h
	if h.removed && o.kind != opRemove {
		return
	}
	switch o.kind {
	case opAdd:
		h.added = true
		if !h.job.LastRun.IsZero() {
			h.fired, h.last = true, h.job.LastRun.Sub(s.epoch)
			s.setIntervalLocked(h, h.iv, now)
			return
		}
		off := max(h.job.Offset, 0)
		if h.job.Spread && h.iv > 0 {
			off = addSat(off, s.staggerOffset(h.iv))
		}
		h.base = addSat(now, off)
		heap.Push(&s.heap, entry{due: addSat(h.base, s.jitter(h)), h: h})
	case opRemove:
		if h.index >= 0 {
			heap.Remove(&s.heap, h.index)
		}
	case opTrigger:
		h.triggered = false
		if h.busy || !h.added {
			return
		}
		s.dispatchLocked(h, max(o.at.Sub(s.epoch), 0))
	case opInterval:
		s.setIntervalLocked(h, o.iv, now)
	}
}

// setIntervalLocked gives h the interval iv. A job that has not run yet
// keeps its first due time. Otherwise its ticks restart from the tick of
// its last run: the next is the first of last+iv, last+2iv, ... that is
// not before now.
func (s *Runner) setIntervalLocked(h *Handle, iv, now time.Duration) {
	h.iv = iv
	if !h.fired {
		return
	}
	if iv < 0 {
		if h.index >= 0 {
			heap.Remove(&s.heap, h.index)
		}
		return
	}
	next := nextTick(h.last, iv, now)
	h.base = next
	due := addSat(next, s.jitter(h))
	if h.index >= 0 {
		s.heap[h.index].due = due
		heap.Fix(&s.heap, h.index)
	} else {
		heap.Push(&s.heap, entry{due: due, h: h})
	}
}

// fireLocked starts (or skips) every run due at or before now and moves
// those jobs to their next due time, or out of the heap for jobs without
// periodic runs.
func (s *Runner) fireLocked(now time.Duration) {
	for len(s.heap) > 0 && s.heap[0].due <= now {
		e := &s.heap[0]
		h := e.h
		if h.busy {
			h.stats.Skipped++
			s.skipped++
		} else {
			s.dispatchLocked(h, e.due)
		}
		h.fired, h.last = true, h.base
		if h.iv < 0 {
			heap.Pop(&s.heap)
			continue
		}
		e.due = s.advanceLocked(h, now)
		heap.Fix(&s.heap, 0)
	}
}

// advanceLocked moves h to its next tick, the previous base plus its
// interval, and returns that tick plus fresh jitter. Ticks already in the
// past (the runner fell behind) are counted as skipped rather than run in a
// burst.
func (s *Runner) advanceLocked(h *Handle, now time.Duration) time.Duration {
	iv := h.iv
	h.base = addSat(h.base, iv)
	if h.base <= now {
		missed := (now-h.base)/iv + 1
		h.base = addSat(h.base, missed*iv)
		h.last = h.base - iv
		h.stats.Skipped += uint64(missed)
		s.skipped += uint64(missed)
	}
	return addSat(h.base, s.jitter(h))
}

// nextTick returns the first of last+iv, last+2iv, ... that is not before
// now, for iv > 0, without overflowing.
func nextTick(last, iv, now time.Duration) time.Duration {
	if last >= now {
		return addSat(last, iv)
	}
	since := uint64(now) - uint64(last) // now-last, which may not fit an int64
	if r := since % uint64(iv); r != 0 {
		return addSat(now, iv-time.Duration(r))
	}
	return now
}

// addSat returns a+b for b >= 0, saturating instead of overflowing: a job
// due at the end of time never runs.
func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// jitter returns a random delay in [0, h's Jitter).
func (s *Runner) jitter(h *Handle) time.Duration {
	if h.job.Jitter <= 0 {
		return 0
	}
	return time.Duration(s.rng.Int64N(int64(h.job.Jitter)))
}

// staggerOffset returns the next point of a golden-ratio sequence scaled
// to [0, iv): successive jobs land evenly spread over their interval.
func (s *Runner) staggerOffset(iv time.Duration) time.Duration {
	s.stagger++
	frac := s.stagger * 0x9E3779B97F4A7C15 // 2^64 / golden ratio
	off, _ := bits.Mul64(frac, uint64(iv))
	return time.Duration(off)
}

// dispatchLocked starts a run of h scheduled for due, or queues it when
// MaxInFlight runs are already executing.
func (s *Runner) dispatchLocked(h *Handle, due time.Duration) {
	h.busy = true
	r := runReq{h: h, due: due}
	if s.max > 0 && s.inFlight >= s.max {
		s.queue.push(r)
		s.delayed++
		return
	}
	s.inFlight++
	s.wg.Add(1)
	go s.worker(r)
}

// worker executes r, then, holding on to its slot, the runs queued for a
// slot in FIFO order, until the queue is empty.
func (s *Runner) worker(r runReq) {
	defer s.wg.Done()
	for {
		h := r.h
		var (
			ran    bool
			start  time.Time
			dur    time.Duration
			pv     any
			stack  []byte
			panics uint64
		)
		s.mu.Lock()
		var ctx context.Context
		if !h.removed && s.jctx.Err() == nil { // not removed, runner not stopping
			var cancel context.CancelCauseFunc
			ctx, cancel = context.WithCancelCause(s.jctx)
			h.cancel = cancel
		}
		s.mu.Unlock()
		if ctx != nil {
			start = time.Now()
			pv, stack = s.call(h, ctx)
			dur = time.Since(start)
			ran = true
		}

		s.mu.Lock()
		h.busy = false
		if h.cancel != nil {
			h.cancel(nil)
			h.cancel = nil
		}
		if ran {
			late := max(start.Sub(s.epoch)-r.due, 0)
			h.stats.Runs++
			h.stats.LastStart = start
			h.stats.LastLateness = late
			h.stats.MaxLateness = max(h.stats.MaxLateness, late)
			s.late.Observe(late)
			h.stats.LastDuration = dur
			s.runs++
		}
		if stack != nil {
			h.stats.Panics++
			s.panics++
			panics = h.stats.Panics
		}
		next, ok := s.queue.pop()
		if !ok {
			s.inFlight--
		}
		s.mu.Unlock()
		if stack != nil && logx.Sampled(panics) {
			s.log.Error("sched: job panicked", "job", h.job.Name, "panic", pv, "panics", panics, "stack", string(stack))
		}
		if !ok {
			return
		}
		r = next
	}
}

// call runs h's job once. If it panics, call recovers and returns the
// panic value and the stack (never nil then).
func (s *Runner) call(h *Handle, ctx context.Context) (pv any, stack []byte) {
	if h.job.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.job.Timeout)
		defer cancel()
	}
	defer func() {
		if v := recover(); v != nil {
			pv, stack = v, debug.Stack()
		}
	}()
	h.job.Run(ctx)
	return nil, nil
}
