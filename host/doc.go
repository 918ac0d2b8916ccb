// Package host runs VRRP instances on a host: each router wired to the
// platform's sockets, address managers and announcers, and the host's
// interface and address events applied to the routers (a downed
// interface puts its instances in FAULT; a removed VIP is put back by
// its master). It is the part of vigil a program that runs VRRP alone
// needs: it links neither the checkers (net/http, DNS) nor the
// Supervisor, so such a program is smaller and starts with less memory
// (examples/vrrpd). Package vigil's Supervisor is built on the same
// Platform, and names this package's types as its own (vigil.Host is
// host.Host).
//
// On Linux, New opens the real platform (OpenLinux: raw sockets,
// netlink, packet sockets, the netlink watcher) in a network namespace;
// NewOn runs on any Platform, such as package vigiltest's in-memory one.
//
// Its errors and logs begin "vigil:", as the rest of vigil's do: they
// are the daemon's, whichever package wrote them.
package host

import "errors"

// ErrRan is returned by a second call of Host.Run (vigil.ErrRan is the
// same error).
var ErrRan = errors.New("vigil: already ran")

// SocketName names a VRRP socket (vrrp.Socket) that a platform's
// instances share: its interface and its address family, "ipv4" or
// "ipv6".
type SocketName struct {
	Interface, Family string
}

// family names an address family in SocketName.
func family(v6 bool) string {
	if v6 {
		return "ipv6"
	}
	return "ipv4"
}

// NFTables is the nftables table through which the Linux platform drops
// the traffic to the VIPs of masters whose Accept_Mode is off
// (vrrp.Config.NoAccept; see package acceptmode).
type NFTables struct {
	// Table is the name of the inet table; empty means "vigil". Two
	// processes in one network namespace need two names: each deletes
	// its table, a crashed run's leftover, when it starts.
	Table string
	// Priority is the priority of its input and output chains; nil
	// means -1 (keepalived's).
	Priority *int32
	// Counters adds a counter to each rule.
	Counters bool
}
