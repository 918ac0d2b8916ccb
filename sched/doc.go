// Package sched runs many periodic jobs from one timer heap.
//
// A [Scheduler] keeps every job in a single heap ordered by next due time and
// waits on a single timer, so an idle job costs a heap entry, not a goroutine
// and a ticker. It is meant for thousands of health checks and for periodic
// gratuitous ARP refresh, where 10,000 jobs must not all start in the same
// millisecond.
//
// Scheduling rules:
//
//   - A job's runs are due at base, base+Interval, base+2*Interval, ...; each
//     run is delayed by a fresh random jitter in [0, Jitter). The base does not
//     drift with run durations, lateness or jitter.
//   - The first run is due Offset after the job was added (or after Run
//     started, for jobs added before Run). A negative Offset spreads jobs over
//     their interval with a golden-ratio sequence, so N jobs added together
//     start evenly spaced.
//   - At most Config.MaxInFlight runs execute at once; runs waiting for a slot
//     start in FIFO order and their wait counts as lateness.
//   - A tick that comes while the job's previous run is still in flight (or
//     waiting for a slot) is skipped and counted: runs never stack and there is
//     no burst of catch-up runs.
//
// [Scheduler.Run] owns the heap and the timer; [Scheduler.Add],
// [Handle.Remove] and [Handle.Trigger] may be called from any goroutine, before
// or during Run. Run returns only after every run it started has returned.
package sched
