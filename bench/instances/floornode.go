//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
)

// floorNode is a floor process (floor.go) as a benchkit.Router, so that
// measure runs it as it runs the daemons: the sender on the master node,
// whose n instances count as MASTER once it is ready, or the receiver on
// the backup node, whose n count as BACKUP once it is ready. It has no
// other states, and no transitions after that.
type floorNode struct {
	p     *benchkit.Proc
	out   *benchkit.Log // stdout and stderr
	state string        // "MASTER" (sender) or "BACKUP" (receiver)
	n     int
}

// errFloorNotVRRP is what a floor process answers to what only a VRRP
// router can do.
var errFloorNotVRRP = errors.New("floor: not a VRRP router: it neither fails over nor leaves")

// startFloor runs this program (self) as the floor process of state
// ("MASTER": the sender, "BACKUP": the receiver) in namespace ns.
func startFloor(self, ns, state string, f floorFlags) (*floorNode, error) {
	cmd := floorSendCmd
	if state == "BACKUP" {
		cmd = floorRecvCmd
	}
	fn := &floorNode{out: &benchkit.Log{}, state: state, n: f.l.n}
	p, err := benchkit.Start(cmd, fn.out, fn.out, append([]string{"ip", "netns", "exec", ns, self}, floorArgs(cmd, f)...)...)
	if err != nil {
		return nil, err
	}
	fn.p = p
	// Wake AwaitStates when the process exits without a word more.
	go func() {
		<-p.Done()
		_, _ = fn.out.Write(nil)
	}()
	return fn, nil
}

// floorReady matches a floor process's ready line.
var floorReady = regexp.MustCompile(`(?m)^ready: `)

func (f *floorNode) ready() bool { return floorReady.MatchString(f.out.String()) }

// Impl implements benchkit.Router.
func (f *floorNode) Impl() string { return "floor" }

// States implements benchkit.Router: n for the node's own state once
// the process is ready, 0 otherwise.
func (f *floorNode) States(state string) int {
	if state == f.state && f.ready() {
		return f.n
	}
	return 0
}

// AwaitStates implements benchkit.Router.
func (f *floorNode) AwaitStates(ctx context.Context, state string, n int, limit time.Duration) error {
	if n > 0 && (state != f.state || n > f.n) {
		return fmt.Errorf("floor %s: never %d x %s", f.p.Name, n, state)
	}
	err := f.out.Await(ctx, limit, "floor "+f.p.Name+" ready", func(s string) bool {
		return floorReady.MatchString(s) || f.p.Exited()
	})
	if err == nil && f.States(state) < n {
		err = fmt.Errorf("floor %s exited (%v): %s", f.p.Name, f.p.Err(), f.out.Tail(10))
	}
	return err
}

// Crash implements benchkit.Router: a floor process has no takeover to
// show.
func (f *floorNode) Crash() (time.Time, error) { return time.Time{}, errFloorNotVRRP }

// Leave implements benchkit.Router: a floor process sends no priority 0.
func (f *floorNode) Leave() (time.Time, error) { return time.Time{}, errFloorNotVRRP }

// Exited implements benchkit.Router.
func (f *floorNode) Exited() bool { return f.p.Exited() }

// WaitExit implements benchkit.Router.
func (f *floorNode) WaitExit(limit time.Duration) bool { return f.p.Wait(limit) }

// Stop implements benchkit.Router: SIGTERM, which it prints its counts
// at and exits on, then SIGKILL after 5 s.
func (f *floorNode) Stop() error { return f.p.Stop(syscall.SIGTERM, 5*time.Second) }

// PIDs implements benchkit.Router.
func (f *floorNode) PIDs() []int { return []int{f.p.PID()} }

// Output implements benchkit.Router.
func (f *floorNode) Output() string { return f.out.String() }
