//go:build linux

package main

import (
	"os"
	"runtime/debug"

	"github.com/vigil-ha/vigil/internal/memtrim"
)

// setMemory sets the garbage collector's target (GOGC) to -gc-percent
// unless the GOGC environment variable says otherwise. vrrpd allocates
// next to nothing per advert once running, so in steady state
// collections are rare whatever GOGC is; a low one keeps the heap that
// the runtime holds on to (the heap goal, and up to about a tenth more
// that the scavenger does not return) close to the live heap, at the
// cost of a few more collections while the routers start. A takeover
// does allocate (~10 KiB each): at GOGC 25 a 200-VRID mass failover has
// collections inside its burst, which doubles its tail (bench/README.md,
// "Mass failover: batched adds, and the garbage collector").
func setMemory(o *options) {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(o.gcPercent)
	}
}

// newTrimmer returns the trimmer that gives the heap a start or a
// takeover left idle back to the OS -trim-after the last transition
// (package memtrim): at 1,000 routers about 8 MiB that the scavenger
// keeps otherwise. With -trim-after 0 it never trims.
func newTrimmer(o *options) *memtrim.Trimmer {
	t := memtrim.New(o.trimAfter, nil)
	if o.trimAfter <= 0 {
		t.Stop()
	}
	return t
}
