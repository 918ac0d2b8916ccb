package netlink

import (
	"container/heap"
	"context"
	"runtime"
	"time"
)

// An announcer's announcements run on one goroutine of its own, the
// scheduler, not on a goroutine each: a job per announcement in a heap by
// due time. In a 200-VRID mass failover each announcement started a
// goroutine (its stack grown to send a frame, a context and an AfterFunc
// for the announcer's close, a timer for the second burst): about a
// twentieth of the backup's CPU in the burst, beside the frames
// themselves (bench/README.md, "One scheduler for the announcements"). A
// master that refreshes (garp_master_refresh) kept its goroutine for as
// long as it was master; now it keeps a job. The scheduler runs while
// there are jobs and ends with the last.

// burstKind is which burst of its schedule a job is in.
type burstKind uint8

const (
	burstFirst burstKind = iota
	burstSecond
	burstRefresh
	burstNone // between bursts
)

// job is one announcement's schedule: the first burst (InitialDelay after
// Announce), the second (SecondDelay after the first began), refreshes
// (every RefreshInterval after it); each burst repeat rounds of the
// frames, Interval apart. The fields are the scheduler's, but for idx,
// cancelled, finished and seq, which announcer.mu guards.
type job struct {
	ctx    context.Context
	t      AnnounceTiming
	frames []frame
	due    time.Time // of the next step

	begun           bool      // the first burst began
	second, refresh time.Time // next second burst, next refresh; zero: none
	burst           burstKind // the first burst's first round is news (outbox)
	gaveWay         bool
	repeat          int  // rounds of this burst
	i               int  // frames of this burst sent (or skipped)
	spaced          bool // the Interval before frame i has passed

	idx       int // in the heap, -1 when not
	seq       uint64
	cancelled bool // ctx ended
	finished  bool // counted out of active
	stop      func() bool
}

// jobHeap orders jobs by due time, then by when they were added.
type jobHeap []*job

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, k int) bool {
	if !h[i].due.Equal(h[k].due) {
		return h[i].due.Before(h[k].due)
	}
	return h[i].seq < h[k].seq
}
func (h jobHeap) Swap(i, k int) {
	h[i], h[k] = h[k], h[i]
	h[i].idx, h[k].idx = i, k
}
func (h *jobHeap) Push(x any) {
	j := x.(*job)
	j.idx = len(*h)
	*h = append(*h, j)
}
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	j.idx = -1
	return j
}

// giveWay lets the goroutines that are ready run first (the caller goes
// to the global run queue); tests replace it.
var giveWay = runtime.Gosched

// begin starts j's first burst at now.
func (a *announcer) begin(j *job, now time.Time) {
	j.begun = true
	if j.t.SecondDelay > 0 {
		j.second = now.Add(j.t.SecondDelay)
	}
	if j.t.RefreshInterval > 0 {
		j.refresh = now.Add(j.t.RefreshInterval)
	}
	a.newBurst(j, burstFirst, j.t.Repeat)
}

func (a *announcer) newBurst(j *job, k burstKind, repeat int) {
	a.counters.Bursts.Add(1)
	j.burst, j.repeat, j.i, j.spaced = k, repeat, 0, false
}

