//go:build linux

package vrrp

import (
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestPreciseTimer(t *testing.T) {
	defer goleak.VerifyNone(t)
	st, err := newPreciseTimer()
	if err != nil {
		t.Fatal(err)
	}
	tm := st.(*fdTimer)
	var late []time.Duration
	for range 5 {
		start := time.Now()
		tm.Reset(2 * time.Millisecond)
		select {
		case at := <-tm.C():
			if d := at.Sub(start); d < 2*time.Millisecond {
				t.Fatalf("fired after %v, before its 2ms", d)
			} else {
				late = append(late, d-2*time.Millisecond)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("timerfd never fired")
		}
	}
	t.Logf("lateness: %v", late)
	// Stop disarms the timerfd (checked in the kernel, not by waiting).
	tm.Reset(time.Hour)
	var cur unix.ItimerSpec
	if err := unix.TimerfdGettime(tm.fd, &cur); err != nil || cur.Value.Sec == 0 {
		t.Fatalf("armed timer reads %+v, %v", cur, err)
	}
	tm.Stop()
	if err := unix.TimerfdGettime(tm.fd, &cur); err != nil || cur.Value.Sec != 0 || cur.Value.Nsec != 0 {
		t.Fatalf("stopped timer reads %+v, %v", cur, err)
	}
	tm.Reset(0) // fires at once rather than disarming
	select {
	case <-tm.C():
	case <-time.After(5 * time.Second):
		t.Fatal("Reset(0) did not fire")
	}
	tm.Close()
	tm.Close() // idempotent; the reader goroutine has ended (goleak)
}
