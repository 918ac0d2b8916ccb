// Package bgpstate holds the types of a BGP speaker's state (bgp.State)
// in a package that does not import GoBGP, so that a program built
// without it (vigild -tags nobgp) can still carry and show a speaker's
// state: vigild's status, /state and /metrics, and a child's answer to
// its parent under --process-model=keepalived.
package bgpstate

import "net/netip"

// State is a snapshot of a speaker, ready for encoding/json.
type State struct {
	// Peers are the configured peers with their sessions' states; empty
	// while the speaker is not running.
	Peers []PeerState `json:"peers"`
	// VIPs are the configured VIPs, in the configuration's order.
	VIPs []VIPState `json:"vips"`
	// Draining is set once a drain has started, Drained once it
	// withdrew everything.
	Draining bool `json:"draining,omitempty"`
	Drained  bool `json:"drained,omitempty"`
}

// PeerState is one peer's session.
type PeerState struct {
	Address netip.Addr `json:"address"`
	ASN     uint32     `json:"asn"`
	// Session is the BGP FSM state, lower case: "idle", "connect",
	// "active", "opensent", "openconfirm", "established".
	Session string `json:"session"`
}

// VIPState is one VIP.
type VIPState struct {
	Prefix netip.Prefix `json:"prefix"`
	// Announced is set while the route is announced, Draining while it
	// is announced with GRACEFUL_SHUTDOWN. The bgp package's speaker
	// changes both just before it hands the change to GoBGP (and changes
	// them back if GoBGP refuses it), so a router never learns of a
	// change the state does not show yet.
	Announced bool `json:"announced"`
	Draining  bool `json:"draining,omitempty"`
}
