package vrrp

import (
	"net/netip"
	"time"
)

// DropReason says why a received message was discarded.
type DropReason uint8

// Drop reasons, counted in Stats.Drops.
const (
	DropNone DropReason = iota // none
	// DropTTL: TTL / hop limit not 255.
	DropTTL // ttl
	// DropMalformed: too short, wrong length, type, zero interval, family.
	DropMalformed // malformed
	// DropVersion: not our VRRP version.
	DropVersion // version
	// DropChecksum: bad checksum.
	DropChecksum // checksum
	// DropVRID: another virtual router's advert (not logged).
	DropVRID // vrid
	// DropAuth: v2 authentication type or password mismatch, or AH.
	DropAuth // auth
	// DropInterval: v2 advert interval differs from ours.
	DropInterval // interval
	// DropOwn: our own advert looped back.
	DropOwn // own
	// DropPeer: unicast mode, not from a configured peer.
	DropPeer // peer
)

// numDropReasons sizes the per-reason counters.
const numDropReasons = int(DropPeer) + 1

// Event is a state transition, as published to subscribers.
type Event struct {
	Instance string
	Time     time.Time
	From, To State
	Reason   Reason
	Priority uint8
	// Master is the master's address after the transition, if known.
	Master netip.Addr
}

// Status is a snapshot of a router's state.
type Status struct {
	State    State
	Priority uint8
	// Master is the current master's address (ours when Master).
	Master netip.Addr
	// MasterAdverInterval is the master's advert interval as learned.
	MasterAdverInterval time.Duration
	// Since is when the router entered State.
	Since time.Time
}

// Stats are a router's counters since it was created.
type Stats struct {
	AdvertsSent     uint64
	AdvertsReceived uint64 // accepted by validation
	SendErrors      uint64
	ReadErrors      uint64
	// Drops counts the received messages validation discarded, by
	// reason; a reason that never happened is absent (nil when none).
	Drops          map[DropReason]uint64
	AddrMismatch   uint64 // accepted adverts whose address list differs from ours
	PriorityZeroRx uint64
	PriorityZeroTx uint64
	Transitions    uint64
	// ByTransition counts the transitions by kind; a kind that never
	// happened is absent (nil when none).
	ByTransition map[Transition]uint64
	BecameMaster uint64
	AddrErrors   uint64 // AddrManager or Announcer failures
	// AddrRetries counts the retries of a failed VIP add or remove
	// (AddrRetryFirst, AddrRetries).
	AddrRetries uint64
	// AddrFaults counts the times the router entered FAULT because its
	// VIPs could not be added (AddrFaultHold).
	AddrFaults uint64
	// VIPsRestored counts VIPs added back while master after someone else
	// removed them (AddrRemoved).
	VIPsRestored  uint64
	EventsDropped uint64 // events a full subscriber queue lost
	// FinalApproaches counts the times the router polled through the last
	// Timers.FinalApproach before a Master_Down_Timer deadline.
	FinalApproaches uint64
	// FinalApproachesSkipped counts the approaches the router slept
	// through to the deadline instead of polling, because other routers
	// of its Clock were polling (Timers.Clock).
	FinalApproachesSkipped uint64
	// AdvertsTakenAtExpiry counts the adverts a Master_Down_Timer expiry
	// found waiting (received, not yet stepped) and stepped before itself.
	AdvertsTakenAtExpiry uint64
}

// Transition is a kind of state transition: from, to, and why.
type Transition struct {
	From, To State
	Reason   Reason
}

// Drop returns the count for one drop reason.
func (s Stats) Drop(r DropReason) uint64 { return s.Drops[r] }
