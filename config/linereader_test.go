package config

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestLineReader: lines as substrings whatever the reads' sizes, lines
// across chunks, a last line without '\n', over-long lines skipped to
// their end, a read error reported.
func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", lineChunk+10)
	type got struct {
		line    string
		tooLong bool
	}
	input := "a\n\nb c\r\n" + strings.Repeat("y", 90) + "\n" + strings.Repeat("w", 150) + "\n" + long + "\n" + long + "\nz"
	want := []got{{"a\n", false}, {"\n", false}, {"b c\r\n", false}, {strings.Repeat("y", 90) + "\n", false}, {"", true}, {"", true}, {"", true}, {"z", false}}
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(input),
		"one byte": iotest.OneByteReader(strings.NewReader(input)),
		"half":     iotest.HalfReader(strings.NewReader(input)),
	} {
		lr := newLineReader(r)
		var out []got
		for {
			l, tooLong, ok := lr.next(100)
			if !ok {
				break
			}
			out = append(out, got{l, tooLong})
		}
		if len(out) != len(want) {
			t.Fatalf("%s: %d lines, want %d: %+v", name, len(out), len(want), out)
		}
		for i := range want {
			if out[i] != want[i] {
				t.Errorf("%s: line %d = %+v, want %+v", name, i, out[i], want[i])
			}
		}
		if lr.err != nil {
			t.Errorf("%s: err %v", name, lr.err)
		}
	}
	boom := errors.New("boom")
	lr := newLineReader(io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(boom)))
	if l, _, ok := lr.next(100); !ok || l != "a\n" {
		t.Fatalf("first line %q %v", l, ok)
	}
	if l, _, ok := lr.next(100); !ok || l != "b" {
		t.Fatalf("second line %q %v", l, ok)
	}
	if _, _, ok := lr.next(100); ok || !errors.Is(lr.err, boom) {
		t.Fatalf("after the error: ok %v err %v", ok, lr.err)
	}
}
