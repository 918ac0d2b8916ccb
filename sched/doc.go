// Package sched runs many periodic jobs from one timer heap.
//
// A [Runner] keeps every job in a single heap ordered by next due time and
// waits on a single timer, so an idle job costs a heap entry, not a
// goroutine and a ticker. It is meant for thousands of health checks,
// where 10,000 jobs must not all start in the same millisecond. (An
// announcer's gratuitous ARP bursts and refreshes have a scheduler of
// their own in package netlink: bursts of frames an interval apart,
// news first.)
//
// Scheduling rules:
//
//   - A job's runs are due at base, base+Interval, base+2*Interval, ...;
//     each run is delayed by a fresh random jitter in [0, Jitter). The base
//     does not drift with run durations, lateness or jitter.
//   - The first run is due Offset after the job was added (or after Run
//     started, for jobs added before Run). With Spread, the runner adds a
//     delay in [0, Interval) from a golden-ratio sequence, so N jobs added
//     together start evenly spaced.
//   - A job with a negative Interval runs once, at its first due time, and
//     then only when triggered.
//   - [Handle.SetInterval] changes a job's period while it runs: the ticks
//     restart from the tick of its last run on the new period.
//   - At most Config.MaxInFlight runs execute at once (zero means
//     [DefaultMaxInFlight], negative no bound); runs waiting for a slot start
//     in FIFO order and their wait counts as lateness.
//   - A tick that comes while the job's previous run is still in flight (or
//     waiting for a slot) is skipped and counted: runs never stack and there
//     is no burst of catch-up runs.
//
// Zero means the default and a negative value means off in every field of
// [Job] and [Config]; the one field without a default, Job.Interval, is
// invalid when zero. An invalid Job is reported as a [*FieldError] that
// wraps [ErrInvalid].
//
// [Runner.Run] owns the heap and the timer; [Runner.Add], [Handle.Remove],
// [Handle.Trigger] and [Handle.SetInterval] may be called from any
// goroutine, before or during Run. A Runner runs once: a second Run returns
// [ErrRan]. Run returns only after every run it started has returned.
package sched
