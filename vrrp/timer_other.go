//go:build !linux

package vrrp

import "errors"

func newPreciseTimer() (stepTimer, error) {
	return nil, errors.New("vrrp: precise timers need Linux")
}

// Clock is a precise clock shared by Routers; Linux only.
type Clock struct{}

// NewClock returns an error: precise clocks need Linux.
func NewClock() (*Clock, error) { return nil, errors.New("vrrp: precise clocks need Linux") }

// Close does nothing.
func (c *Clock) Close() error { return nil }

func (c *Clock) timer() stepTimer { return newGoTimer() }

func (c *Clock) startPolling() bool { return true }

func (c *Clock) stopPolling() {}

func (c *Clock) expiring() {}
