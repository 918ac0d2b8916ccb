package netlink

import (
	"fmt"
	"net/netip"
	"strings"
)

// EventKind says what a Watcher Event reports.
type EventKind uint8

// Event kinds. The zero value is invalid.
const (
	_ EventKind = iota
	// LinkAdded: a link appeared (or was found by a listing); Event.Up
	// gives its state.
	LinkAdded
	// LinkRemoved: a link was deleted (or moved to another namespace).
	LinkRemoved
	// LinkUp: a link became administratively up and running (carrier).
	LinkUp
	// LinkDown: a link stopped being up and running.
	LinkDown
	// AddrAdded: an address appeared on a link.
	AddrAdded
	// AddrRemoved: an address was removed from a link.
	AddrRemoved
	// AddrDADFailed: IPv6 duplicate address detection failed for an
	// address (IFA_F_DADFAILED): another node on the link uses it.
	AddrDADFailed
	// Synced: a listing (the initial one or a resync) has been applied;
	// the events before it describe every difference it found.
	Synced
)

func (k EventKind) String() string {
	switch k {
	case LinkAdded:
		return "link-added"
	case LinkRemoved:
		return "link-removed"
	case LinkUp:
		return "link-up"
	case LinkDown:
		return "link-down"
	case AddrAdded:
		return "addr-added"
	case AddrRemoved:
		return "addr-removed"
	case AddrDADFailed:
		return "addr-dad-failed"
	case Synced:
		return "synced"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

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
	// Index and Link identify the interface (Link may be empty when the
	// name could not be learned). Zero for Synced.
	Index int
	Link  string
	// Up is the link's state after the event (link events).
	Up bool
	// Addr and Flags describe the address (address events).
	Addr  netip.Prefix
	Flags AddrFlags
	// Sync is true when a listing found the change (the initial listing
	// or a resync after a lost subscription) rather than a notification.
	Sync bool
}

func (e Event) String() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	if e.Index != 0 || e.Link != "" {
		fmt.Fprintf(&b, " %s(%d)", e.Link, e.Index)
	}
	switch e.Kind {
	case LinkAdded, LinkUp, LinkDown:
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
