package vrrp

import (
	"math"
	"testing"
)

// keepalived's tracking arithmetic, one row per rule.
func TestTracking(t *testing.T) {
	type op struct {
		source string
		delta  int
		fault  int // 1 raise, -1 clear
		remove bool
	}
	w := func(s string, d int) op { return op{source: s, delta: d} }
	cases := []struct {
		name    string
		base    uint8
		ops     []op
		prio    uint8
		faulted bool
	}{
		{"nothing tracked", 100, nil, 100, false},
		{"one weight", 100, []op{w("chk", -20)}, 80, false},
		{"weights add up", 100, []op{w("a", -20), w("b", 30), w("c", -5)}, 105, false},
		{"a source's new weight replaces its old", 100, []op{w("a", -20), w("a", 10)}, 110, false},
		{"clamped to 254", 200, []op{w("a", 100)}, 254, false},
		{"clamped to 1", 50, []op{w("a", -100)}, 1, false},
		{"weights beyond 254 count as 254", 100, []op{w("a", math.MaxInt32), w("b", -300)}, 100, false},
		{"owner ignores weights", 255, []op{w("a", -200)}, 255, false},
		{"weight 0 source down: FAULT", 100, []op{{source: "eth0", fault: 1}}, 100, true},
		{"fault cleared", 100, []op{{source: "eth0", fault: 1}, {source: "eth0", fault: -1}}, 100, false},
		{"one of two faults cleared", 100, []op{{source: "a", fault: 1}, {source: "b", fault: 1}, {source: "a", fault: -1}}, 100, true},
		{"owner faults", 255, []op{{source: "eth0", fault: 1}}, 255, true},
		{"untrack forgets weight and fault", 100, []op{w("a", -20), {source: "a", fault: 1}, {source: "a", remove: true}}, 100, false},
		{"untrack an unknown source", 100, []op{{source: "x", remove: true}}, 100, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tr tracking
			for _, o := range c.ops {
				switch {
				case o.remove:
					tr.untrack(o.source)
				case o.fault != 0:
					tr.setFault(o.source, o.fault > 0)
				default:
					tr.track(o.source, o.delta)
				}
			}
			if p := tr.priority(c.base); p != c.prio {
				t.Errorf("priority %d, want %d", p, c.prio)
			}
			if f := tr.faulted(); f != c.faulted {
				t.Errorf("faulted %v, want %v", f, c.faulted)
			}
		})
	}
}
