package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// DropReason says why a received message was discarded.
type DropReason uint8

// Drop reasons, counted in Stats.Drops.
const (
	DropNone      DropReason = iota
	DropTTL                  // TTL / hop limit not 255
	DropMalformed            // too short, wrong length, type, zero interval, family
	DropVersion              // not our VRRP version
	DropChecksum             // bad checksum
	DropVRID                 // another virtual router's advert (quiet)
	DropAuth                 // v2 authentication type or password mismatch, or AH
	DropInterval             // v2 advert interval differs from ours
	DropOwn                  // our own advert looped back
	DropPeer                 // unicast mode: not from a configured peer
	numDropReasons
)

func (d DropReason) String() string {
	switch d {
	case DropNone:
		return "none"
	case DropTTL:
		return "ttl"
	case DropMalformed:
		return "malformed"
	case DropVersion:
		return "version"
	case DropChecksum:
		return "checksum"
	case DropVRID:
		return "vrid"
	case DropAuth:
		return "auth"
	case DropInterval:
		return "interval"
	case DropOwn:
		return "own"
	case DropPeer:
		return "peer"
	}
	return fmt.Sprintf("DropReason(%d)", uint8(d))
}

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
	Drops           [numDropReasons]uint64 // indexed by DropReason
	AddrMismatch    uint64                 // accepted adverts whose address list differs from ours
	PriorityZeroRx  uint64
	PriorityZeroTx  uint64
	Transitions     uint64
	BecameMaster    uint64
	AddrErrors      uint64 // AddrManager or Announcer failures
	EventsDropped   uint64 // events a full subscriber queue lost
	// FinalApproaches counts the times the router polled through the last
	// FinalApproach before a Master_Down_Timer deadline (PreciseTimers).
	FinalApproaches uint64
}

// Drop returns the count for one drop reason.
func (s Stats) Drop(r DropReason) uint64 {
	if r >= numDropReasons {
		return 0
	}
	return s.Drops[r]
}
