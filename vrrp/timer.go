package vrrp

import "time"

// Timers chooses the clock of a Router's Master_Down_Timer, the timer
// whose lateness delays a takeover (Router.SetTimers). The zero value is
// Go timers: they work everywhere, including inside testing/synctest
// bubbles (whose fake clock drives only Go timers), and are up to about a
// millisecond late on an idle Linux process.
type Timers struct {
	// Precise (Linux) runs Master_Down_Timer on a timerfd, so a backup
	// takes over within microseconds of the RFC's deadline rather than
	// with the Go runtime's timer granularity. The master's Adver_Timer
	// stays a Go timer: an advert a fraction of a millisecond late is
	// harmless, and it costs no syscalls. Where a timerfd cannot be made,
	// Run logs a warning and uses Go timers. Leave it off inside
	// testing/synctest bubbles.
	Precise bool
	// Clock, with Precise, is the clock the Router's Master_Down_Timer
	// runs on, shared with the other Routers given it (see Clock: one
	// timerfd and goroutine for all, and no syscall when a backup's
	// deadline moves later); nil: a timerfd of the Router's own.
	Clock *Clock
	// FinalApproach, with Precise, is how long before Master_Down_Timer's
	// deadline the timerfd fires; the router then polls until the
	// deadline (one CPU busy for that long, once per imminent takeover:
	// only after adverts from the master have stopped for about three
	// intervals), so waking an idle CPU and thread is not added to the
	// takeover. Routers sharing a Clock take turns (see Clock). 0 means
	// DefaultFinalApproach; negative turns it off.
	FinalApproach time.Duration
	// AdvertGrid, if positive, puts a master's periodic adverts on
	// multiples of it (of the wall clock's nanoseconds since 1970; at
	// most a tenth of the advert interval is used), so that the masters
	// of one process wake up together and send many adverts per wake-up
	// instead of one each. Only the adverts the Adver_Timer sends are
	// moved: the first advert on becoming master still goes at once and
	// the second an interval later; the next is due up to AdvertGrid
	// less than an interval after that, once, and all later ones an
	// interval apart, as without it. 0 and negative: none (a master keeps
	// the phase it became master at).
	AdvertGrid time.Duration
}

// DefaultFinalApproach is Timers.FinalApproach's default.
const DefaultFinalApproach = time.Millisecond

// stepTimer is the one timer a Router's loop waits on.
type stepTimer interface {
	// C delivers expiries; stale ones are possible and harmless (the
	// machine checks its deadline).
	C() <-chan time.Time
	// Reset arms the timer to fire once after d (d ≤ 0: at once).
	Reset(d time.Duration)
	Stop()
	// Close releases the timer; C delivers nothing more.
	Close()
}

// sharedTimer is a stepTimer that another goroutine may Reset while the
// loop uses it: a Conn's dispatch restarts a backup's Master_Down_Timer
// for each repeat it records (repeatTimer), as the loop would. A Go
// timer is one, and a Clock's; a timerfd of the Router's own is not (a
// syscall per advert, which the loop's wake-up would be cheaper than).
type sharedTimer interface {
	stepTimer
	shared()
}

func (g *goTimer) shared() {}

// goTimer is a stepTimer on time.Timer: works everywhere, including inside
// testing/synctest bubbles, with the Go runtime's timer granularity (on
// Linux up to about a millisecond late when the process is idle).
type goTimer struct{ t *time.Timer }

func newGoTimer() *goTimer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &goTimer{t}
}

func (g *goTimer) C() <-chan time.Time   { return g.t.C }
func (g *goTimer) Reset(d time.Duration) { g.t.Reset(d) }
func (g *goTimer) Stop()                 { g.t.Stop() }
func (g *goTimer) Close()                { g.t.Stop() }
