package vrrp

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

type deadlineItem struct {
	name int
	i    int
}

// check verifies the heap against want (the deadline of each value in
// it, in ns after base): the same values, each knowing its index, no
// parent later than its children.
func (h *deadlines[T]) check(t *testing.T, base time.Time, want map[*deadlineItem]int64) {
	t.Helper()
	if len(h.e) != len(want) {
		t.Fatalf("%d in the heap, want %d", len(h.e), len(want))
	}
	for k, e := range h.e {
		it := any(e.v).(*deadlineItem)
		if *e.i != k || e.i != &it.i {
			t.Fatalf("entry %d (item %d) records index %d", k, it.name, *e.i)
		}
		if at, ok := want[it]; !ok || at != int64(h.epoch.Sub(base))+e.at {
			t.Fatalf("item %d at %d after the epoch, want %d after base (in the model: %v)", it.name, e.at, at, ok)
		}
		if k > 0 && h.e[(k-1)/2].at > e.at {
			t.Fatalf("entry %d (%d) before its parent (%d)", k, e.at, h.e[(k-1)/2].at)
		}
	}
}

// The heap against a model under random sets (new and moved, earlier and
// later), removes (present and absent) and pops.
func TestDeadlines(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var h deadlines[*deadlineItem] // the zero value: empty
	base := time.Now()
	items := make([]*deadlineItem, 64)
	for k := range items {
		items[k] = &deadlineItem{name: k, i: -1}
	}
	want := map[*deadlineItem]int64{}
	for range 20000 {
		it := items[rnd.IntN(len(items))]
		switch op := rnd.IntN(10); {
		case op < 6:
			at := int64(rnd.IntN(1000))
			h.set(it, &it.i, base.Add(time.Duration(at)))
			want[it] = at
		case op < 8:
			h.remove(&it.i)
			delete(want, it)
			if it.i != -1 {
				t.Fatalf("removed item %d records index %d", it.name, it.i)
			}
		default:
			if h.len() == 0 {
				continue
			}
			first := h.first()
			min := slices.Min(valuesOf(want))
			if want[first] != min {
				t.Fatalf("first at %d, the earliest is %d", want[first], min)
			}
			if !h.dueBy(base.Add(time.Duration(min))) || h.dueBy(base.Add(time.Duration(min-1))) {
				t.Fatalf("dueBy wrong around %d", min)
			}
			if got := h.pop(); got != first || got.i != -1 {
				t.Fatalf("popped item %d (index %d), want item %d", got.name, got.i, first.name)
			}
			delete(want, first)
		}
		h.check(t, base, want)
	}
	h.reset()
	h.check(t, base, nil)
	for _, it := range items {
		if it.i != -1 {
			t.Fatalf("after reset item %d records index %d", it.name, it.i)
		}
	}
}

func valuesOf(m map[*deadlineItem]int64) []int64 {
	var out []int64
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
