package sched

import (
	"context"
	"fmt"
	"time"
)

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

// Handle refers to a job added to a Runner. Its methods may be called from
// any goroutine, before, during or after Run.
type Handle struct {
	s   *Runner
	job Job // as added; its Interval is not updated by SetInterval

	// Owned by the Run goroutine.
	iv    time.Duration // current interval
	index int           // in s.heap; -1 if not there
	base  time.Duration // current tick without jitter, since s.epoch
	last  time.Duration // tick of the last run (or skip), valid if fired
	fired bool          // the first tick has come

	// Guarded by s.mu. cancel cancels the run in flight (nil when none):
	// a job holds no context between runs, so 30,000 jobs cost no
	// 30,000 contexts.
	added     bool // its Add was applied by Run
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
	s.mu.Unlock()
	if cancel != nil {
		cancel(ErrRemoved)
	}
	s.request(op{kind: opRemove, h: h})
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
	s.mu.Unlock()
	s.request(op{kind: opTrigger, h: h, at: now})
}

// SetInterval changes the job's interval while it is scheduled, keeping
// its runs in flight and its counters. A job that has not run yet keeps its
// first due time. Otherwise its ticks restart from the tick of its last run
// on the new period: the next run is due at the first of last+d, last+2d,
// ... that is not in the past. A negative d means no more periodic runs
// (Trigger still works). SetInterval validates d as Add validates
// Job.Interval and returns a *FieldError for a zero d or one not above the
// job's Jitter, ErrRemoved after Remove, and ErrStopped once Run has
// stopped.
func (h *Handle) SetInterval(d time.Duration) error {
	if d == 0 {
		return &FieldError{Object: fmt.Sprintf("job %q", h.job.Name), Field: "Interval", Reason: "zero, want a period (negative: no periodic runs)"}
	}
	if why := jitterBelow(h.job.Jitter, d); why != "" {
		return &FieldError{Object: fmt.Sprintf("job %q", h.job.Name), Field: "Jitter", Reason: why}
	}
	s := h.s
	s.mu.Lock()
	removed, stopped := h.removed, s.stopped
	s.mu.Unlock()
	switch {
	case removed:
		return fmt.Errorf("job %q: %w", h.job.Name, ErrRemoved)
	case stopped:
		return fmt.Errorf("job %q: %w", h.job.Name, ErrStopped)
	}
	s.request(op{kind: opInterval, h: h, iv: d})
	return nil
}

// Stats returns the job's counters and timings.
func (h *Handle) Stats() JobStats {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	return h.stats
}
