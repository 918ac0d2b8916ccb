//go:build linux

package vrrp

import (
	"testing"
	"time"
)

// A Clock lets a Router poll through its final approach only while
// fewer than maxPollers do and no Master_Down_Timer of its Routers
// expired within busyWindow.
func TestClockPollingTurns(t *testing.T) {
	c, err := NewClock()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.maxPollers = 2
	for i := range 2 {
		if !c.startPolling() {
			t.Fatalf("a quiet clock refused poller %d of maxPollers 2", i+1)
		}
	}
	if c.startPolling() {
		t.Fatal("a third poller admitted with maxPollers 2")
	}
	c.stopPolling()
	if !c.startPolling() {
		t.Fatal("a poller refused after one stopped")
	}
	c.stopPolling()
	c.stopPolling()
	c.expiring()
	if c.startPolling() {
		t.Fatal("a poller admitted right after an expiry")
	}
	c.lastExpiry.Store(int64(time.Since(c.epoch) - 2*busyWindow))
	if !c.startPolling() {
		t.Fatal("a poller refused 2 x busyWindow after the last expiry")
	}
	c.stopPolling()
	if n := c.pollers.Load(); n != 0 {
		t.Fatalf("pollers %d after every start was stopped", n)
	}
}
