package watchdog

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newWatchdog returns a Watchdog for cfg or fails the test.
func newWatchdog(t *testing.T, cfg Config) *Watchdog {
	t.Helper()
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// run starts w.Run and stops it (checking it returned nil) when the test
// ends.
func run(t *testing.T, w *Watchdog) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// beatUntil beats b every period until the bubble's clock reaches end,
// in a goroutine of its own.
func beatUntil(b *Beat, period time.Duration, end time.Time) {
	go func() {
		for time.Now().Add(period).Compare(end) <= 0 {
			time.Sleep(period)
			b.Beat()
		}
	}()
}

// next returns the next event of s, failing the test if C is closed.
func next(t *testing.T, s *Subscription) Event {
	t.Helper()
	e, ok := <-s.C()
	if !ok {
		t.Fatal("subscription closed")
	}
	return e
}

// noEvent fails the test if s holds an event now.
func noEvent(t *testing.T, s *Subscription) {
	t.Helper()
	select {
	case e := <-s.C():
		t.Fatalf("unexpected event %v %q (stalled %v, err %v)", e.Kind, e.Name, e.Stalled, e.Err)
	default:
	}
}
