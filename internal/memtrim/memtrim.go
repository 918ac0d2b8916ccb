// Package memtrim gives back to the OS the heap a daemon's busy spell
// (its start, a reload, a failover) left idle, once the spell has
// settled, and lets the spell itself run with fewer garbage collections.
//
// A Go program keeps the memory its heap grew into: the runtime's
// scavenger returns only what lies well beyond the next collection's
// goal, so the config parsing, netlink dumps and router start-ups of a
// daemon's first seconds stay resident for its whole life although a
// VRRP daemon in its steady state allocates next to nothing. vigild at
// 1,000 instances held about 8 MiB of such idle heap (bench/README.md,
// "Memory a start leaves behind").
//
// The other side of the same spell: a takeover allocates (about 10 KiB),
// and at a low collector target (vrrpd's GOGC 25) a 200-VRID mass
// failover ran collections inside its burst, each one a few milliseconds
// of the two CPUs' time that the takeovers queued behind
// (bench/README.md, "Mass failover, second look"). Config.SpellGCPercent
// raises the target for the spell; the trim that ends it puts it back,
// then collects and returns the heap, so the target at rest and the
// memory at rest are what they were.
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

// Config configures a Trimmer.
type Config struct {
	// Delay is how long after the last Kick the trim runs; zero or less
	// means DefaultDelay.
	Delay time.Duration
	// Trim is the trim; nil means debug.FreeOSMemory (a garbage
	// collection, then every free page given back to the OS: a few
	// milliseconds with a heap of tens of MiB).
	Trim func()
	// SpellGCPercent, above zero, is the garbage collector's target
	// (GOGC) from the Kick that starts a spell until the spell's trim,
	// which puts the old target back first; a target already as high, or
	// off, is left alone. Zero leaves the target alone.
	SpellGCPercent int
	// SetGCPercent sets the target and returns the old one, as
	// debug.SetGCPercent (nil) does; tests pass a fake.
	SetGCPercent func(int) int
}

// A Trimmer runs its trim once a busy spell has settled: Delay after the
// last call of Kick. The zero value is not usable; make one with New.
// Its methods are safe for concurrent use.
type Trimmer struct {
	cfg Config

	mu      sync.Mutex
	t       *time.Timer // nil until the first Kick
	last    time.Time   // the last Kick
	raised  bool        // the target is SpellGCPercent; old is the one before
	old     int
	stopped bool
}

// New returns a Trimmer for cfg.
func New(cfg Config) *Trimmer {
	if cfg.Delay <= 0 {
		cfg.Delay = DefaultDelay
	}
	if cfg.Trim == nil {
		cfg.Trim = debug.FreeOSMemory
	}
	if cfg.SetGCPercent == nil {
		cfg.SetGCPercent = debug.SetGCPercent
	}
	return &Trimmer{cfg: cfg}
}

// Kick says a busy spell goes on: the trim runs Delay from now, unless
// Kick is called again before (then Delay from that call). The Kick that
// starts a spell raises the collector's target to SpellGCPercent. After
// Stop it does nothing.
func (t *Trimmer) Kick() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.last = time.Now()
	if p := t.cfg.SpellGCPercent; p > 0 && !t.raised {
		if old := t.cfg.SetGCPercent(p); old >= 0 && old < p {
			t.raised, t.old = true, old
		} else {
			t.cfg.SetGCPercent(old) // as high already, or off
		}
	}
	if t.t == nil {
		t.t = time.AfterFunc(t.cfg.Delay, t.fire)
		return
	}
	t.t.Reset(t.cfg.Delay)
}

// fire ends the spell: the old target back, then the trim. A firing
// that a Kick overtook (it came after the timer was due, and reset it)
// leaves both to the next one.
func (t *Trimmer) fire() {
	t.mu.Lock()
	if t.stopped || time.Since(t.last) < t.cfg.Delay {
		t.mu.Unlock()
		return
	}
	t.restore()
	t.mu.Unlock()
	t.cfg.Trim()
}

// restore puts the target from before the spell back. t.mu held.
func (t *Trimmer) restore() {
	if t.raised {
		t.cfg.SetGCPercent(t.old)
		t.raised = false
	}
}

// Stop cancels a trim not yet started (one running is not waited for)
// and puts back the target a spell raised. Kick does nothing after it.
func (t *Trimmer) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	if t.t != nil {
		t.t.Stop()
	}
	t.restore()
}
