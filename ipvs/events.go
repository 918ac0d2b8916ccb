package ipvs

import (
	"fmt"

	"github.com/vigil-ha/vigil/internal/feed"
)

// EventKind is what an Event reports. The zero value is invalid.
type EventKind uint8

// Event kinds (keepalived's notify_up and notify_down of a real server,
// quorum_up and quorum_down of a virtual server); String returns the
// words in the comments.
const (
	EventQuorumUp   EventKind = iota + 1 // quorum up
	EventQuorumDown                      // quorum down
	EventServerUp                        // real server up
	EventServerDown                      // real server down
)

// An Event is a change of a Balancer's state: a pool gained or lost its
// quorum, or a real server went up or down.
type Event struct {
	Kind    EventKind
	Service ServiceKey
	// Dest is the real server of EventServerUp and EventServerDown.
	Dest DestinationKey
}

// String formats e as "quorum down tcp 192.0.2.10:80" or "real server
// up 10.0.0.1:80 of tcp 192.0.2.10:80".
func (e Event) String() string {
	switch e.Kind {
	case EventServerUp, EventServerDown:
		return fmt.Sprintf("%v %v of %v", e.Kind, e.Dest, e.Service)
	}
	return fmt.Sprintf("%v %v", e.Kind, e.Service)
}

// A Subscription receives a Balancer's events (Balancer.Subscribe). It
// holds a queue of up to the n events it was made with; when the queue is
// full the oldest event is dropped and counted, so the Balancer never
// waits for a subscriber. Its methods are safe for concurrent use.
type Subscription struct{ sub *feed.Sub[Event] }

// C delivers the events in the order they happened. It is closed by Close
// and when the Balancer's Run returns, after the events still queued.
func (s *Subscription) C() <-chan Event { return s.sub.C() }

// Close stops delivery and closes C. Calling it again does nothing.
func (s *Subscription) Close() { s.sub.Close() }

// Dropped counts the events this subscription lost because its queue was
// full.
func (s *Subscription) Dropped() uint64 { return s.sub.Dropped() }
