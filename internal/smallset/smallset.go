// Package smallset is a set of comparable values for the few virtual
// addresses an instance holds: a slice while it is small (a map's first
// group costs a few hundred bytes, allocated when an instance first
// becomes master, when a mass failover allocates for 200 instances at
// once), indexed by a map once it grows past a few dozen entries so that
// large sets stay linear to fill.
package smallset

import "iter"

// indexAbove is the size past which a Set keeps a map index.
const indexAbove = 32

// Set is a set of values. The zero value is an empty set, ready to use.
// Its iteration order is insertion order, except that Delete moves the
// last element into the deleted one's place.
type Set[T comparable] struct {
	s   []T
	idx map[T]int // position in s; nil while len(s) <= indexAbove
}

// Len returns the number of values in the set.
func (s *Set[T]) Len() int { return len(s.s) }

// Has reports whether v is in the set.
func (s *Set[T]) Has(v T) bool { return s.find(v) >= 0 }

func (s *Set[T]) find(v T) int {
	if s.idx != nil {
		if i, ok := s.idx[v]; ok {
			return i
		}
		return -1
	}
	for i, x := range s.s {
		if x == v {
			return i
		}
	}
	return -1
}

// Add adds v and reports whether it was not in the set.
func (s *Set[T]) Add(v T) bool {
	if s.find(v) >= 0 {
		return false
	}
	s.s = append(s.s, v)
	switch {
	case s.idx != nil:
		s.idx[v] = len(s.s) - 1
	case len(s.s) > indexAbove:
		s.idx = make(map[T]int, len(s.s))
		for i, x := range s.s {
			s.idx[x] = i
		}
	}
	return true
}

// Delete removes v and reports whether it was in the set.
func (s *Set[T]) Delete(v T) bool {
	i := s.find(v)
	if i < 0 {
		return false
	}
	last := len(s.s) - 1
	if i != last {
		s.s[i] = s.s[last]
		if s.idx != nil {
			s.idx[s.s[i]] = i
		}
	}
	var zero T
	s.s[last] = zero
	s.s = s.s[:last]
	if s.idx != nil {
		delete(s.idx, v)
		if len(s.s) <= indexAbove/2 {
			s.idx = nil // small again: the slice suffices
		}
	}
	return true
}

// All returns the values, in the set's order. The set must not change
// during the iteration.
func (s *Set[T]) All() iter.Seq[T] {
	return func(yield func(T) bool) {
		for _, x := range s.s {
			if !yield(x) {
				return
			}
		}
	}
}
