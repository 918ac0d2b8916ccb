// Package watchdog finds the long-running loops of a process that stop
// making progress, restarts them, and tells systemd the process is alive
// only while they all do.
//
// A loop registers with a name and a deadline and beats:
//
//	b := w.Register("vrrp VI_1", 3*time.Second)
//	defer b.Done()
//	for {
//		b.Beat() // one atomic store: no lock, no allocation
//		...
//	}
//
// [Watchdog.Run] checks every registered loop every quarter of the
// smallest deadline. A loop that has not beaten for longer than its
// deadline (a deadlock, a blocked syscall) is stalled: it is logged with
// its name, how long it has been silent and the stacks of all goroutines,
// counted, published to subscriptions as an [EventStalled], and signalled
// on [Beat.Stalled] so its owner can restart it. When it beats again, an
// [EventRecovered] follows.
//
// [Watchdog.Guard] runs a loop under the watchdog for its owner: it
// recovers panics, restarts the loop after a panic, a stall or an error
// with a bounded exponential backoff, and returns an error wrapping
// [ErrFailing] when the loop fails [Policy].Failures times within
// Policy.Window, so that a daemon exits non-zero and systemd restarts it.
// A goroutine cannot be killed: a stalled run that does not return once
// its ctx is canceled (and its owner closed what it blocks on) is
// abandoned after Policy.Abandon, counted, and the loop restarted.
// [Watchdog.Go] is Guard without the wait: each run of the loop at the
// bottom of a goroutine of its own, the loop's only goroutine while it
// runs, and the result to a done function (a Supervisor's routers run
// so: one goroutine and a small stack each). [Beat.SetOnStall] lets an
// owner cut a stalled run off before its ctx is canceled.
//
// Under systemd with WatchdogSec= set, Run sends WATCHDOG=1 (through
// github.com/coreos/go-systemd/v22/daemon, honouring WATCHDOG_USEC,
// WATCHDOG_PID and NOTIFY_SOCKET) every half interval, but only while
// every registered loop is beating: systemd then kills and restarts a
// wedged process. [Watchdog.Ready] and [Watchdog.Stopping] send READY=1
// and STOPPING=1.
//
// Zero means the default and a negative value means off in every field of
// [Config] and [Policy]. An invalid one is reported as a [*FieldError]
// that wraps [ErrInvalid]. A Watchdog runs once: a second Run returns
// [ErrRan].
package watchdog
