package main

import (
	"runtime/debug"
	"testing"
)

// setMemory applies -gc-percent unless GOGC sets the target; an empty
// GOGC sets nothing (the runtime reads it as unset), as in vigild.
func TestSetMemoryGOGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, c := range []struct {
		gogc string
		want int
	}{
		{"", 37},     // unset for the runtime too: -gc-percent applies
		{"200", 100}, // set: the target is left alone
		{"off", 100},
	} {
		t.Setenv("GOGC", c.gogc)
		debug.SetGCPercent(100)
		setMemory(&options{gcPercent: 37})
		if got := debug.SetGCPercent(100); got != c.want {
			t.Errorf("GOGC=%q: target %d after setMemory, want %d", c.gogc, got, c.want)
		}
	}
}
