//go:build linux

package main

import (
	"encoding/json"
	"io"
	"reflect"
	"slices"
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
// subscription is closed. One goroutine waits on all of them (a select
// over their channels), not one per router: transitions are rare, and a
// goroutine's stack is kilobytes per router.
func printEvents(w io.Writer, subs []*vrrp.Subscription) {
	enc := json.NewEncoder(w)
	cases := make([]reflect.SelectCase, len(subs))
	for i, sub := range subs {
		cases[i] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(sub.C())}
	}
	for len(cases) > 0 {
		i, v, ok := reflect.Select(cases)
		if !ok { // closed when the router's Run returns
			cases = slices.Delete(cases, i, i+1)
			continue
		}
		e := v.Interface().(vrrp.Event)
		ev := event{Time: e.Time.UTC().Format(time.RFC3339Nano), Instance: e.Instance, From: e.From.String(),
			To: e.To.String(), Reason: e.Reason.String(), Priority: e.Priority}
		if e.Master.IsValid() {
			ev.Master = e.Master.String()
		}
		enc.Encode(ev)
	}
}
