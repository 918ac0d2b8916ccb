//go:build linux

package main

import (
	"strings"
	"testing"
	"time"
)

func TestSpreadOf(t *testing.T) {
	var ds []time.Duration
	for i := 200; i >= 1; i-- { // 1..200 ms, unsorted
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	// Nearest rank: p50 is the 100th, p99 the 198th of 200.
	if got, want := spreadOf(ds), (spread{100 * time.Millisecond, 198 * time.Millisecond, 200 * time.Millisecond}); got != want {
		t.Errorf("spreadOf(1..200 ms) = %+v, want %+v", got, want)
	}
	if got, want := spreadOf([]time.Duration{3}), (spread{3, 3, 3}); got != want {
		t.Errorf("spreadOf([3]) = %+v, want %+v", got, want)
	}
}

func TestTimers(t *testing.T) {
	for _, c := range []struct {
		ival      time.Duration
		fam       string
		version   int
		skew, mdi time.Duration
	}{
		{time.Second, "ipv4", 2, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{time.Second, "ipv6", 3, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{100 * time.Millisecond, "ipv4", 3, 60937500, 360937500},
		{10 * time.Millisecond, "ipv6", 3, 6093750, 36093750},
	} {
		if v, s, m := version(c.ival, c.fam), skew(c.ival, c.fam, prioB), masterDown(c.ival, c.fam, prioB); v != c.version || s != c.skew || m != c.mdi {
			t.Errorf("%v %s: version %d, Skew_Time %v, Master_Down_Interval %v; want %d, %v, %v", c.ival, c.fam, v, s, m, c.version, c.skew, c.mdi)
		}
	}
}

func TestMassVIP(t *testing.T) {
	if got := massVIP("ipv4", 200).String(); got != "198.18.0.200/15" {
		t.Errorf("massVIP(ipv4, 200) = %s", got)
	}
	if got := massVIP("ipv6", 16).String(); got != "2001:db8::1:10/64" {
		t.Errorf("massVIP(ipv6, 16) = %s", got)
	}
}

// A -hiccup or -settle out of range is refused before anything is
// built or run; one at either end of its range is taken. parse starts
// nothing, so a bound broken here cannot start a benchmark.
func TestFlagBounds(t *testing.T) {
	for _, c := range []struct {
		flag     string
		pre      []string
		refused  []string
		accepted []string
		got      func(*config) time.Duration
	}{
		{"-hiccup", nil, []string{"-1s", "61s"}, []string{"0", "1m"}, func(c *config) time.Duration { return c.hiccup }},
		{"-settle", []string{"-mass"}, []string{"-1s", "601s"}, []string{"0", "10m"}, func(c *config) time.Duration { return c.settle }},
	} {
		for _, v := range c.refused {
			var errb strings.Builder
			args := append(append([]string{}, c.pre...), c.flag, v)
			if cfg, code := parse(args, &errb); cfg != nil || code != 2 || !strings.Contains(errb.String(), c.flag) {
				t.Errorf("%s %s: config %v, code %d, %q; want none, 2 and a word on %s", c.flag, v, cfg != nil, code, errb.String(), c.flag)
			}
		}
		for _, v := range c.accepted {
			var errb strings.Builder
			want, _ := time.ParseDuration(v)
			args := append(append([]string{}, c.pre...), c.flag, v)
			if cfg, code := parse(args, &errb); cfg == nil || c.got(cfg) != want {
				t.Errorf("%s %s: code %d, %q; want a config with %v", c.flag, v, code, errb.String(), want)
			}
		}
	}
}

// crowded counts the most times within any window, its start inclusive
// and its end exclusive, whatever their order.
func TestCrowded(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms ...float64) []time.Time {
		var ts []time.Time
		for _, m := range ms {
			ts = append(ts, t0.Add(time.Duration(m*float64(time.Millisecond))))
		}
		return ts
	}
	for _, c := range []struct {
		ts   []time.Time
		want int
	}{
		{nil, 0},
		{at(5), 1},
		{at(0, 10, 20), 1},       // 10 ms apart: the end is exclusive
		{at(0, 9.9, 20), 2},      // 0 and 9.9
		{at(30, 1, 2, 3, 25), 3}, // unsorted
		{at(0, 50, 51, 52, 53, 59.9, 60), 5},
	} {
		if got := crowded(c.ts, 10*time.Millisecond); got != c.want {
			t.Errorf("crowded(%v) = %d, want %d", c.ts, got, c.want)
		}
	}
}
