package process_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/vigil-ha/vigil/process"
)

// A Supervisor tracks haproxy for a VRRP instance: keepalived's
//
//	vrrp_track_process chk_haproxy {
//	    process haproxy
//	    weight -20
//	    delay 2
//	}
//
// becomes a Spec, and the weight is applied by whoever reads the Changes.
func Example() {
	tr, err := process.New(process.Config{Specs: []process.Spec{{
		Name:           "chk_haproxy",
		Process:        "haproxy",
		ForkDelay:      2 * time.Second,
		TerminateDelay: 2 * time.Second,
	}}})
	if errors.Is(err, process.ErrPermission) || errors.Is(err, process.ErrUnsupported) {
		log.Printf("process tracking unavailable here: %v", err)
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	sub := tr.Subscribe(16) // before Run: the Initial changes come first
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		for c := range sub.C() {
			// keepalived's weight -20: subtract 20 while down. A weight
			// of 0 would put the instance in FAULT instead.
			delta := 0
			if c.State == process.StateDown {
				delta = -20
			}
			log.Printf("%s %v with %d processes: priority %+d", c.Name, c.State, c.Count, delta)
		}
	}()
	if err := tr.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
