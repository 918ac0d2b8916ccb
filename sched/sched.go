package sched

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"
)

// Errors returned by the scheduler. Test with errors.Is.
var (
	// ErrInvalidJob is wrapped by Add when a Job's fields are out of range.
	ErrInvalidJob = errors.New("sched: invalid job")
	// ErrStopped is returned by Add once Run has stopped.
	ErrStopped = errors.New("sched: scheduler stopped")
	// ErrAlreadyStarted is returned by a second call to Run.
	ErrAlreadyStarted = errors.New("sched: Run already called")
	// ErrRemoved is the cause (see context.Cause) of a job's ctx when
	// the job was removed.
	ErrRemoved = errors.New("sched: job removed")
)

// Job describes a periodic task.
type Job struct {
	Name     string                    // for logs and stats
	Interval time.Duration             // > 0, period between run starts
	Jitter   time.Duration             // each run's start is delayed by a random amount in [0, Jitter); must be < Interval
	Offset   time.Duration             // delay before the first run; if < 0, the scheduler spreads the job's first run over [0, Interval)
	Timeout  time.Duration             // if > 0, each run's ctx has this deadline; must be >= 0
	Run      func(ctx context.Context) // the work; ctx is cancelled when the scheduler stops or the job is removed
}

// validate reports why j cannot be scheduled, wrapping ErrInvalidJob.
func (j *Job) validate() error {
	var why string
	switch {
	case j.Run == nil:
		why = "Run is nil"
	case j.Interval <= 0:
		why = fmt.Sprintf("interval %v must be > 0", j.Interval)
	case j.Jitter < 0 || j.Jitter >= j.Interval:
		why = fmt.Sprintf("jitter %v must be in [0, interval %v)", j.Jitter, j.Interval)
	case j.Timeout < 0:
		why = fmt.Sprintf("timeout %v must be >= 0", j.Timeout)
	default:
		return nil
	}
	return fmt.Errorf("%w: job %q: %s", ErrInvalidJob, j.Name, why)
}

// Config configures a Scheduler.
type Config struct {
	MaxInFlight int          // max job runs executing at once; <= 0 = unlimited
	Logger      *slog.Logger // nil = discard
	Rand        *rand.Rand   // jitter source, used only by Run's goroutine; nil = a randomly seeded PCG
}

// Stats are scheduler-wide totals.
type Stats struct {
	Jobs     int    // jobs added and not removed
	InFlight int    // runs executing now
	Queued   int    // runs waiting for a MaxInFlight slot now
	Runs     uint64 // runs finished
	Skipped  uint64 // ticks skipped because the job's previous run was not finished
	Delayed  uint64 // runs that had to wait for a MaxInFlight slot
	Panics   uint64 // runs that panicked (the panic is recovered and logged)
}

// JobStats are one job's counters and timings. A run is accounted for when
// it finishes.
type JobStats struct {
	Runs         uint64        // runs finished
	Skipped      uint64        // ticks skipped because the previous run was not finished
	Panics       uint64        // runs that panicked
	LastLateness time.Duration // last run's start minus its due time (jitter included); includes waiting for a slot
	MaxLateness  time.Duration // largest lateness of any run
	LastDuration time.Duration // how long the last run took
	LastStart    time.Time     // when the last run started
}

// Scheduler runs periodic jobs from one timer heap. Create it with New.
type Scheduler struct {
	log  *slog.Logger
	max  int
	wake chan struct{} // capacity 1: "ops are pending"
	wg   sync.WaitGroup

	// Owned by the Run goroutine.
	rng     *rand.Rand
	heap    jobHeap
	stagger uint64

	mu       sync.Mutex
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
}

type opKind uint8

const (
	opAdd opKind = iota + 1
	opRemove
	opTrigger
)

// op is a request from Add, Remove or Trigger to the Run goroutine.
type op struct {
	kind opKind
	h    *Handle
	at   time.Time // for opTrigger: when Trigger was called
}

