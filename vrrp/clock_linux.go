//go:build linux

package vrrp

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Clock is a precise clock shared by the Routers of a process
// (Timers.Clock): one timerfd and one goroutine for all their
// Master_Down_Timers, where each Router would otherwise have its own.
// The timerfd is armed for the earliest deadline; a deadline moved later
// (a backup hearing its master: every advert) costs no syscall, the
// timerfd firing early instead, when it is armed again for the earliest
// deadline then. A backup's advert so costs a heap update instead of a
// timerfd_settime(2), and a router a timer instead of a goroutine and a
// descriptor. Expiries reach a router as promptly as its own timerfd's
// would: the clock's goroutine wakes on the timerfd through Go's network
// poller and signals the router's channel.
//
// The clock also keeps a runtime timer (time.AfterFunc) armed for the
// same deadline, and fires on whichever comes first. Each covers the
// other's blind spot. An idle process sleeps in the network poller's
// epoll_wait, whose timeout is in whole milliseconds: a runtime timer
// fires up to a millisecond late, the timerfd on time. A busy one (every
// P with goroutines to run: a mass failover) does not look at the network
// poller between goroutines, only when a P runs out of work or when
// sysmon polls it, every 10 ms: an expiry through the timerfd alone came
// 5–15 ms late there (TestClockFiresWhileBusy), while runtime timers are
// run by every P each time it picks a goroutine (bench/README.md, "The
// bench as a neighbour, and the clock under load"). While the process is
// busy, a deadline moved earlier leaves the timerfd as it is if that is
// at most fdSlack later (backedUp): arming a timerfd for a near deadline
// costs a hypervisor exit in a VM, and in a busy process the runtime
// timer fires first.
//
// The Routers of a Clock poll through their final approach
// (Timers.FinalApproach) only while the process is otherwise quiet:
// polling saves a takeover the wake-up of an idle CPU, and when many
// takeovers are due together (a mass failover: 200 VRIDs whose master
// died) the CPUs are not idle, and routers polling for a millisecond
// each took the CPUs the takeovers needed (bench/README.md, "Mass
// failover: the final approach"). A Router whose approach begins within
// busyWindow of another's Master_Down_Timer expiry, or while half the
// CPUs' worth (GOMAXPROCS/2, at least 1) poll, sleeps to its deadline
// on the timerfd instead.
//
// Close it after the Routers using it have stopped; a Router's timer on
// a closed Clock falls back to a Go timer.
type Clock struct {
	fd int
	f  *os.File
	wg sync.WaitGroup
	// rt is the runtime timer armed with the timerfd.
	rt *time.Timer

	// pollers counts the Routers polling through their final approach;
	// maxPollers bounds it. lastExpiry is when (since epoch) a Router
	// last had a Master_Down_Timer expiry.
	pollers    atomic.Int32
	maxPollers int32
	epoch      time.Time
	lastExpiry atomic.Int64

	mu     sync.Mutex
	timers deadlines[*clockTimer]
	armed  time.Time // the deadline the runtime timer is armed for; zero: disarmed
	// fdAt is when the timerfd fires next (zero: disarmed or fired). It
	// is armed for armed, except while the process is busy, when it may
	// stay a little later (backedUp).
	fdAt   time.Time
	closed bool
	// arms counts timerfd_settime calls that armed it, skips the arms
	// left out while busy (backedUp), fired the expiries signalled,
	// rtFired those the runtime timer signalled (tests).
	arms, skips, fired, rtFired int
}

// NewClock returns a running Clock.
func NewClock() (*Clock, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// A non-blocking fd makes NewFile register it with the poller. Never
	// call f.Fd(): it would switch the fd back to blocking mode.
	c := &Clock{fd: fd, f: os.NewFile(uintptr(fd), "vrrp-clock"), maxPollers: int32(max(1, runtime.GOMAXPROCS(0)/2)),
		epoch: time.Now()}
	c.rt = time.AfterFunc(time.Hour, c.runtimeFired)
	c.rt.Stop()
	c.wg.Go(c.run)
	return c, nil
}

// Close stops the clock. Calling it again does nothing.
func (c *Clock) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.rt.Stop()
	c.mu.Unlock()
	err := c.f.Close()
	c.wg.Wait()
	return err
}

// run waits for the timerfd and fires the timers that are due.
func (c *Clock) run() {
	var buf [8]byte
	for {
		if _, err := c.f.Read(buf[:]); err != nil {
			return // closed
		}
		c.mu.Lock()
		c.fdAt = time.Time{}
		c.fire()
		c.mu.Unlock()
	}
}

// runtimeFired is the runtime timer's expiry.
func (c *Clock) runtimeFired() {
	c.mu.Lock()
	if !c.closed {
		before := c.fired
		c.fire()
		c.rtFired += c.fired - before
	}
	c.mu.Unlock()
}

