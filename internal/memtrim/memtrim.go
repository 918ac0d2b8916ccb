// Package memtrim gives back to the OS the heap a daemon's busy spell
// (its start, a reload) left idle, once the spell has settled.
//
// A Go program keeps the memory its heap grew into: the runtime's
// scavenger returns only what lies well beyond the next collection's
// goal, so the config parsing, netlink dumps and router start-ups of a
// daemon's first seconds stay resident for its whole life although a
// VRRP daemon in its steady state allocates next to nothing. vigild at
// 1,000 instances held about 8 MiB of such idle heap (bench/README.md,
// "Memory a start leaves behind").
package memtrim

import (
	"runtime/debug"
	"sync"
	"time"
)

// DefaultDelay is how long after the last Kick a Trimmer trims: past
// the second GARP burst of a start (5 s) and the first adverts of the
// instances that become master.
const DefaultDelay = 10 * time.Second

// A Trimmer runs its trim function once a busy spell has settled: Delay
// after the last call of Kick. The zero value is not usable; make one
// with New. Its methods are safe for concurrent use.
type Trimmer struct {
	delay time.Duration
	trim  func()

	mu      sync.Mutex
	t       *time.Timer // nil until the first Kick
	stopped bool
}

// New returns a Trimmer that calls trim delay after the last Kick. A
// delay of zero or less means DefaultDelay; a nil trim means
// debug.FreeOSMemory (a garbage collection, then every free page given
// back to the OS: a few milliseconds with a heap of tens of MiB).
func New(delay time.Duration, trim func()) *Trimmer {
	if delay <= 0 {
		delay = DefaultDelay
	}
	if trim == nil {
		trim = debug.FreeOSMemory
	}
	return &Trimmer{delay: delay, trim: trim}
}

// Kick says a busy spell goes on: the trim runs Delay from now, unless
// Kick is called again before (then Delay from that call). After Stop it
// does nothing.
func (t *Trimmer) Kick() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	if t.t == nil {
		t.t = time.AfterFunc(t.delay, t.trim)
		return
	}
	t.t.Reset(t.delay)
}

// Stop cancels a trim not yet started; one running is not waited for.
// Kick does nothing after it.
func (t *Trimmer) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	if t.t != nil {
		t.t.Stop()
	}
}
