package watchdog

import (
	"context"
	"runtime"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/vigil-ha/vigil/internal/logx"
)

// Run watches the registered loops until ctx is done, then closes every
// subscription and returns nil.
//
// Every check period (a quarter of the smallest deadline registered, at
// least MinCheck) it looks at every loop. A loop whose last beat is older
// than its deadline is stalled: Run logs its name and how long since its
// last beat, with the stacks of all goroutines (Config.Stacks), counts it,
// publishes an EventStalled and signals Beat.Stalled. A stall is thus
// reported at the first check after the deadline has passed: between
// deadline and deadline + check period after the last beat. A stalled loop
// that beats again is reported recovered (EventRecovered) at the next
// check.
//
// With a systemd watchdog interval (Config.WatchdogInterval), Run sends
// WATCHDOG=1 when it starts and every half interval after, but only if at
// that moment every registered loop has beaten within its deadline; a
// notification not sent is counted in Stats.Withheld. So systemd, which
// kills a service that stays silent for the interval, kills a process
// whose loop stays stalled at most its deadline plus the interval after
// the loop's last beat.
//
// A Watchdog runs once: a second call returns ErrRan, whether the first
// is still running or has returned. Run starts no goroutine.
func (w *Watchdog) Run(ctx context.Context) error {
	if w.ran.Swap(true) {
		return ErrRan
	}
	defer w.feed.Close()

	var ping <-chan time.Time
	if w.interval > 0 {
		t := time.NewTicker(w.interval / 2)
		defer t.Stop()
		ping = t.C
		w.ping()
	}

	check := time.NewTimer(time.Hour)
	check.Stop()
	defer check.Stop()
	var next time.Time // when check fires; zero when stopped
	arm := func() {
		p := w.period()
		if p == 0 {
			check.Stop()
			next = time.Time{}
			return
		}
		now := time.Now()
		if at := now.Add(p); next.IsZero() || at.Before(next) {
			next = at
			check.Reset(p)
		}
	}
	arm()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
			arm()
		case <-check.C:
			next = time.Time{}
			w.check()
			arm()
		case <-ping:
			w.ping()
		}
	}
}

// period returns the check period for the loops registered now, or zero
// if no loop can stall.
func (w *Watchdog) period() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var min time.Duration
	for b := range w.loops {
		if b.deadline > 0 && (min == 0 || b.deadline < min) {
			min = b.deadline
		}
	}
	if min == 0 {
		return 0
	}
	return max(min/4, MinCheck)
}

// check finds stalls and recoveries, then reports them.
func (w *Watchdog) check() {
	now := time.Since(w.epoch)
	var (
		evs     []Event
		stalled []*Beat // to signal once their events are out
	)
	w.mu.Lock()
	for b := range w.loops {
		if b.deadline < 0 {
			continue
		}
		last := b.last.Load()
		if b.stalled {
			if last == b.stallLast {
				continue
			}
			b.stalled = false
			evs = append(evs, Event{Kind: EventRecovered, Name: b.name, Stalled: time.Duration(last - b.stallLast)})
		}
		if since := now - time.Duration(last); since > b.deadline {
			b.stalled = true
			b.stallLast = last
			evs = append(evs, Event{Kind: EventStalled, Name: b.name, Stalled: since})
			stalled = append(stalled, b)
		}
	}
	w.mu.Unlock()
	if len(evs) == 0 {
		return
	}

	var stacks string
	at := w.epoch.Add(now)
	for i := range evs {
		e := &evs[i]
		e.Time = at
		switch e.Kind {
		case EventStalled:
			if stacks == "" && w.stacks > 0 {
				stacks = allStacks(w.stacks)
			}
			e.Stack = stacks
			w.counters.Stalls.Add(1)
			w.log.Error("watchdog: loop stalled", "loop", e.Name, "stalled", e.Stalled, "stacks", e.Stack)
		case EventRecovered:
			w.counters.Recoveries.Add(1)
			w.log.Warn("watchdog: loop recovered", "loop", e.Name, "stalled", e.Stalled)
		}
		w.feed.Publish(*e)
	}
	for _, b := range stalled {
		if f := b.hook.Load(); f != nil {
			(*f)()
		}
		if b.onStall != nil {
			b.onStall()
		}
		select {
		case b.stall <- struct{}{}:
		default:
		}
	}
}

// allStacks returns the stacks of all goroutines, cut at n bytes.
func allStacks(n int) string {
	buf := make([]byte, n)
	return string(buf[:runtime.Stack(buf, true)])
}

// Healthy reports whether every registered loop has beaten within its
// deadline: what Run checks before each WATCHDOG=1, for a caller that
// notifies systemd itself. A loop abandoned by
// Guard is no longer registered and does not count. It is safe for
// concurrent use, whether or not Run runs.
func (w *Watchdog) Healthy() bool {
	now := time.Since(w.epoch)
	w.mu.Lock()
	defer w.mu.Unlock()
	for b := range w.loops {
		if b.deadline >= 0 && now-time.Duration(b.last.Load()) > b.deadline {
			return false
		}
	}
	return true
}

// ping sends WATCHDOG=1 if every loop is beating.
func (w *Watchdog) ping() {
	if !w.Healthy() {
		if n := w.counters.Withheld.Add(1); logx.Sampled(n) {
			w.log.Warn("watchdog: WATCHDOG=1 withheld: a loop is stalled", "withheld", n)
		}
		return
	}
	if sent, _ := w.Notify(daemon.SdNotifyWatchdog); sent {
		w.counters.Pings.Add(1)
	}
}

// logNotifyError counts a failed notification and logs the 1st and every
// 100th.
func (w *Watchdog) logNotifyError(state string, err error) {
	if n := w.counters.NotifyErrors.Add(1); logx.Sampled(n) {
		w.log.Warn("watchdog: systemd notification failed", "state", state, "err", err, "failures", n)
	}
}
