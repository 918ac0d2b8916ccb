//go:build linux

package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// The root mode, end to end: each service a process in its own namespace
// with a real HTTP health check, a TCP check of a dependency in a third
// namespace, real VIPs, and a client there reaching the VIP's holder.
// Real time, so the sequence is asserted; the timings are printed.
func TestEmbeddedNetns(t *testing.T) {
	nstest.Require(t)
	var out bytes.Buffer
	if err := runNetns(context.Background(), &out, defaults); err != nil {
		t.Fatalf("runNetns: %v\n%s", err, out.String())
	}
	inOrder(t, out.String(),
		"A  VI_1 BACKUP  -> MASTER  master-down     priority 150",
		`elected: A holds 192.0.2.100/24 (VIP on A=true B=false)`,
		`a client's GET http://192.0.2.100:8080/healthz: "A: ok"`,
		"A  tracker healthz down: check: ",
		"A  VI_1 MASTER  -> FAULT   fault           priority 150",
		"B  VI_1 BACKUP  -> MASTER  master-resigned priority 100",
		`takeover: B holds 192.0.2.100/24 (VIP on A=false B=true)`,
		`a client's GET http://192.0.2.100:8080/healthz: "B: ok"`,
		`"faults":["tracker:healthz"]`,
		"A  tracker healthz up",
		"A  VI_1 FAULT   -> BACKUP  fault-cleared   priority 150",
		`preempted: A holds 192.0.2.100/24 (VIP on A=true B=false)`,
		`a client's GET http://192.0.2.100:8080/healthz: "A: ok"`,
		"A  tracker dependency down: ",
		"A  VI_1 effective priority now 90",
		`takeover: B holds 192.0.2.100/24 (VIP on A=false B=true)`,
		`a client's GET http://192.0.2.100:8080/healthz: "B: ok"`,
		"A  tracker dependency up",
		"A  VI_1 effective priority now 150",
		`preempted: A holds 192.0.2.100/24 (VIP on A=true B=false)`,
		`a client's GET http://192.0.2.100:8080/healthz: "A: ok"`,
		`handover: B holds 192.0.2.100/24 (VIP on A=false B=true)`,
		`a client's GET http://192.0.2.100:8080/healthz: "B: ok"`,
	)
	t.Log("\n" + out.String())
}
