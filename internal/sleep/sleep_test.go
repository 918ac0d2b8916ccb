package sleep

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if !For(t.Context(), time.Second) || time.Since(start) != time.Second {
			t.Errorf("For(1s) returned after %v", time.Since(start))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start = time.Now()
		if For(ctx, time.Hour) || time.Since(start) != 300*time.Millisecond {
			t.Errorf("cancelled after %v: want false at 300ms", time.Since(start))
		}
		if For(ctx, 0) {
			t.Error("For(0) on a done ctx: true")
		}
		if !For(t.Context(), -1) {
			t.Error("For(-1) on a live ctx: false")
		}
	})
}
