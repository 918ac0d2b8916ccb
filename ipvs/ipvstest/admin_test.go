package ipvstest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/ipvs/ipvstest"
)

// TestAdmin: Flush empties the table; SetTimeouts changes only its
// non-zero timeouts and refuses an invalid one; all are ErrClosed after
// Close.
func TestAdmin(t *testing.T) {
	ctx := t.Context()
	tab := ipvstest.New()
	if err := tab.CreateService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if err := tab.CreateDestination(ctx, key, dst); err != nil {
		t.Fatal(err)
	}
	if err := tab.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := tab.Services(ctx); len(got) != 0 {
		t.Errorf("after Flush: %v", got)
	}
	if n := tab.Count(ipvs.OpFlush); n != 1 {
		t.Errorf("Count(OpFlush) = %d", n)
	}
	if got, err := tab.Timeouts(ctx); err != nil || got != ipvs.DefaultTimeouts {
		t.Errorf("new table's timeouts: %v, %v", got, err)
	}
	if err := tab.SetTimeouts(ctx, ipvs.Timeouts{UDP: 7 * time.Second}); err != nil {
		t.Fatal(err)
	}
	want := ipvs.DefaultTimeouts
	want.UDP = 7 * time.Second
	if got, _ := tab.Timeouts(ctx); got != want {
		t.Errorf("after setting UDP: %v, want %v", got, want)
	}
	if err := tab.SetTimeouts(ctx, ipvs.Timeouts{TCP: ipvs.MaxTimeout + time.Second}); !errors.Is(err, ipvs.ErrInvalid) {
		t.Errorf("too long: %v", err)
	}
	if got := tab.CurrentTimeouts(); got != want {
		t.Errorf("after a refused set: %v, want %v", got, want)
	}
	tab.Close()
	if err := tab.Flush(ctx); !errors.Is(err, ipvs.ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
	if _, err := tab.Timeouts(ctx); !errors.Is(err, ipvs.ErrClosed) {
		t.Errorf("Timeouts after Close: %v", err)
	}
	if err := tab.SetTimeouts(ctx, want); !errors.Is(err, ipvs.ErrClosed) {
		t.Errorf("SetTimeouts after Close: %v", err)
	}
}
