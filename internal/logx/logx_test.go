package logx

import "testing"

func TestSampled(t *testing.T) {
	var got []uint64
	for n := uint64(1); n <= 300; n++ {
		if Sampled(n) {
			got = append(got, n)
		}
	}
	if len(got) != 4 || got[0] != 1 || got[1] != 100 || got[2] != 200 || got[3] != 300 {
		t.Errorf("logged %v, want [1 100 200 300]", got)
	}
	if OrDiscard(nil) == nil {
		t.Error("OrDiscard(nil) is nil")
	}
}
