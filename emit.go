package vigil

import "github.com/vigil-ha/vigil/notify"

// fifoKind says which notify FIFOs a line goes to: the global one and
// the VRRP or the LVS one.
type fifoKind uint8

const (
	fifoVRRP fifoKind = iota + 1
	fifoLVS
)

// emitter is how the parts of a Supervisor report what happened: events
// to the subscriptions, notify scripts and FIFO lines. Its methods never
// block.
type emitter interface {
	// emit publishes e to the Supervisor's subscriptions, stamping its
	// Time if zero.
	emit(e Event)
	// notify queues a notification under key (an instance, a group, a
	// virtual or real server: notifications of one key run in order):
	// line (if not empty) to the FIFOs of kind, then calls (scripts;
	// nil Scripts are skipped), one after the other.
	notify(key string, kind fifoKind, line string, calls ...notify.Call)
}
