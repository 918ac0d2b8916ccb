package smallset

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// A Set agrees with a map through random adds and deletes that take it
// past the index threshold and back, and its index always points at the
// right places.
func TestSetAgreesWithMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var s Set[int]
	ref := map[int]bool{}
	indexed := false
	for step := range 20000 {
		v := r.IntN(3 * indexAbove)
		if r.IntN(3) > 0 == (step%4000 < 2000) { // phases of growth and of shrinking
			if got, want := s.Add(v), !ref[v]; got != want {
				t.Fatalf("step %d: Add(%d) = %v, want %v", step, v, got, want)
			}
			ref[v] = true
		} else {
			if got, want := s.Delete(v), ref[v]; got != want {
				t.Fatalf("step %d: Delete(%d) = %v, want %v", step, v, got, want)
			}
			delete(ref, v)
		}
		if s.Len() != len(ref) {
			t.Fatalf("step %d: Len %d, want %d", step, s.Len(), len(ref))
		}
		if h := s.Has(v); h != ref[v] {
			t.Fatalf("step %d: Has(%d) = %v, want %v", step, v, h, ref[v])
		}
		if s.idx != nil {
			indexed = true
			for i, x := range s.s {
				if s.idx[x] != i {
					t.Fatalf("step %d: index says %d at %d, it is at %d", step, x, s.idx[x], i)
				}
			}
			if len(s.idx) != len(s.s) {
				t.Fatalf("step %d: index of %d for %d values", step, len(s.idx), len(s.s))
			}
		}
	}
	if !indexed {
		t.Fatal("the set never grew past the index threshold")
	}
	got := slices.Sorted(s.All())
	if want := slices.Sorted(maps.Keys(ref)); !slices.Equal(got, want) {
		t.Fatalf("All: %v, want %v", got, want)
	}
}

// Small sets have no index, and filling one allocates only its slice.
func TestSetSmall(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		var s Set[[32]byte]
		for i := range 4 {
			s.Add([32]byte{byte(i)})
		}
		if s.idx != nil {
			t.Fatal("a set of 4 has an index")
		}
	})
	if n > 3 { // the slice grows 1, 2, 4
		t.Errorf("filling a set of 4: %v allocations", n)
	}
	var s Set[string]
	s.Add("a")
	s.Add("b")
	s.Add("c")
	s.Delete("a")
	if got := slices.Collect(s.All()); !slices.Equal(got, []string{"c", "b"}) {
		t.Errorf("after deleting the first: %v, want [c b] (the last moves into its place)", got)
	}
	for range s.All() {
		break // stopping early must not panic
	}
}
