package netlink_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/watchdog"
)

// TestWatcherBeats: a Watcher given a Beat keeps it alive while nothing
// happens (it wakes every Period); stuck applying a notification it is
// found stalled, and beats again once free.
func TestWatcherBeats(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	wd, err := watchdog.New(watchdog.Config{Deadline: 400 * time.Millisecond, WatchdogInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(context.Background())
	wdone := make(chan error, 1)
	go func() { wdone <- wd.Run(wctx) }()
	defer func() { wcancel(); <-wdone }()
	b := wd.Register("platform", 0)
	defer b.Done()
	release := make(chan struct{})
	var armed atomic.Bool // then the next notification is held until release
	w, next := watch(t, netlink.WatcherConfig{Netns: nsPath(h)}, func(w *netlink.Watcher) {
		if err := w.SetBeat(b); err != nil {
			t.Fatal(err)
		}
		w.SetUpdateHook(func(ctx context.Context) {
			if armed.CompareAndSwap(true, false) {
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
		})
	})
	next("initial sync", is(netlink.Synced, true))
	time.Sleep(2 * time.Second) // idle: five deadlines
	if st := wd.Stats(); st.Stalls != 0 || !wd.Healthy() {
		t.Fatalf("an idle watcher stalled: %+v", st)
	}
	armed.Store(true)
	addrBatch(t, h, 1) // its notification is held by the hook
	waitFor(t, "the stall", func() bool { return wd.Stats().Stalls == 1 && !wd.Healthy() })
	close(release)
	waitFor(t, "the recovery", wd.Healthy)
	if err := w.SetBeat(b); !errors.Is(err, netlink.ErrRan) {
		t.Errorf("SetBeat while running: %v, want ErrRan", err)
	}
}

// waitFor polls ok every 10 ms for at most 10 s.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
