// Package counter turns a struct of live atomic counters into the plain
// snapshot a Stats method returns, so no package copies fields by hand.
//
// The live struct is unexported and its counters are exported fields of
// type atomic.Uint64 named as in the snapshot struct:
//
//	type counters struct{ Sent, Received atomic.Uint64 }
//	type Stats struct{ Sent, Received uint64 }
//	func (r *Router) Stats() Stats { return counter.Snapshot[Stats](&r.counters) }
package counter

import (
	"reflect"
	"sync/atomic"
)

var atomicType = reflect.TypeFor[atomic.Uint64]()

// Snapshot returns an S whose uint64 fields hold the value of the atomic
// counter of the same name in *live. Fields of S without a counter keep
// their zero value; the caller fills them. It panics if live is not a
// pointer to a struct, a programming error that every test shows.
func Snapshot[S any, L any](live *L) S {
	var out S
	ov := reflect.ValueOf(&out).Elem()
	lv := reflect.ValueOf(live).Elem()
	lt := lv.Type()
	for i := range lt.NumField() {
		f := lt.Field(i)
		if f.Type != atomicType || !f.IsExported() {
			continue
		}
		dst := ov.FieldByName(f.Name)
		if !dst.IsValid() || dst.Kind() != reflect.Uint64 {
			continue
		}
		dst.SetUint(lv.Field(i).Addr().Interface().(*atomic.Uint64).Load())
	}
	return out
}
