//go:build linux

package benchkit

import (
	"errors"
	"syscall"
	"time"
)

// FloorProc is a floor process: the bench program run again in a
// namespace, doing a daemon's job with raw system calls and nothing else
// (bench/instances' sender and receiver, bench/failover's mass floor).
// It is the part of a Router every floor shares; the floor's own type
// embeds it and adds States and AwaitStates, which read Out.
type FloorProc struct {
	P   *Proc
	Out *Log // stdout and stderr
}

// ErrFloorNotVRRP is what a floor process answers to what only a VRRP
// router can do.
var ErrFloorNotVRRP = errors.New("floor: not a VRRP router: it neither fails over nor leaves")

// StartFloor runs self (the bench program) with args in namespace ns as
// the floor process name.
func StartFloor(self, ns, name string, args ...string) (*FloorProc, error) {
	f := &FloorProc{Out: &Log{}}
	p, err := Start(name, f.Out, f.Out, append([]string{"ip", "netns", "exec", ns, self}, args...)...)
	if err != nil {
		return nil, err
	}
	f.P = p
	// Wake AwaitStates when the process exits without a word more.
	go func() {
		<-p.Done()
		_, _ = f.Out.Write(nil)
	}()
	return f, nil
}

// Impl implements Router.
func (f *FloorProc) Impl() string { return "floor" }

// Crash implements Router: a floor process has no takeover to show.
func (f *FloorProc) Crash() (time.Time, error) { return time.Time{}, ErrFloorNotVRRP }

// Leave implements Router: a floor process sends no priority 0.
func (f *FloorProc) Leave() (time.Time, error) { return time.Time{}, ErrFloorNotVRRP }

// Exited implements Router.
func (f *FloorProc) Exited() bool { return f.P.Exited() }

// WaitExit implements Router.
func (f *FloorProc) WaitExit(limit time.Duration) bool { return f.P.Wait(limit) }

// Stop implements Router: SIGTERM, which a floor prints its counts at
// and exits on, then SIGKILL after 5 s.
func (f *FloorProc) Stop() error { return f.P.Stop(syscall.SIGTERM, 5*time.Second) }

// PIDs implements Router.
func (f *FloorProc) PIDs() []int { return []int{f.P.PID()} }

// Output implements Router.
func (f *FloorProc) Output() string { return f.Out.String() }
