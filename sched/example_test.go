package sched_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/sched"
)

func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	r := sched.New(sched.Config{MaxInFlight: 8})

	var runs atomic.Int32
	_, err := r.Add(sched.Job{
		Name:     "check web-1",
		Interval: 10 * time.Millisecond,
		Jitter:   time.Millisecond,
		Spread:   true, // let the runner stagger the first run
		Timeout:  5 * time.Millisecond,
		Run: func(ctx context.Context) {
			n := runs.Add(1)
			if n > 3 {
				return
			}
			fmt.Println("check", n)
			if n == 3 {
				cancel() // stop the runner
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	_, err = r.Add(sched.Job{Name: "bad", Interval: time.Second, Jitter: 2 * time.Second, Run: func(context.Context) {}})
	fmt.Println(err)

	if err := r.Run(ctx); err != nil { // returns once every run has returned
		fmt.Println(err)
	}
	fmt.Println("stopped; in flight:", r.Stats().InFlight)
	fmt.Println(r.Run(ctx)) // a Runner runs once
	// Output:
	// sched: job "bad": Jitter: 2s, want below Interval 1s
	// check 1
	// check 2
	// check 3
	// stopped; in flight: 0
	// sched: already ran
}

// A Handle changes its job's period while the Runner runs: the ticks
// restart from the last run on the new period.
func ExampleHandle_SetInterval() {
	ctx, cancel := context.WithCancel(context.Background())
	r := sched.New(sched.Config{})
	var (
		h    *sched.Handle
		runs atomic.Int32
	)
	h, _ = r.Add(sched.Job{Name: "poll", Interval: time.Hour, Run: func(context.Context) {
		switch runs.Add(1) {
		case 1: // due at once; the next would be in an hour
			fmt.Println(h.SetInterval(time.Millisecond))
		case 3:
			cancel()
		}
	}})
	fmt.Println(r.Run(ctx), runs.Load())
	// Output:
	// <nil>
	// <nil> 3
}
