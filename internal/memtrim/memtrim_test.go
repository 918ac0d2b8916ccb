package memtrim

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestTrimmer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		var at time.Time
		tr := New(10*time.Second, func() { n.Add(1); at = time.Now() })
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
	tr := New(0, nil)
	if tr.delay != DefaultDelay || tr.trim == nil {
		t.Fatalf("New(0, nil): delay %v, trim nil %v", tr.delay, tr.trim == nil)
	}
	tr.Stop()
}