// step sends what of j's schedule is due, in order, and reports whether
// any is left (j.due is then when). It stops at once when j's context
// ends or the announcer is closed.
func (a *announcer) step(j *job) bool {
	for {
		if j.ctx.Err() != nil || a.stopped.Err() != nil {
			return false
		}
		if !j.begun {
			a.begin(j, time.Now())
		}
		if n := len(j.frames); j.i < j.repeat*n {
			first := j.burst == burstFirst
			if first && j.i >= n && !j.gaveWay {
				// The news are out (the first round); the repeats go
				// behind the other goroutines that are ready (in a mass
				// failover: routers with their news still to send).
				j.gaveWay = true
				giveWay()
			}
			if j.i > 0 && a.timing.Interval > 0 && !j.spaced {
				j.spaced = true
				j.due = time.Now().Add(a.timing.Interval)
				return true
			}
			f := &j.frames[j.i%n]
			news := first && j.i < n
			j.i++
			j.spaced = false
			a.box.post(j.ctx, f, news, a.sendFrame)
			continue
		}
		// This burst is done: the next one, if any.
		now := time.Now()
		if j.burst == burstRefresh {
			j.refresh = j.refresh.Add(j.t.RefreshInterval)
			if j.refresh.Before(now) {
				j.refresh = now.Add(j.t.RefreshInterval) // fell behind: skip, don't catch up
			}
		}
		j.burst = burstNone
		switch {
		case !j.second.IsZero() && (j.refresh.IsZero() || !j.refresh.Before(j.second)):
			if now.Before(j.second) {
				j.due = j.second
				return true
			}
			j.second = time.Time{}
			a.newBurst(j, burstSecond, j.t.Repeat)
		case !j.refresh.IsZero():
			if now.Before(j.refresh) {
				j.due = j.refresh
				return true
			}
			a.newBurst(j, burstRefresh, j.t.RefreshRepeat)
		default:
			return false
		}
	}
}

// add hands j (counted in active) to the scheduler, starting it if it is
// not running.
func (a *announcer) add(j *job) {
	j.idx = -1
	j.stop = context.AfterFunc(j.ctx, func() { a.cancel(j) })
	a.mu.Lock()
	if j.cancelled {
		a.finishLocked(j)
		a.mu.Unlock()
		return
	}
	a.seq++
	j.seq = a.seq
	heap.Push(&a.jobs, j)
	start := !a.running
	a.running = true
	a.mu.Unlock()
	if start {
		go a.schedule()
	} else {
		a.poke()
	}
}

// cancel drops j, whose context ended, at once if it waits in the heap;
// if the scheduler is stepping it, the scheduler drops it.
func (a *announcer) cancel(j *job) {
	a.mu.Lock()
	j.cancelled = true
	if j.idx >= 0 {
		heap.Remove(&a.jobs, j.idx)
		a.finishLocked(j)
	}
	a.mu.Unlock()
	a.poke() // it may have waited for j alone
}

// poke wakes the scheduler to look at the heap again.
func (a *announcer) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// finishLocked counts j out of the announcements running, once. a.mu
// held.
func (a *announcer) finishLocked(j *job) {
	if j.finished {
		return
	}
	j.finished = true
	a.doneLocked()
}

// done counts out an announcement that never became a job.
func (a *announcer) done() {
	a.mu.Lock()
	a.doneLocked()
	a.mu.Unlock()
}

// doneLocked counts an announcement out of those running, and closes
// idle after the last. a.mu held.
func (a *announcer) doneLocked() {
	a.active--
	if a.active == 0 {
		close(a.idle)
	}
}

// schedule steps the jobs as they come due until none is left, or drops
// them all once the announcer is closed.
func (a *announcer) schedule() {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		a.mu.Lock()
		if a.closed {
			for _, j := range a.jobs {
				j.idx = -1
				a.finishLocked(j)
				j.stop()
			}
			clear(a.jobs)
			a.jobs = a.jobs[:0]
			a.running = false
			a.mu.Unlock()
			return
		}
		if len(a.jobs) == 0 {
			a.running = false
			a.mu.Unlock()
			return
		}
		j := a.jobs[0]
		if d := time.Until(j.due); d > 0 {
			a.mu.Unlock()
			t.Reset(d)
			select {
			case <-t.C:
			case <-a.wake:
			case <-a.stopped.Done():
			}
			t.Stop()
			continue
		}
		heap.Pop(&a.jobs)
		a.mu.Unlock()
		more := a.step(j)
		a.mu.Lock()
		if more && !j.cancelled {
			heap.Push(&a.jobs, j) // dropped at the top if closed meanwhile
			a.mu.Unlock()
			continue
		}
		a.finishLocked(j)
		a.mu.Unlock()
		j.stop()
	}
}
