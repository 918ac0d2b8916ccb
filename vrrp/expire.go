package vrrp

import (
	"context"
	"time"
)

// tryTaker is a Conn that can hand over a message it has already
// received without waiting, in its own buffer: SocketConn and
// vrrptest.Conn are. A Master_Down_Timer expiry takes what is waiting
// first (expire), with no buffer of its own (which every router would
// allocate at its first takeover: 2 KiB each, 400 KiB in the burst of a
// 200-VRID mass failover).
type tryTaker interface {
	// TryTakeAdvert calls f with a message already received, if there is
	// one (valid only during the call), and reports whether there was.
	TryTakeAdvert(f func(b []byte, info PacketInfo)) bool
}

// maxTaken bounds how many waiting adverts one expiry takes before it
// steps the timer: more than the reader's channel and a Conn's default
// queue hold, so that a flood cannot keep the loop from its timers.
const maxTaken = 128

// expire steps an expiry of the armed timer. Before a Master_Down_Timer
// expiry it steps the adverts that have arrived but not reached the loop
// yet (in the reader's channel, then in the Conn's queue), each at its
// receive time: a starved process reads them late, but an advert its
// master sent in time, received before the deadline, restarts the timer
// as RFC 5798 says, and the expiry it made stale is ignored. An advert
// received after the deadline is stepped after the timer.
func (lp *loop) expire(ctx context.Context, rx <-chan rxAdvert) {
	if lp.armed == MasterDownTimer {
		if lp.clock != nil {
			lp.clock.expiring()
		}
		for range maxTaken {
			a, ok := lp.arrived(rx)
			if !ok {
				break
			}
			r := lp.r
			r.n.AdvertsTakenAtExpiry.Add(1)
			// A repeat arrived before the deadline in force then, which
			// the repeats before it (not stepped) had moved past the
			// machine's.
			if t, d := r.machine.Deadline(); !a.repeat && t == MasterDownTimer && !a.at.Before(d) && !time.Now().Before(d) {
				lp.step(ctx, Input{Kind: InputTimer, Timer: lp.armed}) // the deadline came first
			}
			lp.stepAdvert(ctx, a)
		}
	}
	lp.step(ctx, Input{Kind: InputTimer, Timer: lp.armed}) // the machine ignores it if stale
}

// arrived returns an advert that has arrived and not been stepped, from
// the reader's channel or else from the Conn's queue, without waiting.
func (lp *loop) arrived(rx <-chan rxAdvert) (rxAdvert, bool) {
	select {
	case a := <-rx:
		return a, true
	default:
	}
	// Repeats the Conn recorded arrived before what its queue holds.
	if a, ok := lp.takeRepeat(); ok {
		return a, true
	}
	tt, ok := lp.r.conn.(tryTaker)
	if !ok {
		return rxAdvert{}, false
	}
	if lp.take == nil {
		lp.take = func(b []byte, info PacketInfo) {
			lp.took, lp.tookOK = lp.r.accept(b, info, &lp.radv)
		}
	}
	for range maxTaken {
		lp.tookOK = false
		if !tt.TryTakeAdvert(lp.take) {
			return lp.takeRepeat() // its poll of the socket may have recorded one
		}
		if lp.tookOK {
			return lp.took, true
		}
	}
	return rxAdvert{}, false
}

// stepAdvert steps an accepted advert at its receive time. The loop takes
// adverts from the reader and, at an expiry, from the Conn directly, so
// one the reader held while the loop took a later one can come after it:
// its time is then the later one's, so that the timers never restart
// from a time before one already stepped.
func (lp *loop) stepAdvert(ctx context.Context, a rxAdvert) {
	if a.at.Before(lp.lastRx) {
		a.at = lp.lastRx
	}
	lp.lastRx = a.at
	in := Input{Kind: InputAdvert, Priority: a.prio, Interval: a.interval, Src: a.src}
	lp.stepping = a.repeat
	lp.stepAt(ctx, in, a.at)
	lp.stepping = false
	if a.repeat && lp.repOn && !lp.repeatable(in) {
		lp.dropRepeat(ctx)
	}
}
