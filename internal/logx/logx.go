// Package logx holds the two logging rules every vigil package follows: a
// nil *slog.Logger discards, and a repeating error is logged the 1st and
// every 100th time.
package logx

import "log/slog"

// OrDiscard returns l, or a logger that discards everything if l is nil.
func OrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Sampled reports whether the n-th occurrence (counted from 1) of a
// repeating error is logged: the first, then every 100th.
func Sampled(n uint64) bool { return n == 1 || n%100 == 0 }
