package netlink

import (
	"cmp"
	"net/netip"
	"slices"
)

// ifaceInfo is what the watcher knows of an interface.
type ifaceInfo struct {
	name string
	up   bool
}

type addrKey struct {
	index  int
	prefix netip.Prefix
}

type addrInfo struct {
	flags AddrFlags
	iface string // the interface's name when the address was seen
}

// watchState is the watcher's view of a namespace's interfaces and
// addresses. Applying an observation returns the events it implies,
// filtered to one interface when filter is not empty. It is written by the
// watcher's goroutine.
type watchState struct {
	filter string
	ifaces map[int]ifaceInfo
	addrs  map[addrKey]addrInfo
}

func newWatchState(filter string) *watchState {
	return &watchState{filter: filter, ifaces: map[int]ifaceInfo{}, addrs: map[addrKey]addrInfo{}}
}

func (s *watchState) wants(name string) bool { return s.filter == "" || s.filter == name }

// iface applies "interface index is present with name and up", or
// "interface index is absent" when !present.
func (s *watchState) iface(evs []Event, index int, name string, up, present, sync bool) []Event {
	old, known := s.ifaces[index]
	switch {
	case present && !known:
		s.ifaces[index] = ifaceInfo{name: name, up: up}
		if s.wants(name) {
			evs = append(evs, Event{Kind: InterfaceAdded, Index: index, Interface: name, Up: up, Sync: sync})
		}
	case present:
		s.ifaces[index] = ifaceInfo{name: name, up: up}
		if old.up != up && s.wants(name) {
			k := InterfaceDown
			if up {
				k = InterfaceUp
			}
			evs = append(evs, Event{Kind: k, Index: index, Interface: name, Up: up, Sync: sync})
		}
	case known:
		delete(s.ifaces, index)
		if s.wants(old.name) {
			evs = append(evs, Event{Kind: InterfaceRemoved, Index: index, Interface: old.name, Sync: sync})
		}
	}
	return evs
}

// addr applies "address k is present with flags on interface name", or
// "absent" when !present.
func (s *watchState) addr(evs []Event, k addrKey, name string, flags AddrFlags, present, sync bool) []Event {
	old, known := s.addrs[k]
	switch {
	case present && !known:
		s.addrs[k] = addrInfo{flags: flags, iface: name}
		if s.wants(name) {
			evs = append(evs, Event{Kind: AddrAdded, Index: k.index, Interface: name, Addr: k.prefix, Flags: flags, Sync: sync})
			if flags.DADFailed() {
				evs = append(evs, Event{Kind: AddrDADFailed, Index: k.index, Interface: name, Addr: k.prefix, Flags: flags, Sync: sync})
			}
		}
	case present:
		if name == "" {
			name = old.iface
		}
		s.addrs[k] = addrInfo{flags: flags, iface: name}
		if flags.DADFailed() && !old.flags.DADFailed() && s.wants(name) {
			evs = append(evs, Event{Kind: AddrDADFailed, Index: k.index, Interface: name, Addr: k.prefix, Flags: flags, Sync: sync})
		}
	case known:
		delete(s.addrs, k)
		if s.wants(old.iface) {
			evs = append(evs, Event{Kind: AddrRemoved, Index: k.index, Interface: old.iface, Addr: k.prefix, Flags: old.flags, Sync: sync})
		}
	}
	return evs
}

// snapIface and snapAddr are one listing's entries.
type snapIface struct {
	index int
	name  string
	up    bool
}

type snapAddr struct {
	key   addrKey
	flags AddrFlags
}

// sync applies a complete listing and returns the differences, ending
// with a Synced event: interfaces that appeared or changed, addresses
// that went, addresses that appeared or changed, interfaces that went.
func (s *watchState) sync(ifaces []snapIface, addrs []snapAddr) []Event {
	var evs []Event
	seenIface := make(map[int]bool, len(ifaces))
	for _, l := range ifaces {
		seenIface[l.index] = true
		evs = s.iface(evs, l.index, l.name, l.up, true, true)
	}
	seenAddr := make(map[addrKey]bool, len(addrs))
	for _, a := range addrs {
		seenAddr[a.key] = true
	}
	var gone []addrKey
	for k := range s.addrs {
		if !seenAddr[k] {
			gone = append(gone, k)
		}
	}
	slices.SortFunc(gone, compareAddrKeys)
	for _, k := range gone {
		evs = s.addr(evs, k, "", 0, false, true)
	}
	for _, a := range addrs {
		evs = s.addr(evs, a.key, s.ifaces[a.key.index].name, a.flags, true, true)
	}
	var goneIfaces []int
	for i := range s.ifaces {
		if !seenIface[i] {
			goneIfaces = append(goneIfaces, i)
		}
	}
	slices.Sort(goneIfaces)
	for _, i := range goneIfaces {
		evs = s.iface(evs, i, "", false, false, true)
	}
	return append(evs, Event{Kind: Synced, Sync: true})
}

// compareAddrKeys orders addresses by interface index, address and
// prefix length.
func compareAddrKeys(a, b addrKey) int {
	return cmp.Or(cmp.Compare(a.index, b.index), a.prefix.Addr().Compare(b.prefix.Addr()), cmp.Compare(a.prefix.Bits(), b.prefix.Bits()))
}

// snapshot returns the state as a listing delivers it to a watcher that
// knew nothing.
func (s *watchState) snapshot() []Event {
	ifaces := make([]snapIface, 0, len(s.ifaces))
	for i, l := range s.ifaces {
		ifaces = append(ifaces, snapIface{index: i, name: l.name, up: l.up})
	}
	slices.SortFunc(ifaces, func(a, b snapIface) int { return cmp.Compare(a.index, b.index) })
	addrs := make([]snapAddr, 0, len(s.addrs))
	for k, a := range s.addrs {
		addrs = append(addrs, snapAddr{key: k, flags: a.flags})
	}
	slices.SortFunc(addrs, func(a, b snapAddr) int { return compareAddrKeys(a.key, b.key) })
	return newWatchState(s.filter).sync(ifaces, addrs)
}
