package vrrp

import "time"

// deadlines is a min-heap of values by deadline: a Clock's timers and a
// Socket's repeated adverts (each by when it is sent next). Each deadline
// is kept as nanoseconds since the heap's epoch in the heap's own array,
// beside its value and a pointer to the value's record of its index, so
// that ordering compares integers in one array, without a call through
// an interface or into the values. Restarting one of a Clock's 1,000
// timers (a backup's Master_Down_Timer at its master's advert) takes
// 130 ns with it, 225 with container/heap and time.Time deadlines in the
// values (BenchmarkClockRestart); one heap also serves both users, where
// each had its own container/heap adapter.
//
// The zero value is an empty heap; its epoch is the first deadline set.
type deadlines[T any] struct {
	epoch time.Time
	e     []deadline[T]
}

type deadline[T any] struct {
	at int64 // since epoch
	i  *int  // the value's index in e; -1 when not in it
	v  T
}

func (h *deadlines[T]) len() int { return len(h.e) }

// first is the value with the earliest deadline; the heap is not empty.
func (h *deadlines[T]) first() T { return h.e[0].v }

// dueBy reports whether the heap's earliest deadline is at or before t.
func (h *deadlines[T]) dueBy(t time.Time) bool {
	return len(h.e) > 0 && h.e[0].at <= int64(t.Sub(h.epoch))
}

// set gives v, whose index in the heap is *i (-1: not in it), the
// deadline t, adding it if it is not in the heap.
func (h *deadlines[T]) set(v T, i *int, t time.Time) {
	if h.epoch.IsZero() {
		h.epoch = t
	}
	at := int64(t.Sub(h.epoch))
	if *i < 0 {
		*i = len(h.e)
		h.e = append(h.e, deadline[T]{at: at, i: i, v: v})
		h.up(*i)
		return
	}
	k := *i
	old := h.e[k].at
	h.e[k].at = at
	if at < old {
		h.up(k)
	} else {
		h.down(k)
	}
}

// remove takes out the value whose index is *i, if it is in the heap.
func (h *deadlines[T]) remove(i *int) {
	k := *i
	if k < 0 {
		return
	}
	last := len(h.e) - 1
	if k != last {
		h.swap(k, last)
	}
	h.e[last] = deadline[T]{}
	h.e = h.e[:last]
	*i = -1
	if k != last {
		if !h.down(k) {
			h.up(k)
		}
	}
}

// pop removes the value with the earliest deadline and returns it.
func (h *deadlines[T]) pop() T {
	v := h.e[0].v
	h.remove(h.e[0].i)
	return v
}

// reset empties the heap; each value's index becomes -1.
func (h *deadlines[T]) reset() {
	for k := range h.e {
		*h.e[k].i = -1
	}
	clear(h.e)
	h.e = h.e[:0]
}

func (h *deadlines[T]) swap(j, k int) {
	h.e[j], h.e[k] = h.e[k], h.e[j]
	*h.e[j].i, *h.e[k].i = j, k
}

func (h *deadlines[T]) up(k int) {
	for k > 0 {
		p := (k - 1) / 2
		if h.e[p].at <= h.e[k].at {
			return
		}
		h.swap(p, k)
		k = p
	}
}

// down moves the entry at k down to its place and reports whether it
// moved.
func (h *deadlines[T]) down(k int) bool {
	k0, n := k, len(h.e)
	for {
		c := 2*k + 1
		if c >= n || c < 0 {
			break
		}
		if r := c + 1; r < n && h.e[r].at < h.e[c].at {
			c = r
		}
		if h.e[k].at <= h.e[c].at {
			break
		}
		h.swap(k, c)
		k = c
	}
	return k > k0
}
