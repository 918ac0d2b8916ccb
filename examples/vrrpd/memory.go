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
// does allocate (~10 KiB each): at GOGC 25 a 200-VRID mass failover had
// collections inside its burst, which doubled its tail (bench/README.md,
// "Mass failover: batched adds, and the garbage collector"), so a spell
// of transitions runs at -spell-gc-percent until its trim (newTrimmer).
func setMemory(o *options) {
	if !gogcSet() {
		debug.SetGCPercent(o.gcPercent)
	}
}

// gogcSet reports whether the GOGC environment variable sets the
// collector's target. An empty GOGC does not: the runtime reads it as
// unset (100), and so does vigild.
func gogcSet() bool { return os.Getenv("GOGC") != "" }

// newTrimmer returns the trimmer that gives the heap a start or a
// takeover left idle back to the OS -trim-after the last transition
// (package memtrim): at 1,000 routers about 8 MiB that the scavenger
// keeps otherwise. From the first transition of a spell to its trim the
// collector's target is -spell-gc-percent (unless GOGC is set): a
// 200-VRID mass failover's tail halved (bench/README.md, "Mass
// failover, second look"). With -trim-after 0 it never trims, and the
// target stays.
func newTrimmer(o *options) *memtrim.Trimmer {
	c := memtrim.Config{Delay: o.trimAfter}
	if !gogcSet() {
		c.SpellGCPercent = o.spellGC
	}
	t := memtrim.New(c)
	if o.trimAfter <= 0 {
		t.Stop()
	}
	return t
}
