package check

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestFile(t *testing.T) {
	tests := []struct {
		content   string
		weight    int
		reverse   bool
		want      error
		w         int
		weightSet bool
	}{
		{"0\n", 0, false, nil, 0, false},
		{"1\n", 0, false, ErrUnexpected, 0, false},
		{"-3", 0, false, ErrUnexpected, 0, false},
		{"0", 0, true, ErrUnexpected, 0, false},
		{"7", 0, true, nil, 0, false},
		{" 5 trailing words", 10, false, nil, 50, true},
		{"0", 10, false, nil, 0, true},
		{"5", 10, true, nil, -50, true},
		{"100", 10, false, nil, 253, true},
		{"-25", 10, false, nil, -250, true},
		{"-26", 10, false, ErrUnexpected, 0, false}, // -260 clamps to -254: fault
		{"26", 10, true, ErrUnexpected, 0, false},
		{"99999999999999999999", 1, false, ErrUnexpected, 0, false}, // not an int64
		{"", 0, false, ErrUnexpected, 0, false},
		{"x", 0, false, ErrUnexpected, 0, false},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		c := &File{Path: p, Weight: tt.weight, Reverse: tt.reverse}
		w, ok, err := c.CheckWeight(t.Context())
		if (err == nil) != (tt.want == nil) || w != tt.w || ok != tt.weightSet {
			t.Errorf("%d: %q weight %d reverse %t: got %d, %t, %v; want %d, %t, %v", i, tt.content, tt.weight, tt.reverse, w, ok, err, tt.w, tt.weightSet, tt.want)
			continue
		}
		checkErr(t, err, tt.want)
		checkErr(t, c.Check(t.Context()), tt.want)
	}
	checkErr(t, (&File{Path: filepath.Join(dir, "missing")}).Check(t.Context()), os.ErrNotExist)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	checkErr(t, (&File{Path: filepath.Join(dir, "f")}).Check(ctx), context.Canceled)
}
