// Package retry holds the one rule for re-reading a kernel dump that the
// kernel marked as interrupted (NLM_F_DUMP_INTR: the table changed while
// it was read).
package retry

// DumpAttempts is how many times a dump is read before an interruption is
// returned to the caller.
const DumpAttempts = 3

// Dump calls read until it returns an error for which interrupted is false
// (or nil), at most DumpAttempts times, and returns read's last results.
func Dump[T any](interrupted func(error) bool, read func() (T, error)) (T, error) {
	var v T
	var err error
	for range DumpAttempts {
		v, err = read()
		if err == nil || !interrupted(err) {
			return v, err
		}
	}
	return v, err
}
