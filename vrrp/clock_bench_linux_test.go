//go:build linux

package vrrp

import (
	"testing"
	"time"
)

// BenchmarkClockRestart restarts 1,000 timers of one Clock in turn, each
// to a deadline past all the others', as backups' repeats restart their
// Master_Down_Timers when their masters' adverts arrive.
func BenchmarkClockRestart(b *testing.B) {
	c, err := NewClock()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ts := make([]stepTimer, 1000)
	for k := range ts {
		ts[k] = c.timer()
		ts[k].Reset(time.Hour + time.Duration(k)*time.Millisecond)
	}
	k := 0
	d := time.Hour + time.Second
	for b.Loop() {
		d += time.Microsecond
		ts[k].Reset(d)
		k = (k + 1) % len(ts)
	}
	for _, t := range ts {
		t.Stop()
	}
}
