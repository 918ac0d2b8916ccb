package watchdog

import (
	"time"

	"github.com/vigil-ha/vigil/internal/feed"
)

//go:generate go tool stringer -type=EventKind -linecomment

// EventKind is what an Event reports. The zero value is invalid.
type EventKind uint8

// Event kinds.
const (
	// EventStalled: a registered loop has not beaten for longer than its
	// deadline (Name, Stalled, Stack).
	EventStalled EventKind = iota + 1 // stalled
	// EventRecovered: a stalled loop beat again (Name, Stalled).
	EventRecovered // recovered
	// EventFailed: a guarded loop panicked, stalled or returned an error
	// (Name, Err, Stack for a panic, Failures, Backoff).
	EventFailed // failed
	// EventRestarted: Guard started a failed loop again (Name, Failures).
	EventRestarted // restarted
	// EventGaveUp: a guarded loop used up its failure budget; Guard
	// returns an error wrapping ErrFailing (Name, Err, Failures).
	EventGaveUp // gave up
	// EventAbandoned: a stalled guarded run did not return within
	// Policy.Abandon after its ctx was canceled; Guard left its goroutine
	// behind and goes on (Name, Stalled: the wait). An EventFailed
	// follows.
	EventAbandoned // abandoned
)

// An Event is one change the Watchdog reports to its subscriptions. Kind
// says which fields are set.
type Event struct {
	Kind EventKind
	// Name is the loop's name given to Register or Guard.
	Name string
	// Time is when the Watchdog saw it: the check that found the stall or
	// the recovery, the return of the failed loop, the restart.
	Time time.Time
	// Stalled is, for EventStalled, the time since the loop's last beat;
	// for EventRecovered, the time between the beat before the stall and
	// the beat that ended it.
	Stalled time.Duration
	// Stack is, for EventStalled, the stacks of all goroutines at the
	// check that found the stall; for an EventFailed caused by a panic,
	// the panicking goroutine's stack. At most Config.Stacks bytes; empty
	// when Config.Stacks is negative.
	Stack string
	// Err is why a guarded loop failed (EventFailed, EventGaveUp): a
	// *PanicError, ErrStalled, or the error the loop returned.
	Err error
	// Failures counts the loop's failures within Policy.Window, this one
	// included (EventFailed, EventRestarted, EventGaveUp).
	Failures int
	// Backoff is, for EventFailed, the wait before the restart.
	Backoff time.Duration
}

// A Subscription receives a Watchdog's events. The Watchdog never waits
// for it: its queue holds the n values given to Subscribe (at least 1),
// and when it is full the oldest value is dropped to make room and counted
// in Dropped. Its methods are safe for concurrent use.
type Subscription struct {
	sub *feed.Sub[Event]
}

// C returns the channel of events. It is closed by Close, and when the
// Watchdog's Run returns, after the events still queued.
func (s *Subscription) C() <-chan Event { return s.sub.C() }

// Close ends the subscription and closes C. Calling it again does nothing.
func (s *Subscription) Close() { s.sub.Close() }

// Dropped counts the events this subscription lost because its queue was
// full.
func (s *Subscription) Dropped() uint64 { return s.sub.Dropped() }
