//go:build !linux

package vrrp

import "errors"

func newPreciseTimer() (stepTimer, error) {
	return nil, errors.New("vrrp: precise timers need Linux")
}
