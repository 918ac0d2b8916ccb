//go:build linux

package main

import (
	"encoding/json"
	"io"
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

// printEvents prints the events arriving on c as JSON lines until c is
// closed. Every router sends to c (vrrp.Router.SubscribeTo): one
// goroutine and one queue for all, where a subscription each needed a
// forwarder goroutine and a queue per router (~3 MiB at 1,000 routers).
// It calls kick for each.
func printEvents(w io.Writer, c <-chan vrrp.Event, kick func()) {
	enc := json.NewEncoder(w)
	for e := range c {
		kick()
		ev := event{Time: e.Time.UTC().Format(time.RFC3339Nano), Instance: e.Instance, From: e.From.String(),
			To: e.To.String(), Reason: e.Reason.String(), Priority: e.Priority}
		if e.Master.IsValid() {
			ev.Master = e.Master.String()
		}
		enc.Encode(ev)
	}
}
