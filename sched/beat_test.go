package sched

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/watchdog"
)

// gatedSource is a rand.Source whose draws wait while its gate is set:
// it blocks the Runner's goroutine, the only one that draws jitter.
type gatedSource struct {
	gate atomic.Pointer[chan struct{}]
}

func (g *gatedSource) Uint64() uint64 {
	if c := g.gate.Load(); c != nil {
		<-*c
	}
	return 12345
}

// TestRunnerBeats: a Runner given a Beat keeps it alive while idle or
// running jobs (it wakes every Period, a quarter of the deadline); its
// goroutine blocked (here drawing a job's jitter) is found stalled one
// deadline after its last beat, and beats again once free.
func TestRunnerBeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, err := watchdog.New(watchdog.Config{Deadline: 4 * s1, WatchdogInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithCancel(context.Background())
		wdone := make(chan error, 1)
		go func() { wdone <- w.Run(wctx) }()
		var src gatedSource
		s := New(Config{Rand: rand.New(&src)})
		b := w.Register("checks", 0)
		if err := s.SetBeat(b); err != nil {
			t.Fatal(err)
		}
		mustAdd(t, s, Job{Name: "slow", Interval: time.Minute, Jitter: s1, Run: func(ctx context.Context) { <-ctx.Done() }})
		t0 := time.Now()
		stop := start(t, s)
		sleepUntil(t0, 5*time.Minute)
		if !w.Healthy() || w.Stats().Stalls != 0 {
			t.Fatalf("idle runner stalled: %+v", w.Stats())
		}
		gate := make(chan struct{})
		src.gate.Store(&gate) // the loop blocks at the next run's jitter, at 6 min
		sleepUntil(t0, 6*time.Minute+6*s1)
		if w.Healthy() || w.Stats().Stalls != 1 {
			t.Errorf("blocked runner: healthy %v, stats %+v", w.Healthy(), w.Stats())
		}
		select {
		case <-b.Stalled():
		default:
			t.Error("no stall reported on the Beat")
		}
		src.gate.Store(nil)
		close(gate)
		sleepUntil(t0, 6*time.Minute+8*s1)
		if !w.Healthy() {
			t.Error("still unhealthy once the runner turns again")
		}
		stop()
		b.Done()
		if err := s.SetBeat(b); !errors.Is(err, ErrRan) {
			t.Errorf("SetBeat after Run: %v, want ErrRan", err)
		}
		wcancel()
		<-wdone
	})
}
