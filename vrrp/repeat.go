package vrrp

import (
	"context"
	"net/netip"
	"sync/atomic"
	"time"
)

// A backup hears its master's advert every interval, the same bytes each
// time, and all its machine does with one is restart Master_Down_Timer
// from when it arrived. Waking the Router's loop for that (the Conn's
// queue, a select over a dozen channels, validation, a step) was half a
// backup's CPU per advert (bench/README.md, "Repeats: adverts that wake
// no router"). So
// once the loop has stepped such an advert from the queue, it has the
// Conn record it (offerRepeat): the Conn's dispatch compares each message
// with it, and for the same message from the same place it counts the
// advert as received, notes when it arrived and restarts the loop's
// Master_Down_Timer itself (repeatTimer), instead of queueing it. The
// loop steps the latest repeat it has not stepped, at its arrival time,
// before anything else it steps, and when the timer fires; so the
// machine sees what it would have seen, later, and no input of its own
// time is stepped before an advert that arrived earlier.
//
// The recording stops (dropRepeat) before the loop steps anything that
// is not a repeat, when its configuration is replaced, and in the Conn
// when a message that is not the repeat arrives (it and what follows
// queue in order); the next advert the loop steps from its queue may be
// recorded again.

// repeatTimer is what a Conn needs to restart a backup's
// Master_Down_Timer for a repeat as the loop would: the timer (nil: the
// loop's cannot be shared; the loop restarts it when it fires), the
// Master_Down_Interval, the final approach's lead (≤ 0: none) and the
// deadline in force. A repeat that arrives at or after the deadline is
// not one: the loop must step the expiry first (the Conn queues it).
type repeatTimer struct {
	t         sharedTimer
	mdi, lead time.Duration
	deadline  time.Time
}

// restart moves the deadline for a repeat that arrived at at, before
// it, and arms the timer.
func (rt *repeatTimer) restart(at time.Time) {
	rt.deadline = at.Add(rt.mdi)
	if rt.t == nil {
		return
	}
	d := time.Until(rt.deadline)
	if rt.lead > 0 && d > 2*rt.lead {
		d -= rt.lead
	}
	rt.t.Reset(d)
}

// offerRepeat has the Conn record the advert a (b, received with info),
// just stepped from the queue, if stepping it again would only restart
// Master_Down_Timer (repeatable) and it names our addresses (else each
// is counted as a mismatch).
//
// Stepping it, not a repeat, stopped any recording (stepAt).
func (lp *loop) offerRepeat(b []byte, info PacketInfo, a rxAdvert) {
	r := lp.r
	if !lp.repeatable(Input{Kind: InputAdvert, Priority: a.prio, Interval: a.interval, Src: a.src}) ||
		!sameAddrs(lp.radv.Addrs, r.view.Load().vips) {
		return
	}
	_, deadline := r.machine.Deadline()
	rt := repeatTimer{mdi: r.machine.MasterDownInterval(), deadline: deadline}
	if lp.fine == lp.timer {
		rt.t, _ = lp.timer.(sharedTimer) // do arms it, with no approach
	} else {
		rt.t, _ = lp.fine.(sharedTimer)
		rt.lead = lp.lead
	}
	lp.rep = a
	lp.rep.repeat = true
	lp.repOn = lp.in.setRepeat(b, info, &r.n.AdvertsReceived, rt)
}

// repeatable reports whether in, an advert just stepped with lp.actions,
// would do the same again: we are Backup, it is not priority 0 and all
// it did was restart Master_Down_Timer from its arrival (not a lower
// priority discarded or accepted under a preempt delay, whose deadline
// is not the arrival's).
func (lp *loop) repeatable(in Input) bool {
	m := lp.r.machine
	return in.Kind == InputAdvert && in.Priority != PriorityStop && lp.in != nil && m.State() == Backup &&
		m.preemptAt.IsZero() && len(lp.actions) == 1 && lp.actions[0].Kind == ActArmTimer &&
		lp.actions[0].Timer == MasterDownTimer
}

// reclaim takes back from the Conn what it does on the machine's behalf
// (a backup's recorded repeat, stepped if the loop has not; a master's
// advert handed out to its Socket) before the loop changes the machine
// other than through stepAt, which does the same for what it steps: a
// new configuration (Reconfigure), the sync group's state (SyncTo).
func (lp *loop) reclaim(ctx context.Context) {
	lp.dropRepeat(ctx) // validated under the machine's state as it was
	lp.takeBack()      // marshalled under it, and timed by its Adver_Timer
}

// dropRepeat stops the Conn's recording, then steps the repeat it
// recorded last, if the loop has not.
func (lp *loop) dropRepeat(ctx context.Context) {
	lp.stopRepeats()
	lp.stepRepeat(ctx)
}

// stopRepeats stops the Conn's recording; a repeat recorded and not
// stepped stays for takeRepeat.
func (lp *loop) stopRepeats() {
	if lp.repOn {
		lp.in.clearRepeat()
		lp.repOn = false
	}
}

// stepRepeat steps the latest repeat the Conn recorded and the loop has
// not stepped, if any, at its arrival time.
func (lp *loop) stepRepeat(ctx context.Context) {
	if a, ok := lp.takeRepeat(); ok {
		lp.stepAdvert(ctx, a)
	}
}

// takeRepeat returns the latest repeat the Conn recorded and the loop
// has not stepped, if any.
func (lp *loop) takeRepeat() (rxAdvert, bool) {
	if lp.in == nil {
		return rxAdvert{}, false
	}
	at, ok := lp.in.takeRepeat()
	if !ok {
		return rxAdvert{}, false
	}
	a := lp.rep
	a.at = at
	return a, true
}

// outConn is a Conn whose Socket can send a master's advert again every
// interval for its Router (SocketConn: sendrepeat_linux.go).
type outConn interface {
	sendRepeats(b []byte, dst netip.Addr, due time.Time, interval, grid time.Duration, sent *atomic.Uint64,
		failed func(netip.Addr, error))
	takeBack() time.Time
}

// handOut hands the advert just sent to the Conn's Socket to send again
// when due, if stepping in did nothing but send it and arm the
// Adver_Timer for the next: a Master's periodic advert, sent without a
// failure to its one destination (a unicast Router with several peers
// sends its own).
func (lp *loop) handOut(in Input) {
	r := lp.r
	if lp.out == nil || lp.outOn || in.Kind != InputTimer || in.Timer != AdverTimer || r.machine.State() != Master ||
		!lp.sentOK || len(lp.actions) != 2 || lp.actions[0].Kind != ActSend || lp.actions[1].Kind != ActArmTimer ||
		lp.actions[1].Timer != AdverTimer {
		return
	}
	v := r.view.Load()
	if len(v.groups) != 1 {
		return
	}
	if lp.failed == nil {
		lp.failed = r.sendFailed // a method value: made once
	}
	lp.timer.Stop()
	lp.out.sendRepeats(lp.buf, v.groups[0], lp.actions[1].At, v.cfg.Interval, r.machine.grid, &r.n.AdvertsSent,
		lp.failed)
	lp.outOn = true
}

// takeBack takes the advert handOut handed out back from the Socket, and
// the Adver_Timer with it: the machine learns when the next advert is
// due, the loop's timer is armed for it.
func (lp *loop) takeBack() {
	if !lp.outOn {
		return
	}
	lp.outOn = false
	due := lp.out.takeBack()
	lp.r.machine.adverSentUntil(due)
	lp.timer.Reset(time.Until(due))
}
