//go:build linux

package main

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/vigil-ha/vigil/bench/internal/benchkit"
)

// floorNode is a floor process (floor.go) as a benchkit.Router, so that
// measure runs it as it runs the daemons: the sender on the master node,
// whose n instances count as MASTER once it is ready, or the receiver on
// the backup node, whose n count as BACKUP once it is ready. It has no
// other states, and no transitions after that.
type floorNode struct {
	*benchkit.FloorProc
	state string // "MASTER" (sender) or "BACKUP" (receiver)
	n     int
}

// startFloor runs this program (self) as the floor process of state
// ("MASTER": the sender, "BACKUP": the receiver) in namespace ns.
func startFloor(self, ns, state string, f floorFlags) (*floorNode, error) {
	cmd := floorSendCmd
	if state == "BACKUP" {
		cmd = floorRecvCmd
	}
	p, err := benchkit.StartFloor(self, ns, cmd, floorArgs(cmd, f)...)
	if err != nil {
		return nil, err
	}
	return &floorNode{FloorProc: p, state: state, n: f.l.n}, nil
}

// floorReady matches a floor process's ready line.
var floorReady = regexp.MustCompile(`(?m)^ready: `)

func (f *floorNode) ready() bool { return floorReady.MatchString(f.Out.String()) }

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
		return fmt.Errorf("floor %s: never %d x %s", f.P.Name, n, state)
	}
	err := f.Out.Await(ctx, limit, "floor "+f.P.Name+" ready", func(s string) bool {
		return floorReady.MatchString(s) || f.P.Exited()
	})
	if err == nil && f.States(state) < n {
		err = fmt.Errorf("floor %s exited (%v): %s", f.P.Name, f.P.Err(), f.Out.Tail(10))
	}
	return err
}
