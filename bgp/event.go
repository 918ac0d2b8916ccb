package bgp

import (
	"net/netip"
	"time"
)

//go:generate go tool stringer -type=EventKind -linecomment

// EventKind is what an Event reports. The zero value is invalid.
type EventKind uint8

// Event kinds.
const (
	// EventAnnounce: a VIP's route was handed to GoBGP for its peers.
	EventAnnounce EventKind = iota + 1 // announce
	// EventWithdraw: a VIP's route was withdrawn.
	EventWithdraw // withdraw
	// EventDrain: a VIP's route was announced again with the
	// GRACEFUL_SHUTDOWN community (and Drain.MED), by Speaker.Drain.
	EventDrain // drain
)

// An Event is one change of what a Speaker announces.
type Event struct {
	Kind   EventKind    `json:"kind"`
	Prefix netip.Prefix `json:"prefix"`
	// Time is when GoBGP took the change (it sends the UPDATE to each
	// established peer right after).
	Time time.Time `json:"time"`
	// Cause is the time of the Supervisor event that decided the change
	// (vigil.Event.Time: the end of the check, the instance's
	// transition), zero when none did (Run starting, Drain, the
	// Supervisor stopping).
	Cause time.Time `json:"cause,omitzero"`
}

// MarshalText encodes k as its name ("withdraw"), for JSON.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }
