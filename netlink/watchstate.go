package netlink

import (
	"cmp"
	"net/netip"
	"slices"
)

// linkInfo is what the watcher knows of a link.
type linkInfo struct {
	name string
	up   bool
}

type addrKey struct {
	index  int
	prefix netip.Prefix
}

type addrInfo struct {
	flags AddrFlags
	link  string // the link's name when the address was seen
}

// watchState is the watcher's view of a namespace's links and addresses.
// Applying an observation returns the events it implies, filtered to one
// link when filter is not empty. It is owned by the watcher's goroutine.
type watchState struct {
	filter string
	links  map[int]linkInfo
	addrs  map[addrKey]addrInfo
}

func newWatchState(filter string) *watchState {
	return &watchState{filter: filter, links: map[int]linkInfo{}, addrs: map[addrKey]addrInfo{}}
}

func (s *watchState) wants(name string) bool { return s.filter == "" || s.filter == name }

// link applies "link index is present with name and up", or "link index
// is absent" when !present.
func (s *watchState) link(evs []Event, index int, name string, up, present, sync bool) []Event {
	old, known := s.links[index]
	switch {
	case present && !known:
		s.links[index] = linkInfo{name: name, up: up}
		if s.wants(name) {
			evs = append(evs, Event{Kind: LinkAdded, Index: index, Link: name, Up: up, Sync: sync})
		}
	case present:
		s.links[index] = linkInfo{name: name, up: up}
		if old.up != up && s.wants(name) {
			k := LinkDown
			if up {
				k = LinkUp
			}
			evs = append(evs, Event{Kind: k, Index: index, Link: name, Up: up, Sync: sync})
		}
	case known:
		delete(s.links, index)
		if s.wants(old.name) {
			evs = append(evs, Event{Kind: LinkRemoved, Index: index, Link: old.name, Sync: sync})
		}
	}
	return evs
}

// addr applies "address k is present with flags on link name", or
// "absent" when !present.
func (s *watchState) addr(evs []Event, k addrKey, name string, flags AddrFlags, present, sync bool) []Event {
	old, known := s.addrs[k]
	switch {
	case present && !known:
		s.addrs[k] = addrInfo{flags: flags, link: name}
		if s.wants(name) {
			evs = append(evs, Event{Kind: AddrAdded, Index: k.index, Link: name, Addr: k.prefix, Flags: flags, Sync: sync})
			if flags.DADFailed() {
				evs = append(evs, Event{Kind: AddrDADFailed, Index: k.index, Link: name, Addr: k.prefix, Flags: flags, Sync: sync})
			}
		}
	case present:
		if name == "" {
			name = old.link
		}
		s.addrs[k] = addrInfo{flags: flags, link: name}
		if flags.DADFailed() && !old.flags.DADFailed() && s.wants(name) {
			evs = append(evs, Event{Kind: AddrDADFailed, Index: k.index, Link: name, Addr: k.prefix, Flags: flags, Sync: sync})
		}
	case known:
		delete(s.addrs, k)
		if s.wants(old.link) {
			evs = append(evs, Event{Kind: AddrRemoved, Index: k.index, Link: old.link, Addr: k.prefix, Flags: old.flags, Sync: sync})
		}
	}
	return evs
}

// snapLink and snapAddr are one listing's entries.
type snapLink struct {
	index int
	name  string
	up    bool
}

type snapAddr struct {
	key   addrKey
	flags AddrFlags
}

// sync applies a complete listing and returns the differences, ending
// with a Synced event: links that appeared or changed, addresses that
// went, addresses that appeared or changed, links that went.
func (s *watchState) sync(links []snapLink, addrs []snapAddr) []Event {
	var evs []Event
	seenLink := make(map[int]bool, len(links))
	for _, l := range links {
		seenLink[l.index] = true
		evs = s.link(evs, l.index, l.name, l.up, true, true)
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
	slices.SortFunc(gone, func(a, b addrKey) int {
		return cmp.Or(cmp.Compare(a.index, b.index), a.prefix.Addr().Compare(b.prefix.Addr()), cmp.Compare(a.prefix.Bits(), b.prefix.Bits()))
	})
	for _, k := range gone {
		evs = s.addr(evs, k, "", 0, false, true)
	}
	for _, a := range addrs {
		evs = s.addr(evs, a.key, s.links[a.key.index].name, a.flags, true, true)
	}
	var goneLinks []int
	for i := range s.links {
		if !seenLink[i] {
			goneLinks = append(goneLinks, i)
		}
	}
	slices.Sort(goneLinks)
	for _, i := range goneLinks {
		evs = s.link(evs, i, "", false, false, true)
	}
	return append(evs, Event{Kind: Synced, Sync: true})
}
