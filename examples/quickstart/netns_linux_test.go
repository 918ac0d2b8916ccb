//go:build linux

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// The root mode: real namespaces, sockets and VIPs (real time, so only the
// sequence is asserted; the timings are printed).
func TestQuickstartNetns(t *testing.T) {
	nstest.Require(t)
	var out bytes.Buffer
	if err := runNetns(context.Background(), &out, 100*time.Millisecond); err != nil {
		t.Fatalf("runNetns: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"elected: r1 holds 192.0.2.100/24 (ip addr: r1=true r2=false r3=false)",
		"r1  (priority 200) MASTER  -> FAULT   fault",
		"takeover: r2 is master",
		"and holds the VIP (true)",
		"r1  (priority 200) BACKUP  -> MASTER  master-down",
		"(VIP on r1=false r2=true)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	t.Log("\n" + out.String())
}