// New returns a Scheduler; start it with Run.
func New(cfg Config) *Scheduler {
	s := &Scheduler{
		log:  cfg.Logger,
		max:  max(cfg.MaxInFlight, 0),
		rng:  cfg.Rand,
		wake: make(chan struct{}, 1),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.rng == nil {
		s.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return s
}

// Add schedules j. It may be called before or during Run. It returns an error
// wrapping ErrInvalidJob if j is malformed, and ErrStopped once Run has stopped.
func (s *Scheduler) Add(j Job) (*Handle, error) {
	if err := j.validate(); err != nil {
		return nil, err
	}
	h := &Handle{s: s, job: j, index: -1}
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

// Stats returns the scheduler's totals.
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Jobs:     s.jobs,
		InFlight: s.inFlight,
		Queued:   s.queue.len(),
		Runs:     s.runs,
		Skipped:  s.skipped,
		Delayed:  s.delayed,
		Panics:   s.panics,
	}
}

// poke wakes the Run goroutine. It must not be called with s.mu held.
func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run runs the jobs until ctx is done, then waits for every run in flight to
// return; runs still waiting for a slot are dropped. It returns nil when ctx
// is done and ErrAlreadyStarted if called more than once.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return ErrAlreadyStarted
	}
	s.started = true
	s.epoch = time.Now()
	s.mu.Unlock()

	// Jobs' contexts hang off one standard cancelCtx, whatever ctx is.
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.log.Debug("sched: running", "max_in_flight", s.max)
	s.loop(ctx, jctx)

	s.mu.Lock()
	s.stopped = true
	for _, r := range s.queue.drain() {
		r.h.busy = false
	}
	s.ops = nil
	s.mu.Unlock()
	s.wg.Wait()
	s.heap = nil
	s.log.Debug("sched: stopped")
	return nil
}

// loop is the Run goroutine's body: it applies ops, starts due runs and
// sleeps until the next due time, a poke or ctx's end.
func (s *Scheduler) loop(ctx, jctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var ops []op
	for ctx.Err() == nil {
		now := time.Since(s.epoch)
		s.mu.Lock()
		ops, s.ops = s.ops, ops
		for _, o := range ops {
			s.applyLocked(o, jctx, now)
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
			timer.Reset(s.heap[0].due - time.Since(s.epoch))
			tc = timer.C
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
		case <-tc:
		case <-s.wake:
		}
	}
}

// applyLocked carries out one request from Add, Remove or Trigger.
func (s *Scheduler) applyLocked(o op, jctx context.Context, now time.Duration) {
	h := o.h
	switch o.kind {
	case opAdd:
		if h.removed {
			return
		}
		h.ctx, h.cancel = context.WithCancelCause(jctx)
		off := h.job.Offset
		if off < 0 {
			off = s.staggerOffset(h.job.Interval)
		}
		h.base = addSat(now, off)
		heap.Push(&s.heap, entry{due: addSat(h.base, s.jitter(h)), h: h})
	case opRemove:
		if h.index >= 0 {
			heap.Remove(&s.heap, h.index)
		}
	case opTrigger:
		h.triggered = false
		if h.removed || h.busy || h.ctx == nil {
			return
		}
		s.dispatchLocked(h, max(o.at.Sub(s.epoch), 0))
	}
}

// fireLocked starts (or skips) every run due at or before now and moves
// those jobs to their next due time.
func (s *Scheduler) fireLocked(now time.Duration) {
	for len(s.heap) > 0 && s.heap[0].due <= now {
		e := &s.heap[0]
		if e.h.busy {
			e.h.stats.Skipped++
			s.skipped++
		} else {
			s.dispatchLocked(e.h, e.due)
		}
		e.due = s.advanceLocked(e.h, now)
		heap.Fix(&s.heap, 0)
	}
}

