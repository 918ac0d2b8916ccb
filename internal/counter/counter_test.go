package counter

import (
	"sync/atomic"
	"testing"
)

type live struct {
	Sent, Received atomic.Uint64
	Only           atomic.Uint64 // no field in the snapshot
	hidden         atomic.Uint64
}

type snap struct {
	Sent, Received uint64
	Extra          int // filled by the caller
	hidden         uint64
}

func TestSnapshot(t *testing.T) {
	var l live
	l.Sent.Store(3)
	l.Received.Store(5)
	l.Only.Store(7)
	l.hidden.Store(9)
	s := Snapshot[snap](&l)
	if s.Sent != 3 || s.Received != 5 || s.Extra != 0 || s.hidden != 0 {
		t.Fatalf("snapshot %+v", s)
	}
}

func BenchmarkSnapshot(b *testing.B) {
	var l live
	for b.Loop() {
		_ = Snapshot[snap](&l)
	}
}
