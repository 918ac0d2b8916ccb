package netlink

import (
	"fmt"
	"net/netip"
	"strings"
)

// EventKind says what a Watcher Event reports.
type EventKind uint8

//go:generate go tool stringer -type=EventKind -linecomment

// Event kinds. The zero value is invalid.
const (
	_ EventKind = iota
	// InterfaceAdded: an interface appeared (or was found by a listing);
	// Event.Up gives its state.
	InterfaceAdded // interface-added
	// InterfaceRemoved: an interface was deleted (or moved to another
	// namespace).
	InterfaceRemoved // interface-removed
	// InterfaceUp: an interface became administratively up and running
	// (carrier).
	InterfaceUp // interface-up
	// InterfaceDown: an interface stopped being up and running.
	InterfaceDown // interface-down
	// AddrAdded: an address appeared on an interface.
	AddrAdded // addr-added
	// AddrRemoved: an address was removed from an interface.
	AddrRemoved // addr-removed
	// AddrDADFailed: IPv6 duplicate address detection failed for an
	// address (IFA_F_DADFAILED): another node on the segment uses it.
	AddrDADFailed // addr-dad-failed
	// Synced: a listing (the initial one or a resync) has been applied;
	// the events before it describe every difference it found.
	Synced // synced
)

// AddrFlags are an address's IFA_F_* flags as the kernel reports them.
type AddrFlags uint32

// The address flags the package names (linux/if_addr.h).
const (
	FlagSecondary AddrFlags = 0x01
	FlagNoDAD     AddrFlags = 0x02
	FlagDADFailed AddrFlags = 0x08
	FlagTentative AddrFlags = 0x40
	FlagPermanent AddrFlags = 0x80
)

// Tentative reports whether IPv6 duplicate address detection is still
// running (or failed) for the address.
func (f AddrFlags) Tentative() bool { return f&FlagTentative != 0 }

// DADFailed reports whether duplicate address detection failed.
func (f AddrFlags) DADFailed() bool { return f&FlagDADFailed != 0 }

// String names the flags, "|"-separated ("nodad|permanent"), with the
// unnamed rest in hexadecimal.
func (f AddrFlags) String() string {
	names := []struct {
		f AddrFlags
		s string
	}{{FlagSecondary, "secondary"}, {FlagNoDAD, "nodad"}, {FlagDADFailed, "dadfailed"},
		{FlagTentative, "tentative"}, {FlagPermanent, "permanent"}}
	var parts []string
	rest := f
	for _, n := range names {
		if f&n.f != 0 {
			parts = append(parts, n.s)
			rest &^= n.f
		}
	}
	if rest != 0 {
		parts = append(parts, fmt.Sprintf("0x%x", uint32(rest)))
	}
	return strings.Join(parts, "|")
}

// Event is one change a Watcher saw.
type Event struct {
	Kind EventKind
	// Index and Interface identify the interface (Interface may be empty
	// when the name could not be learned). Zero for Synced.
	Index     int
	Interface string
	// Up is the interface's state after the event (interface events).
	Up bool
	// Addr and Flags describe the address (address events).
	Addr  netip.Prefix
	Flags AddrFlags
	// Sync is true when a listing found the change (the initial listing
	// or a resync after a lost kernel subscription) rather than a
	// notification, and on the events of Watcher.Snapshot.
	Sync bool
}

// String formats e as "interface-up eth0(2) up=true" or
// "addr-added eth0(2) 192.0.2.1/24 [permanent] (sync)".
func (e Event) String() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	if e.Index != 0 || e.Interface != "" {
		fmt.Fprintf(&b, " %s(%d)", e.Interface, e.Index)
	}
	switch e.Kind {
	case InterfaceAdded, InterfaceUp, InterfaceDown:
		fmt.Fprintf(&b, " up=%t", e.Up)
	case AddrAdded, AddrRemoved, AddrDADFailed:
		fmt.Fprintf(&b, " %v", e.Addr)
		if e.Flags != 0 {
			fmt.Fprintf(&b, " [%v]", e.Flags)
		}
	}
	if e.Sync {
		b.WriteString(" (sync)")
	}
	return b.String()
}
