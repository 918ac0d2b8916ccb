package vrrp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// How a Router retries its AddrManager (package doc, "Addresses that
// cannot be held").
const (
	// AddrRetryFirst is the wait before the first retry of a failed VIP
	// add or remove; each further wait doubles.
	AddrRetryFirst = 100 * time.Millisecond
	// AddrRetries is how many times a failed add or remove is retried:
	// the last retry comes AddrRetryFirst × (2^AddrRetries − 1) = 3.1 s
	// after the failure. A master whose VIPs still cannot be added then
	// enters FAULT; a removal is given up (and logged).
	AddrRetries = 5
	// AddrFaultHold is how long a router stays in FAULT because its VIPs
	// could not be added before it starts again (as when a fault clears).
	// Each fault of this kind doubles the next one's hold, up to
	// AddrFaultHoldMax; VIPs added successfully reset it.
	AddrFaultHold = 5 * time.Second
	// AddrFaultHoldMax bounds AddrFaultHold's doubling.
	AddrFaultHoldMax = 80 * time.Second
)

// addrRetry is the loop's effort to hold its VIPs while master and to
// remove them otherwise, when the AddrManager fails.
type addrRetry struct {
	timer *time.Timer // retries; nil until first needed
	armed bool
	// adding: the master's VIPs are not all added.
	adding bool
	// unremoved are VIPs whose removal failed.
	unremoved []netip.Prefix
	tries     int // retries made since the first failure
	next      time.Duration
	// fault: in FAULT because the VIPs could not be added, until
	// faultTimer fires.
	fault      bool
	faultTimer *time.Timer
	hold       time.Duration // the next fault's hold (0: AddrFaultHold)
}

// timerC and faultC are the retry timers' channels, nil while unarmed.
func (a *addrRetry) timerC() <-chan time.Time {
	if !a.armed {
		return nil
	}
	return a.timer.C
}

func (a *addrRetry) faultC() <-chan time.Time {
	if !a.fault {
		return nil
	}
	return a.faultTimer.C
}

func (a *addrRetry) stop() {
	if a.timer != nil {
		a.timer.Stop()
	}
	if a.faultTimer != nil {
		a.faultTimer.Stop()
	}
}

// schedule arms the retry timer unless a retry is already due.
func (a *addrRetry) schedule() {
	if a.armed {
		return
	}
	a.tries, a.next = 0, AddrRetryFirst
	a.arm()
}

func (a *addrRetry) arm() {
	if a.timer == nil {
		a.timer = time.NewTimer(a.next)
	} else {
		a.timer.Reset(a.next)
	}
	a.armed = true
}

// added records that the master's VIPs are all added.
func (lp *loop) added() {
	a := &lp.addr
	a.adding = false
	a.hold = 0
	vips := lp.r.view.Load().cfg.VIPs
	a.unremoved = slices.DeleteFunc(a.unremoved, func(p netip.Prefix) bool { return slices.Contains(vips, p) })
}

// addFailed records that adding VIPs failed: while master, all of them
// are added again after a backoff.
func (lp *loop) addFailed() {
	if lp.r.machine.State() != Master {
		return
	}
	lp.addr.adding = true
	lp.addr.schedule()
}

// removeFailed records that removing vips failed: they are removed again
// after a backoff, unless the router is master with them by then.
func (lp *loop) removeFailed(vips []netip.Prefix) {
	a := &lp.addr
	for _, p := range vips {
		if !slices.Contains(a.unremoved, p) {
			a.unremoved = append(a.unremoved, p)
		}
	}
	a.schedule()
}

// retryAddrs is the retry timer's expiry: it adds the master's VIPs
// again, or removes those whose removal failed, and after AddrRetries
// failed retries raises the address fault or gives the removal up.
func (lp *loop) retryAddrs(ctx context.Context) {
	r := lp.r
	a := &lp.addr
	a.tries++ // a stays armed meanwhile: failures here do not schedule anew
	master := r.machine.State() == Master
	v := r.view.Load()
	if a.adding && !master {
		a.adding = false
	}
	if a.adding {
		r.n.AddrRetries.Add(1)
		if !lp.addVIPs(ctx, v.cfg.VIPs, r.machine.accept()) {
			lp.added()
			v.log.Info("vrrp: virtual addresses added on retry", "retry", a.tries)
			// The announcements that stopped or never started.
			lp.withdraw(v.vips)
			lp.announce(ctx, v.vips)
		}
	}
	if master {
		// A master holds its VIPs: only those it dropped (a reload) are
		// still to remove.
		a.unremoved = slices.DeleteFunc(a.unremoved, func(p netip.Prefix) bool { return slices.Contains(v.cfg.VIPs, p) })
	}
	if len(a.unremoved) > 0 {
		r.n.AddrRetries.Add(1)
		if vips := slices.Clone(a.unremoved); !lp.removeVIPs(ctx, vips) {
			v.log.Info("vrrp: virtual addresses removed on retry", "addrs", fmt.Sprint(vips), "retry", a.tries)
			a.unremoved = slices.DeleteFunc(a.unremoved, func(p netip.Prefix) bool { return slices.Contains(vips, p) })
		}
	}
	if !a.adding && len(a.unremoved) == 0 {
		a.armed = false
		return
	}
	if a.tries < AddrRetries {
		a.next *= 2
		a.arm()
		return
	}
	a.armed = false
	if len(a.unremoved) > 0 {
		v.log.Error("vrrp: giving up removing virtual addresses; they stay on the interface", "addrs", fmt.Sprint(a.unremoved), "retries", a.tries)
		a.unremoved = nil
	}
	if a.adding {
		lp.raiseAddrFault(ctx)
	}
}

// raiseAddrFault puts the router in FAULT for the hold time because its
// VIPs cannot be added.
func (lp *loop) raiseAddrFault(ctx context.Context) {
	r := lp.r
	a := &lp.addr
	a.adding = false
	if a.hold == 0 {
		a.hold = AddrFaultHold
	}
	r.n.AddrFaults.Add(1)
	r.view.Load().log.Error("vrrp: the virtual addresses cannot be added; entering FAULT",
		"retries", a.tries, "hold", a.hold.String())
	a.fault = true
	if a.faultTimer == nil {
		a.faultTimer = time.NewTimer(a.hold)
	} else {
		a.faultTimer.Reset(a.hold)
	}
	a.hold = min(2*a.hold, AddrFaultHoldMax)
	lp.applyFault(ctx)
}

// clearAddrFault is the fault timer's expiry: the router starts again,
// as when a fault clears, and tries its VIPs again if it becomes master.
func (lp *loop) clearAddrFault(ctx context.Context) {
	lp.addr.fault = false
	lp.r.view.Load().log.Info("vrrp: address fault hold over; starting again")
	lp.applyFault(ctx)
}

// applyFault tells the machine whether any source is in fault: a tracked
// one (SetFault), the want of a unicast peer, or the VIPs.
func (lp *loop) applyFault(ctx context.Context) {
	r := lp.r
	r.ctlMu.Lock()
	faulted := r.track.faulted() || r.view.Load().cfg.noPeerFault()
	r.ctlMu.Unlock()
	lp.setFaulted(ctx, faulted || lp.addr.fault)
}

// setFaulted steps the machine if faulted changed.
func (lp *loop) setFaulted(ctx context.Context, faulted bool) {
	if faulted == lp.faulted {
		return
	}
	lp.faulted = faulted
	k := InputFaultCleared
	if faulted {
		k = InputFault
	}
	lp.step(ctx, Input{Kind: k})
}
