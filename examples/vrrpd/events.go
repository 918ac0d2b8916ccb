//go:build linux

package main

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// event is one JSON line of output.
type event struct {
	Time     string `json:"time"`
	Instance string `json:"instance"`
	From     string `json:"from"`
	To       string `json:"to"`
	Reason   string `json:"reason"`
	Priority uint8  `json:"priority"`
	Master   string `json:"master,omitempty"`
}

// printEvents prints the events of subs as JSON lines until every
// subscription is closed. One goroutine encodes and prints; each
// subscription has a forwarder whose stack stays at the runtime's
// minimum (2 KiB), where a goroutine that also encoded would grow to
// 8 KiB or more per router. (A reflect.Select over all subscriptions
// needs no goroutines but allocates in proportion to their number on
// every event: tens of MB during the start of 1,000 routers.)
func printEvents(w io.Writer, subs []*vrrp.Subscription) {
	all := make(chan vrrp.Event, 64)
	var wg sync.WaitGroup
	for _, sub := range subs {
		wg.Go(func() {
			for e := range sub.C() { // closed when the router's Run returns
				all <- e
			}
		})
	}
	go func() { wg.Wait(); close(all) }()
	enc := json.NewEncoder(w)
	for e := range all {
		ev := event{Time: e.Time.UTC().Format(time.RFC3339Nano), Instance: e.Instance, From: e.From.String(),
			To: e.To.String(), Reason: e.Reason.String(), Priority: e.Priority}
		if e.Master.IsValid() {
			ev.Master = e.Master.String()
		}
		enc.Encode(ev)
	}
}