// fire signals the timers that are due and arms the clock for the next.
// c.mu held.
func (c *Clock) fire() {
	now := time.Now()
	for c.timers.dueBy(now) {
		t := c.timers.pop()
		c.fired++
		select {
		case t.c <- now:
		default: // an expiry is already waiting; the loop will see the time
		}
	}
	if c.timers.len() == 0 {
		c.armed = time.Time{}
		c.rt.Stop()
		return
	}
	// Both sources are armed for c.armed: when that is still ahead, this
	// was the other's expiry for a deadline since moved (or one it beat
	// by a moment), and the two stay as they are; but a timerfd that has
	// fired (or was left later while busy, and is now past) is armed
	// again.
	if when := c.timers.first().when; !when.Equal(c.armed) || !when.After(now) || !c.fdAt.After(now) {
		c.arm(when)
	}
}

// arm sets the runtime timer and the timerfd to fire at when, unless
// the timerfd may stay as it is (backedUp). c.mu held.
func (c *Clock) arm(when time.Time) {
	now := time.Now()
	d := when.Sub(now)
	if d <= 0 {
		d = 1 // 0 would disarm
	}
	c.rt.Reset(d)
	c.armed = when
	if c.backedUp(when, now) {
		c.skips++
		return
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if unix.TimerfdSettime(c.fd, 0, &spec, nil) == nil {
		c.arms++
		c.fdAt = now.Add(d)
	}
}

// fdSlack is how much later than a deadline the timerfd may stay armed
// while the process is busy (backedUp).
const fdSlack = time.Millisecond

// backedUp reports whether the timerfd may stay armed as it is, for
// fdAt, when the deadline moves to when, earlier: while the process is
// busy (a Router's Master_Down_Timer expired within busyWindow: a mass
// failover), the runtime timer fires on time (every P runs the timers
// as it picks a goroutine: TestClockFiresWhileBusy), and the timerfd,
// already armed for no later than when + fdSlack, still wakes the
// process should it fall idle before when, at most fdSlack late, about
// what the network poller's whole milliseconds would give the runtime
// timer alone. Arming a timerfd for a near deadline reprograms the
// CPU's timer, an exit to the hypervisor in a VM: 10 µs here against
// 1.1 for getpid, and in a mass failover most expiries came through the
// runtime timer first (bench/README.md, thirteenth round). An idle
// process, a lone takeover, always arms it.
func (c *Clock) backedUp(when, now time.Time) bool {
	if c.fdAt.IsZero() || !c.fdAt.After(now) || c.fdAt.After(when.Add(fdSlack)) {
		return false
	}
	return c.busy(now)
}

// busy reports whether a Router's Master_Down_Timer expired within
// busyWindow of now.
func (c *Clock) busy(now time.Time) bool {
	last := c.lastExpiry.Load()
	return last != 0 && now.Sub(c.epoch)-time.Duration(last) < busyWindow
}

// busyWindow is how long after a Master_Down_Timer expiry of one of its
// Routers a Clock's process counts as busy: its CPUs awake, no final
// approach polls.
const busyWindow = 5 * time.Millisecond

// startPolling reports whether a Router may poll through its final
// approach now; if so, it calls stopPolling when the approach ends.
func (c *Clock) startPolling() bool {
	if c.busy(time.Now()) {
		return false
	}
	if c.pollers.Add(1) > c.maxPollers {
		c.pollers.Add(-1)
		return false
	}
	return true
}

func (c *Clock) stopPolling() { c.pollers.Add(-1) }

// expiring notes a Master_Down_Timer expiry of one of the Routers.
func (c *Clock) expiring() { c.lastExpiry.Store(max(1, int64(time.Since(c.epoch)))) }

// timer returns a new stepTimer on the clock.
func (c *Clock) timer() stepTimer { return &clockTimer{clock: c, c: make(chan time.Time, 1), i: -1} }

// clockTimer is a Router's timer on a Clock.
type clockTimer struct {
	clock *Clock
	c     chan time.Time
	when  time.Time // guarded by clock.mu
	i     int       // index in clock.timers; -1: not in it
}

func (t *clockTimer) C() <-chan time.Time { return t.c }

func (t *clockTimer) shared() {}

func (t *clockTimer) Reset(d time.Duration) {
	c := t.clock
	when := time.Now().Add(max(d, 0))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		// The clock is gone: a Go timer still gives the expiry.
		time.AfterFunc(max(d, 0), func() {
			select {
			case t.c <- time.Now():
			default:
			}
		})
		return
	}
	t.when = when
	c.timers.set(t, &t.i, when)
	if c.armed.IsZero() || when.Before(c.armed) {
		c.arm(when)
	}
}

func (t *clockTimer) Stop() {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timers.remove(&t.i)
}

func (t *clockTimer) Close() { t.Stop() }
