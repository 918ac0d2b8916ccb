package watchdog_test

import (
	"context"
	"fmt"
	"time"

	"github.com/vigil-ha/vigil/watchdog"
)

func Example() {
	// Under systemd, a zero WatchdogInterval takes WATCHDOG_USEC.
	w, err := watchdog.New(watchdog.Config{WatchdogInterval: -1, Stacks: -1})
	if err != nil {
		fmt.Println(err)
		return
	}
	sub := w.Subscribe(16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()

	// A loop that stops beating is found stalled after its deadline, and
	// recovered when it beats again.
	b := w.Register("worker", 20*time.Millisecond)
	e := <-sub.C()
	fmt.Println(e.Kind, e.Name, e.Stalled > 20*time.Millisecond)
	b.Beat()
	e = <-sub.C()
	fmt.Println(e.Kind, e.Name)
	b.Done()

	// A guarded loop that keeps panicking is restarted with backoff until
	// its failure budget is spent.
	p := watchdog.Policy{Backoff: time.Millisecond, Failures: 2}
	err = w.Guard(ctx, "flaky", p, func(ctx context.Context, b *watchdog.Beat) error {
		b.Beat() // every turn of the loop
		panic("bad state")
	})
	fmt.Println(err)
	for range 4 {
		e := <-sub.C()
		fmt.Println(e.Kind, e.Name, e.Failures)
	}

	cancel()
	fmt.Println(<-done)
	s := w.Stats()
	fmt.Println("stalls", s.Stalls, "panics", s.Panics, "restarts", s.Restarts)
	// Output:
	// stalled worker true
	// recovered worker
	// watchdog: loop keeps failing: loop "flaky": 2 failures within 1m0s, the last: watchdog: panic: bad state
	// failed flaky 1
	// restarted flaky 1
	// failed flaky 2
	// gave up flaky 2
	// <nil>
	// stalls 1 panics 2 restarts 1
}
