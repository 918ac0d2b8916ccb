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

	s := sched.New(sched.Config{MaxInFlight: 8})

	var runs atomic.Int32
	_, err := s.Add(sched.Job{
		Name:     "check web-1",
		Interval: 10 * time.Millisecond,
		Jitter:   time.Millisecond,
		Offset:   -1, // let the scheduler stagger the first run
		Timeout:  5 * time.Millisecond,
		Run: func(ctx context.Context) {
			n := runs.Add(1)
			if n > 3 {
				return
			}
			fmt.Println("check", n)
			if n == 3 {
				cancel() // stop the scheduler
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	_, err = s.Add(sched.Job{Name: "bad", Interval: time.Second, Jitter: 2 * time.Second, Run: func(context.Context) {}})
	fmt.Println(err)

	if err := s.Run(ctx); err != nil { // returns once every run has returned
		fmt.Println(err)
	}
	fmt.Println("stopped; in flight:", s.Stats().InFlight)
	// Output:
	// sched: invalid job: job "bad": jitter 2s must be in [0, interval 1s)
	// check 1
	// check 2
	// check 3
	// stopped; in flight: 0
}