// advanceLocked moves h to its next tick, the previous base plus Interval,
// and returns that tick plus fresh jitter. Ticks already in the past (the
// scheduler fell behind) are counted as skipped rather than run in a burst.
func (s *Scheduler) advanceLocked(h *Handle, now time.Duration) time.Duration {
	iv := h.job.Interval
	h.base = addSat(h.base, iv)
	if h.base <= now {
		missed := (now-h.base)/iv + 1
		h.base = addSat(h.base, missed*iv)
		h.stats.Skipped += uint64(missed)
		s.skipped += uint64(missed)
	}
	return addSat(h.base, s.jitter(h))
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
func (s *Scheduler) jitter(h *Handle) time.Duration {
	if h.job.Jitter <= 0 {
		return 0
	}
	return time.Duration(s.rng.Int64N(int64(h.job.Jitter)))
}

// staggerOffset returns the next point of a golden-ratio sequence scaled
// to [0, iv): successive jobs land evenly spread over their interval.
func (s *Scheduler) staggerOffset(iv time.Duration) time.Duration {
	s.stagger++
	frac := s.stagger * 0x9E3779B97F4A7C15 // 2^64 / golden ratio
	off, _ := bits.Mul64(frac, uint64(iv))
	return time.Duration(off)
}

// dispatchLocked starts a run of h scheduled for due, or queues it when
// MaxInFlight runs are already executing.
func (s *Scheduler) dispatchLocked(h *Handle, due time.Duration) {
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
func (s *Scheduler) worker(r runReq) {
	defer s.wg.Done()
	for {
		h := r.h
		var (
			ran, panicked bool
			start         time.Time
			dur           time.Duration
		)
		if h.ctx.Err() == nil { // not removed, scheduler not stopping
			start = time.Now()
			panicked = s.call(h)
			dur = time.Since(start)
			ran = true
		}

		s.mu.Lock()
		h.busy = false
		if ran {
			late := max(start.Sub(s.epoch)-r.due, 0)
			h.stats.Runs++
			h.stats.LastStart = start
			h.stats.LastLateness = late
			h.stats.MaxLateness = max(h.stats.MaxLateness, late)
			h.stats.LastDuration = dur
			s.runs++
		}
		if panicked {
			h.stats.Panics++
			s.panics++
		}
		next, ok := s.queue.pop()
		if !ok {
			s.inFlight--
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		r = next
	}
}

// call runs h's job once, recovering and logging a panic.
func (s *Scheduler) call(h *Handle) (panicked bool) {
	ctx := h.ctx
	if h.job.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.job.Timeout)
		defer cancel()
	}
	defer func() {
		if v := recover(); v != nil {
			panicked = true
			s.log.Error("sched: job panicked", "job", h.job.Name, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	h.job.Run(ctx)
	return false
}

// Handle refers to a job added to a Scheduler.
type Handle struct {
	s   *Scheduler
	job Job

	// Owned by the Run goroutine.
	index int           // in s.heap; -1 if not there
	base  time.Duration // current tick without jitter, since s.epoch

	// Guarded by s.mu. ctx is set once, before the job's first run.
	ctx       context.Context
	cancel    context.CancelCauseFunc
	busy      bool // a run is executing or waiting for a slot
	removed   bool
	triggered bool // a Trigger op is pending
	stats     JobStats
}

// Remove stops the job: no further runs start and the ctx of a run in
// flight is cancelled with cause ErrRemoved. Remove does not wait for that
// run to return. It is idempotent.
func (h *Handle) Remove() {
	s := h.s
	s.mu.Lock()
	if h.removed {
		s.mu.Unlock()
		return
	}
	h.removed = true
	s.jobs--
	cancel := h.cancel
	notify := s.started && !s.stopped
	if notify {
		s.ops = append(s.ops, op{kind: opRemove, h: h})
	}
	s.mu.Unlock()
	if cancel != nil {
		cancel(ErrRemoved)
	}
	if notify {
		s.poke()
	}
}

// Trigger asks for an extra run now, outside the periodic schedule, which
// is unchanged. It does nothing if a run of the job is in flight or waiting
// for a slot; Triggers before the extra run starts coalesce into one. Called
// before Run, the extra run happens when Run starts.
func (h *Handle) Trigger() {
	s := h.s
	now := time.Now()
	s.mu.Lock()
	if h.removed || h.busy || h.triggered || s.stopped {
		s.mu.Unlock()
		return
	}
	h.triggered = true
	s.ops = append(s.ops, op{kind: opTrigger, h: h, at: now})
	s.mu.Unlock()
	s.poke()
}

// Stats returns the job's counters and timings.
func (h *Handle) Stats() JobStats {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.stats
}
