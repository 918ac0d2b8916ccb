package memtrim

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestTrimmer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		var at time.Time
		tr := New(Config{Delay: 10 * time.Second, Trim: func() { n.Add(1); at = time.Now() }})
		time.Sleep(time.Hour)
		if n.Load() != 0 {
			t.Fatal("trimmed before any Kick")
		}
		start := time.Now()
		tr.Kick()
		time.Sleep(6 * time.Second)
		tr.Kick() // the spell goes on: 10 s from here
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if n.Load() != 0 {
			t.Fatalf("trimmed %v after the first Kick, 9 s after the second", at.Sub(start))
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got, want := at.Sub(start), 16*time.Second; n.Load() != 1 || got != want {
			t.Fatalf("%d trims, at %v; want 1 at %v", n.Load(), got, want)
		}
		time.Sleep(time.Hour)
		if n.Load() != 1 {
			t.Fatalf("%d trims without a new Kick", n.Load())
		}
		tr.Kick() // a reload: trims again
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if n.Load() != 2 {
			t.Fatalf("%d trims after a second spell, want 2", n.Load())
		}
		tr.Kick()
		tr.Stop()
		tr.Kick()
		time.Sleep(time.Hour)
		if n.Load() != 2 {
			t.Fatalf("%d trims after Stop, want 2", n.Load())
		}
	})
}

func TestDefaults(t *testing.T) {
	tr := New(Config{})
	if tr.cfg.Delay != DefaultDelay || tr.cfg.Trim == nil || tr.cfg.SetGCPercent == nil {
		t.Fatalf("New(Config{}): delay %v, trim nil %v, SetGCPercent nil %v", tr.cfg.Delay, tr.cfg.Trim == nil, tr.cfg.SetGCPercent == nil)
	}
	tr.Stop()
}

// gcTarget is a fake collector target: what SetGCPercent sets, and the
// target at each trim.
type gcTarget struct {
	mu     sync.Mutex
	cur    int
	atTrim []int
}

func (g *gcTarget) set(p int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.cur
	g.cur = p
	return old
}

// trim records the target at a trim.
func (g *gcTarget) trim() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.atTrim = append(g.atTrim, g.cur)
}

// trims returns the targets at the trims so far.
func (g *gcTarget) trims() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.atTrim)
}

func (g *gcTarget) get() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cur
}

// TestSpell: the Kick that starts a spell raises the collector's target;
// the trim that ends it finds the old target back; a Kick that comes
// after the timer was due but before its firing ran keeps the spell
// going (no early trim, no target put back); Stop puts it back.
func TestSpell(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gcTarget{cur: 25}
		tr := New(Config{Delay: 10 * time.Second, SpellGCPercent: 400, SetGCPercent: g.set, Trim: g.trim})
		if g.get() != 25 {
			t.Fatal("target changed before any Kick")
		}
		tr.Kick()
		if g.get() != 400 {
			t.Fatalf("target %d in a spell, want 400", g.get())
		}
		time.Sleep(5 * time.Second)
		tr.Kick()
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if g.get() != 400 || len(g.trims()) != 0 {
			t.Fatalf("9 s after the last Kick: target %d, %d trims; want 400, 0", g.get(), len(g.trims()))
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if len(g.trims()) != 1 || g.trims()[0] != 25 || g.get() != 25 {
			t.Fatalf("after the spell: trims with targets %v, target %d; want one at 25, 25", g.trims(), g.get())
		}
		// A firing overtaken by a Kick (the timer was due, its function
		// had not taken the lock yet when the Kick came): it finds the
		// spell going on and leaves it to the next.
		tr.Kick()
		time.Sleep(3 * time.Second)
		tr.fire()
		if len(g.trims()) != 1 || g.get() != 400 {
			t.Fatalf("an overtaken firing: %d trims, target %d; want 1, 400", len(g.trims()), g.get())
		}
		time.Sleep(7 * time.Second)
		synctest.Wait()
		if len(g.trims()) != 2 || g.trims()[1] != 25 {
			t.Fatalf("after the overtaken spell: trims with targets %v; want [25 25]", g.trims())
		}
		tr.Kick()
		tr.Stop()
		if g.get() != 25 {
			t.Fatalf("Stop in a spell left target %d, want 25", g.get())
		}
	})
}

// TestSpellHigher: a target already as high as the spell's, or off, is
// left as it is.
func TestSpellHigher(t *testing.T) {
	for _, cur := range []int{400, 800, -1} {
		g := &gcTarget{cur: cur}
		tr := New(Config{Delay: time.Hour, SpellGCPercent: 400, SetGCPercent: g.set, Trim: func() {}})
		tr.Kick()
		if g.get() != cur {
			t.Errorf("target %d: %d in the spell", cur, g.get())
		}
		tr.Stop()
		if g.get() != cur {
			t.Errorf("target %d: %d after Stop", cur, g.get())
		}
	}
}
