package retry

import (
	"errors"
	"testing"
)

var errIntr = errors.New("interrupted")

func isIntr(err error) bool { return errors.Is(err, errIntr) }

func TestDump(t *testing.T) {
	for _, c := range []struct {
		name      string
		fails     int // interrupted reads before a good one
		wantCalls int
		wantErr   error
	}{
		{"first read", 0, 1, nil},
		{"second read", 1, 2, nil},
		{"last attempt", DumpAttempts - 1, DumpAttempts, nil},
		{"always interrupted", 99, DumpAttempts, errIntr},
	} {
		calls := 0
		v, err := Dump(isIntr, func() (int, error) {
			calls++
			if calls <= c.fails {
				return -1, errIntr
			}
			return 7, nil
		})
		if calls != c.wantCalls || !errors.Is(err, c.wantErr) || (err == nil && v != 7) {
			t.Errorf("%s: %d calls, %v, %v; want %d calls, %v", c.name, calls, v, err, c.wantCalls, c.wantErr)
		}
	}
	other := errors.New("other")
	calls := 0
	if _, err := Dump(isIntr, func() (int, error) { calls++; return 0, other }); err != other || calls != 1 {
		t.Errorf("another error: %v after %d calls, want it at once", err, calls)
	}
}
