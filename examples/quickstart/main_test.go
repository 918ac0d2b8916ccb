package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// The quickstart in virtual time: every timing it prints is the RFC's.
func TestQuickstart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		if err := run(context.Background(), &out, 100*time.Millisecond); err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
		for _, want := range []string{
			// Master_Down_Interval for priority 200 at 100 ms: 300ms + 56 x 100ms / 256.
			"    0.322s  r1  (priority 200) BACKUP  -> MASTER  master-down\n",
			"elected: r1 holds 192.0.2.100/24 (VIP on r1=true r2=false r3=false)",
			// r1's last advert at 0.821875 s, r2's Master_Down_Interval 341.40625ms.
			"takeover: r2 is master 308.073ms after the crash",
			"r2  (priority 150) MASTER  -> BACKUP  higher-priority",
			// Skew_Time for priority 150 at 100 ms.
			"handover: r2 is master 41.406ms after the stop",
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	})
}

func TestQuickstartRejectsBadInterval(t *testing.T) {
	if err := run(context.Background(), &bytes.Buffer{}, 15*time.Millisecond); err == nil {
		t.Fatal("15ms accepted")
	}
}
