package vrrp

import "time"

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
