//go:build linux

package vrrp

import (
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// fdTimer is a stepTimer on a Linux timerfd read through Go's network
// poller: the poller wakes on the fd at once, so expiries arrive within
// microseconds instead of the up to ~1 ms the runtime's millisecond
// epoll timeouts add to time.Timer.
type fdTimer struct {
	fd   int
	f    *os.File
	c    chan time.Time
	wg   sync.WaitGroup
	once sync.Once
}

func newPreciseTimer() (stepTimer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// A non-blocking fd makes NewFile register it with the poller. Never
	// call f.Fd(): it would switch the fd back to blocking mode.
	t := &fdTimer{fd: fd, f: os.NewFile(uintptr(fd), "vrrp-timerfd"), c: make(chan time.Time, 1)}
	t.wg.Go(t.read)
	return t, nil
}

func (t *fdTimer) read() {
	var buf [8]byte
	for {
		if _, err := t.f.Read(buf[:]); err != nil {
			return // closed
		}
		select {
		case t.c <- time.Now():
		default: // an expiry is already waiting; the loop will see the time
		}
	}
}

func (t *fdTimer) C() <-chan time.Time { return t.c }

func (t *fdTimer) Reset(d time.Duration) {
	if d <= 0 {
		d = 1 // 0 would disarm
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(t.fd, 0, &spec, nil); err != nil {
		// Cannot happen with a valid fd and spec; fall back to a Go timer
		// so the machine still gets its expiry.
		time.AfterFunc(d, func() {
			select {
			case t.c <- time.Now():
			default:
			}
		})
	}
}

func (t *fdTimer) Stop() {
	unix.TimerfdSettime(t.fd, 0, &unix.ItimerSpec{}, nil)
}

func (t *fdTimer) Close() {
	t.once.Do(func() {
		t.Stop()
		t.f.Close()
		t.wg.Wait()
	})
}
