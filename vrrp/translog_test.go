package vrrp_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recorder is a slog.Handler that keeps each record's level and message,
// with the "to" attribute of a transition, and enables min and above.
type recorder struct {
	min  slog.Level
	mu   *sync.Mutex
	recs *[]string
}

func newRecorder(min slog.Level) recorder { return recorder{min, new(sync.Mutex), new([]string)} }

func (h recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }
func (h recorder) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h recorder) WithGroup(string) slog.Handler                { return h }
func (h recorder) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "vrrp: transition" {
		return nil
	}
	to := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "to" {
			to = a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	*h.recs = append(*h.recs, fmt.Sprint(r.Level, " ", to))
	h.mu.Unlock()
	return nil
}

func (h recorder) lines() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(*h.recs, ", ")
}

// A router logs each transition at Config.TransitionLogLevel (Info by
// default), not at all if its Logger leaves that level out; its events
// are published either way, and Reconfigure changes the level.
func TestRouterTransitionLogLevel(t *testing.T) {
	cases := []struct {
		name    string
		level   slog.Level // Config.TransitionLogLevel
		handler slog.Level // the least level the Logger takes
		want    string     // INIT>MASTER, then after Reconfigure to Warn, MASTER>FAULT
	}{
		{"default", 0, slog.LevelInfo, "INFO MASTER, WARN FAULT"},
		{"debug_left_out", slog.LevelDebug, slog.LevelInfo, "WARN FAULT"},
		{"debug_taken", slog.LevelDebug, slog.LevelDebug, "DEBUG MASTER, WARN FAULT"},
		{"error_taken", slog.LevelError, slog.LevelWarn, "ERROR MASTER, WARN FAULT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := newRecorder(c.handler)
				cfg := baseConfig("r", 255)
				cfg.Logger, cfg.TransitionLogLevel = slog.New(rec), c.level
				r, _ := solo(t, cfg)
				sub := r.Subscribe(8)
				stop := goRun(r)
				synctest.Wait()
				cfg.TransitionLogLevel = slog.LevelWarn
				if err := r.Reconfigure(cfg); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				r.SetFault("link", true)
				time.Sleep(time.Second)
				synctest.Wait()
				if err := stop(); err != nil {
					t.Fatal(err)
				}
				var events []string
				for e := range sub.C() {
					events = append(events, e.To.String())
				}
				if got := rec.lines(); got != c.want+", WARN STOPPED" {
					t.Errorf("transition lines %q, want %q", got, c.want+", WARN STOPPED")
				}
				if got := strings.Join(events, " "); got != "MASTER FAULT STOPPED" {
					t.Errorf("events %q, want MASTER FAULT STOPPED", got)
				}
			})
		})
	}
}
