package vrrp

// tracking is keepalived's priority tracking as a value: named sources,
// each with a weight (its current contribution to the priority) or a
// fault. The zero value tracks nothing.
//
// keepalived's rules (vrrp_script, track_interface, track_file, ...):
// the effective priority is the configured one plus the sum of the
// weights, clamped to 1..254; an address owner (255) ignores weights; a
// failed source of weight 0 puts the instance in FAULT, owner or not.
type tracking struct {
	weights map[string]int
	faults  map[string]bool
}

// maxWeight bounds one source's weight (keepalived allows -254..254), so
// the sum cannot overflow.
const maxWeight = 254

// track sets source's weight, clamped to -254..254.
func (t *tracking) track(source string, delta int) {
	if t.weights == nil {
		t.weights = map[string]int{}
	}
	t.weights[source] = min(max(delta, -maxWeight), maxWeight)
}

// setFault raises or clears source's fault.
func (t *tracking) setFault(source string, down bool) {
	if !down {
		delete(t.faults, source)
		return
	}
	if t.faults == nil {
		t.faults = map[string]bool{}
	}
	t.faults[source] = true
}

// untrack forgets source: its weight and its fault.
func (t *tracking) untrack(source string) {
	delete(t.weights, source)
	delete(t.faults, source)
}

// priority is the effective priority for the configured priority base.
func (t *tracking) priority(base uint8) uint8 {
	if base == PriorityOwner {
		return PriorityOwner
	}
	p := int(base)
	for _, w := range t.weights {
		p += w
	}
	return uint8(min(max(p, 1), PriorityOwner-1))
}

// faulted reports whether any source is in fault.
func (t *tracking) faulted() bool { return len(t.faults) > 0 }
