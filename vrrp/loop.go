package vrrp

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/watchdog"
)

// rxAdvert is an accepted advert handed from the reader to the loop.
type rxAdvert struct {
	prio     uint8
	interval time.Duration
	src      netip.Addr
	at       time.Time // when it was read: timers restart from here
	repeat   bool      // one the Conn recorded (repeat.go)
}

// Run runs the router until ctx is done, then shuts it down: a Master sends
// priority 0 and removes its addresses. It returns only when every
// goroutine it started has ended: nil after ctx is done, or an error if the
// Conn failed for good. Subscriptions' channels are closed when it
// returns. A Router runs once: a second call returns ErrRan, whether the
// first is still running or has returned.
func (r *Router) Run(ctx context.Context) error {
	if !r.ran.CompareAndSwap(false, true) {
		return ErrRan
	}
	// Run's frame stays small, and the loop's is its own: a router waits
	// in serve with these two frames on its stack, which then fits in 4
	// KiB where one frame of everything (the defers' records, the
	// set-up's temporaries: 1.5 KiB) kept it at 8 (bench/README.md,
	// "Memory a start leaves behind").
	lp := &loop{r: r}
	defer lp.finish()
	lp.start(ctx)
	return lp.serve(ctx)
}

// start sets up what Run's loop needs and steps the machine out of
// Initialize; finish undoes what it set up, in reverse order, also when
// start panicked part-way.
func (lp *loop) start(ctx context.Context) {
	r := lp.r
	rctx, cancel := context.WithCancel(ctx)
	lp.cancel = cancel
	lp.timer = newGoTimer()
	lp.fine = lp.timer
	// A Conn that queues what it receives (SocketConn) is read by this
	// loop itself; any other by a reader goroutine, through rx.
	lp.readErr = make(chan error, 1)
	lp.out, _ = r.conn.(outConn)
	if ic, ok := r.conn.(inlineConn); ok {
		lp.in = ic
		lp.inq, lp.inClosed, lp.inDone = ic.inbox()
	} else {
		rx, readErr := make(chan rxAdvert, 16), lp.readErr
		lp.rx = rx
		lp.wg.Go(func() { readErr <- r.readLoop(rctx, rx) })
	}
	r.ctlMu.Lock()
	timers, beat, resume := r.timers, r.beat, r.resume
	r.ctlMu.Unlock()
	lp.beat = beat
	r.machine.grid = timers.AdvertGrid
	if p := beat.Period(); p > 0 { // wakes the loop to beat while nothing happens
		lp.ticker = time.NewTicker(p)
		lp.tick = lp.ticker.C
	}
	if timers.Precise {
		var t stepTimer
		var err error
		if timers.Clock != nil {
			t = timers.Clock.timer()
			lp.clock = timers.Clock
		} else {
			t, err = newPreciseTimer()
		}
		if err != nil {
			r.view.Load().log.Warn("vrrp: precise timers unavailable; using Go timers", "err", err)
		} else {
			lp.fine = t
			lp.precise = t
			lp.lead = timers.FinalApproach // negative: off (no approach is armed)
			if lp.lead == 0 {
				lp.lead = DefaultFinalApproach
			}
		}
	}
	lp.running = true
	r.applyControl(lp, ctx)
	start := InputStartup
	if resume {
		start = InputResume
	}
	lp.step(ctx, Input{Kind: start})
}

// finish undoes what start set up, last first: the Conn's repeats and
// the handed-out advert, the mastership, the address retries, the
// timers, the reader (which ends before Run returns, also when the loop
// panics), and last the subscriptions' channels.
func (lp *loop) finish() {
	r := lp.r
	defer r.events.Close()
	defer r.sync.feed.Close()
	defer r.lower.Close()
	if lp.cancel == nil {
		return
	}
	defer func() { lp.cancel(); lp.wg.Wait() }()
	if lp.ticker != nil {
		defer lp.ticker.Stop()
	}
	if lp.precise != nil {
		defer lp.precise.Close()
	}
	if lp.timer != nil {
		defer lp.timer.Close()
	}
	if !lp.running {
		return
	}
	defer lp.addr.stop()
	defer lp.endMastership()
	defer func() {
		lp.stopRepeats() // a panic's way out: the Conn must not touch the timer closed above
		lp.takeBack()
	}()
}

// serve is Run's loop: it steps the machine with what arrives until ctx
// is done or the Conn fails for good.
func (lp *loop) serve(ctx context.Context) error {
	r := lp.r
	for {
		lp.beat.Beat()
		select {
		case <-lp.tick:
		case <-ctx.Done():
			lp.shutdown(ctx)
			return nil
		case err := <-lp.readErr:
			return lp.readFailed(ctx, err)
		case a := <-lp.rx:
			lp.stepAdvert(ctx, a)
		case m := <-lp.inq:
			lp.takeInline(ctx, m)
		case <-lp.inClosed:
			lp.readErr <- ErrClosed
			lp.inClosed, lp.inDone = nil, nil
		case <-lp.inDone:
			lp.readErr <- ErrClosed
			lp.inClosed, lp.inDone = nil, nil
		case <-lp.timer.C():
			lp.expire(ctx, lp.rx)
		case <-lp.fine.C():
			if lp.approach.IsZero() {
				lp.expire(ctx, lp.rx)
				continue
			}
			lp.finalApproach(ctx, lp.rx)
		case <-r.poke:
			r.applyControl(lp, ctx)
		case <-lp.addr.timerC():
			lp.retryAddrs(ctx)
		case <-lp.addr.faultC():
			lp.clearAddrFault(ctx)
		}
	}
}

// readFailed shuts the router down after its reader ended with err: nil
// or ctx done are a stop, anything else a failure Run returns.
func (lp *loop) readFailed(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil { // the reader saw ctx end first
		lp.shutdown(ctx)
		return nil
	}
	v := lp.r.view.Load()
	v.log.Error("vrrp: receive failed for good; stopping", "err", err)
	lp.shutdown(ctx)
	return fmt.Errorf("vrrp: %s: receive: %w", v.cfg.object(), err)
}

// applyControl applies what Reconfigure, Track, Untrack, SetFault, SyncTo
// and AddrRemoved changed, in that order: the configuration, the
// effective priority, whether any source is in fault, the sync group's
// state, and last the VIPs someone else removed, so that a router told of
// a fault (its interface went away) and of the removals that came with it
// enters FAULT and puts nothing back.
func (r *Router) applyControl(lp *loop, ctx context.Context) {
	r.ctlMu.Lock()
	cfg := r.pending
	r.pending = nil
	r.ctlMu.Unlock()
	if cfg != nil {
		lp.reclaim(ctx)
		lp.reconfigure(ctx, *cfg)
	}
	r.ctlMu.Lock()
	prio, faulted := r.track.priority(r.view.Load().cfg.Priority), r.track.faulted() || r.view.Load().cfg.noPeerFault()
	removed := r.removed
	r.removed = nil
	r.ctlMu.Unlock()
	if prio != r.machine.Priority() {
		lp.step(ctx, Input{Kind: InputPriority, Priority: prio})
	}
	lp.setFaulted(ctx, faulted || lp.addr.fault)
	r.applySync(ctx, lp)
	for _, a := range removed {
		lp.restore(ctx, a)
	}
}

// loop is the state owned by Run's goroutine.
type loop struct {
	r *Router
	// What start set up and finish undoes: the reader's context and
	// goroutine, its failure, the queues and channels serve waits on,
	// the beat's ticker, the precise timer; running once the loop's own
	// clean-up applies.
	cancel           context.CancelFunc
	wg               sync.WaitGroup
	readErr          chan error
	rx               chan rxAdvert
	inClosed, inDone <-chan struct{}
	beat             *watchdog.Beat
	ticker           *time.Ticker
	tick             <-chan time.Time
	precise          stepTimer
	running          bool
	// timer is a Go timer; fine is the precise one for Master_Down_Timer
	// (the same as timer without Timers.Precise). Stale expiries of either
	// are ignored by the machine.
	timer     stepTimer
	fine      stepTimer
	fineArmed bool
	armed     Timer
	// approach, if set, is the Master_Down_Timer deadline the fine timer
	// was armed FinalApproach ahead of.
	approach time.Time
	lead     time.Duration
	// faulted is what the machine was last told: some source is in fault.
	faulted bool
	addr    addrRetry
	actions []Action
	buf     []byte
	adv     Advertisement
	// radv receives what the loop validates itself (an expiry's taken
	// adverts, an inlineConn's messages); lastRx is the receive time of
	// the last advert stepped.
	radv Advertisement
	// take accepts what a tryTaker hands over into took and tookOK (made
	// once: no allocation per expiry).
	take   func([]byte, PacketInfo)
	took   rxAdvert
	tookOK bool
	lastRx time.Time
	// announcing are the announcements running while we are Master,
	// each with a context of its own, so that a reload can stop the ones
	// that name a VIP it removed and the mastership's end stops them all
	// (no context for the mastership besides: ~0.4 KiB a master).
	announcing []announcement
	// in is the Conn when the loop reads it itself (inlineConn), inq its
	// queue; nil otherwise.
	in  inlineConn
	inq <-chan *rawMsg
	// rep is the advert the Conn records repeats of while repOn; their
	// arrival times come from the Conn (takeRepeat). stepping is set
	// while the loop steps one (repeat.go).
	rep      rxAdvert
	repOn    bool
	stepping bool
	// out is the Conn when it can send a master's advert again for the
	// loop, outOn while it does; sentOK says the last send went out
	// (repeat.go).
	out    outConn
	outOn  bool
	sentOK bool
	failed func(netip.Addr, error)
	// clock is the shared Clock of the precise timer, if any: its
	// Routers take turns polling through final approaches.
	clock *Clock
}

// inlineConn is a Conn that queues the messages it receives for its
// reader: SocketConn. A Router's loop reads such a Conn itself, with no
// reader goroutine: per advert one goroutine wake-up fewer, per router
// one goroutine, its 2 KiB buffer and a channel fewer (bench/README.md,
// "instances").
type inlineConn interface {
	// inbox returns the queue of received messages, and channels closed
	// when the Conn and when its socket close.
	inbox() (q <-chan *rawMsg, closed, done <-chan struct{})
	// reuse takes back a message taken from the queue.
	reuse(m *rawMsg)
	// setRepeat, clearRepeat and takeRepeat are SocketConn's record of
	// the advert the loop is content to hear again (repeat.go).
	setRepeat(b []byte, info PacketInfo, received *atomic.Uint64, t repeatTimer) bool
	clearRepeat()
	takeRepeat() (time.Time, bool)
}

// rawMsg is a message waiting in a Conn's queue. It belongs to whoever
// holds it: SocketConn's dispatch fills it, its reader (ReadAdvert, or
// the Router's loop) takes it out and hands it back to the Conn's free
// list, from which dispatch takes it again, so a message is never
// overwritten before it was read.
type rawMsg struct {
	b    []byte
	info PacketInfo
}

// takeInline validates and steps a message the loop took from its Conn's
// queue, and gives it back. The repeats recorded before it arrived are
// stepped first.
func (lp *loop) takeInline(ctx context.Context, m *rawMsg) {
	lp.stepRepeat(ctx)
	a, ok := lp.r.accept(m.b, m.info, &lp.radv)
	if ok {
		lp.stepAdvert(ctx, a)
		lp.offerRepeat(m.b, m.info, a)
	}
	lp.in.reuse(m)
}

// finalApproach runs when the fine timer fires FinalApproach ahead of
// Master_Down_Timer's deadline: it polls (no sleeping) until the deadline,
// still taking adverts, control calls and cancellation, and then steps the
// timer. An advert that re-arms or stops the timer ends the approach.
func (lp *loop) finalApproach(ctx context.Context, rx <-chan rxAdvert) {
	r := lp.r
	deadline := lp.approach
	if time.Until(deadline) > 2*lp.lead {
		return // a stale expiry from before the timer was re-armed
	}
	lp.approach = time.Time{}
	growStack(0)
	if a, ok := lp.takeRepeat(); ok {
		// The master advertised since the deadline was set (its Conn
		// restarted the timer: repeat.go).
		lp.stepAdvert(ctx, a)
		t, at := r.machine.Deadline()
		if t != MasterDownTimer || !lp.approach.IsZero() {
			return // the timers have it
		}
		// Its last advert makes the deadline as near as this one was:
		// approach that.
		deadline = at
	}
	if c := lp.clock; c != nil {
		if !c.startPolling() {
			// Other routers of the clock are polling (takeovers due
			// together): sleep to the deadline on the timer instead.
			r.n.FinalApproachesSkipped.Add(1)
			lp.fine.Reset(time.Until(deadline))
			return
		}
		defer c.stopPolling()
	}
	r.n.FinalApproaches.Add(1)
	for {
		if !time.Now().Before(deadline) {
			lp.expire(ctx, rx)
			return
		}
		select {
		case a := <-rx:
			lp.stepAdvert(ctx, a)
		case m := <-lp.inq:
			lp.takeInline(ctx, m)
		case <-r.poke:
			r.applyControl(lp, ctx)
		case <-ctx.Done():
			return // Run's loop sees it next
		default:
			a, ok := lp.takeRepeat()
			if !ok {
				runtime.Gosched()
				continue
			}
			lp.stepAdvert(ctx, a)
		}
		if t, at := r.machine.Deadline(); t != MasterDownTimer || !at.Equal(deadline) {
			return // re-armed (the master is back) or stopped: the timers have it
		}
	}
}

func (lp *loop) shutdown(ctx context.Context) {
	// Cleanup must still reach the network and the kernel after ctx ended.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	lp.step(cctx, Input{Kind: InputShutdown})
}

// announcement is one Announce call, running until cancel.
type announcement struct {
	addrs  []netip.Addr
	cancel context.CancelFunc
}

func (lp *loop) endMastership() {
	for _, a := range lp.announcing {
		a.cancel()
	}
	lp.announcing = nil
}

func (lp *loop) step(ctx context.Context, in Input) { lp.stepAt(ctx, in, time.Now()) }

// stepAt applies in as of time now (for adverts: when they were read, so
// the handoff from the reader does not delay the timers).
func (lp *loop) stepAt(ctx context.Context, in Input, now time.Time) {
	if lp.repOn && !lp.stepping && !(in.Kind == InputTimer && lp.r.machine.staleTimer(in.Timer, now)) {
		// Anything but a repeat (or a stale expiry, which the machine
		// ignores) may change what a repeat does.
		lp.dropRepeat(ctx)
	}
	lp.takeBack() // the machine's Adver_Timer must be its own to step anything
	lp.actions = lp.r.machine.Step(in, now, lp.actions[:0])
	lp.do(ctx, lp.actions, now)
	lp.reportLowerPrio(in, lp.actions, now)
	lp.handOut(in)
}

// do carries out the machine's actions and updates the status.
func (lp *loop) do(ctx context.Context, actions []Action, now time.Time) {
	r := lp.r
	v := r.view.Load()
	for _, a := range actions {
		switch a.Kind {
		case ActSend:
			lp.send(ctx, a.Priority)
		case ActArmTimer:
			lp.armed = a.Timer
			lp.approach = time.Time{}
			if a.Timer == MasterDownTimer && lp.fine != lp.timer {
				lp.timer.Stop()
				d := time.Until(a.At)
				if lp.lead > 0 && d > 2*lp.lead {
					d -= lp.lead
					lp.approach = a.At
				}
				lp.fine.Reset(d)
				lp.fineArmed = true
			} else {
				if lp.fineArmed {
					lp.fine.Stop() // a syscall: only when it was armed
					lp.fineArmed = false
				}
				lp.timer.Reset(time.Until(a.At))
			}
		case ActStopTimer:
			lp.armed = NoTimer
			lp.approach = time.Time{}
			lp.timer.Stop()
			if lp.fineArmed {
				lp.fine.Stop()
				lp.fineArmed = false
			}
		case ActAddVIPs:
			// News first: the advert and the first gratuitous ARP / NA
			// are out (becomeMaster orders them before the add); the
			// rest of this takeover (the add, the log, the events) waits
			// on the global run queue behind the routers the clock has
			// readied since, whose news are on the local ones
			// (bench/README.md, "News first").
			giveWay()
			if lp.addVIPs(ctx, v.cfg.VIPs, a.Accept) {
				// Not held: stop announcing them (a master becoming
				// announces before it adds); the add that succeeds
				// announces them again.
				lp.withdraw(v.vips)
			} else {
				lp.added()
			}
		case ActRemoveVIPs:
			lp.endMastership()
			lp.addr.adding = false
			lp.removeVIPs(ctx, v.cfg.VIPs)
		case ActAnnounce:
			if lp.addr.adding {
				continue // not all added: the retry that adds them announces them
			}
			lp.announceAs(ctx, v.vips, a.LowerPrio)
		case ActTransition:
			if a.From == Master {
				lp.endMastership()
			}
			lp.transition(a, now)
		}
	}
	m := r.machine
	r.statusMu.Lock()
	r.status.Priority, r.status.Master, r.status.MasterAdverInterval = m.Priority(), m.Master(), m.MasterAdverInterval()
	r.statusMu.Unlock()
	lp.reportSync()
}

// giveWay lets the goroutines that are ready run before the caller
// goes on: runtime.Gosched puts it on the global run queue, which a P
// looks at only when its own is empty (or one pick in 61). Tests replace
// it to see where a takeover gives way.
var giveWay = runtime.Gosched

// addVIPs adds vips through the AddrManager, if any, and reports whether
// that failed; a failure while master is retried (addrretry.go).
func (lp *loop) addVIPs(ctx context.Context, vips []netip.Prefix, accept bool) (failed bool) {
	r := lp.r
	if r.addrs == nil || len(vips) == 0 {
		return false
	}
	var err error
	onOwnStack(func() { err = r.addrs.AddVIPs(ctx, vips, accept) })
	if err != nil {
		c := r.n.AddrErrors.Add(1)
		if logx.Sampled(c) {
			r.view.Load().log.Error("vrrp: adding virtual addresses failed", "addrs", fmt.Sprint(vips), "err", err, "errors", c)
		}
		lp.addFailed()
		return true
	}
	return false
}

// removeVIPs removes vips through the AddrManager, if any, and reports
// whether that failed; a failure is retried (addrretry.go).
func (lp *loop) removeVIPs(ctx context.Context, vips []netip.Prefix) (failed bool) {
	r := lp.r
	if r.addrs == nil || len(vips) == 0 {
		return false
	}
	var err error
	onOwnStack(func() { err = r.addrs.RemoveVIPs(ctx, vips) })
	if err != nil {
		c := r.n.AddrErrors.Add(1)
		if logx.Sampled(c) {
			r.view.Load().log.Error("vrrp: removing virtual addresses failed", "addrs", fmt.Sprint(vips), "err", err, "errors", c)
		}
		lp.removeFailed(vips)
		return true
	}
	return false
}

// announce announces addrs through the Announcer, if any, for as long as
// we are Master.
func (lp *loop) announce(ctx context.Context, addrs []netip.Addr) {
	lp.announceAs(ctx, addrs, false)
}

// announceAs is announce, through LowerPrioAnnouncer if lowerPrio and the
// Announcer has it.
func (lp *loop) announceAs(ctx context.Context, addrs []netip.Addr, lowerPrio bool) {
	r := lp.r
	if r.ann == nil || len(addrs) == 0 {
		return
	}
	actx, cancel := context.WithCancel(ctx)
	f := r.ann.Announce
	if lowerPrio {
		f = func(ctx context.Context, addrs []netip.Addr) error { return AnnounceLowerPrio(ctx, r.ann, addrs) }
	}
	if err := f(actx, addrs); err != nil {
		cancel()
		r.n.AddrErrors.Add(1)
		r.view.Load().log.Error("vrrp: announcing virtual addresses failed", "addrs", fmt.Sprint(addrs), "err", err)
		return
	}
	lp.announcing = append(lp.announcing, announcement{addrs: addrs, cancel: cancel})
}

// withdraw stops the announcements that name an address of gone (their
// repeats and refreshes would announce an address we no longer hold) and
// returns the other addresses they named, which are still ours.
func (lp *loop) withdraw(gone []netip.Addr) (still []netip.Addr) {
	lp.announcing = slices.DeleteFunc(lp.announcing, func(a announcement) bool {
		if !slices.ContainsFunc(a.addrs, func(x netip.Addr) bool { return slices.Contains(gone, x) }) {
			return false
		}
		a.cancel()
		for _, x := range a.addrs {
			if !slices.Contains(gone, x) && !slices.Contains(still, x) {
				still = append(still, x)
			}
		}
		return true
	})
	return still
}

// restore adds back and announces the VIP with address a if we are
// master and it is ours (AddrRemoved). If it cannot be added (its
// interface is gone: the fault follows), it is not announced.
func (lp *loop) restore(ctx context.Context, a netip.Addr) {
	r := lp.r
	if r.machine.State() != Master {
		return
	}
	v := r.view.Load()
	i := slices.IndexFunc(v.cfg.VIPs, func(p netip.Prefix) bool { return p.Addr().Unmap() == a })
	if i < 0 {
		return
	}
	p := v.cfg.VIPs[i]
	v.log.Warn("vrrp: a virtual address was removed while master; putting it back", "addr", p)
	if lp.addVIPs(ctx, []netip.Prefix{p}, r.machine.accept()) {
		return
	}
	r.n.VIPsRestored.Add(1)
	lp.announce(ctx, []netip.Addr{a})
}

func (lp *loop) transition(a Action, now time.Time) {
	r := lp.r
	m := r.machine
	r.n.Transitions.Add(1)
	r.n.transMu.Lock()
	if r.n.byTrans == nil {
		r.n.byTrans = map[Transition]uint64{}
	}
	r.n.byTrans[Transition{From: a.From, To: a.To, Reason: a.Reason}]++
	r.n.transMu.Unlock()
	if a.To == Master {
		r.n.BecameMaster.Add(1)
	}
	st := Status{State: a.To, Priority: m.Priority(), Master: m.Master(), MasterAdverInterval: m.MasterAdverInterval(), Since: now}
	r.statusMu.Lock()
	r.status = st
	r.statusMu.Unlock()
	v := r.view.Load()
	// A handler's formatting goes deep (slog's TextHandler: past the
	// 4 KiB the loop needs), and a stack grown once stays grown
	// (onOwnStack): 4 KiB more for each of 1,000 idle routers.
	if lvl := v.cfg.TransitionLogLevel; v.log.Enabled(context.Background(), lvl) {
		onOwnStack(func() {
			v.log.Log(context.Background(), lvl, "vrrp: transition", "from", a.From.String(), "to", a.To.String(), "reason", a.Reason.String(),
				"priority", st.Priority, "master", st.Master)
		})
	}
	r.events.Publish(Event{Instance: v.cfg.Name, Time: now, From: a.From, To: a.To, Reason: a.Reason, Priority: st.Priority, Master: st.Master})
}

func (lp *loop) send(ctx context.Context, prio uint8) {
	r := lp.r
	v := r.view.Load()
	lp.adv = Advertisement{Version: r.version, VRID: r.vrid, Priority: prio, Interval: v.cfg.Interval,
		Addrs: v.vips, AuthType: v.cfg.AuthType, Auth: v.auth, ChecksumAsV2: v.cfg.V3ChecksumAsV2}
	if prio == PriorityStop {
		r.n.PriorityZeroTx.Add(1)
	}
	lp.sentOK = false
	for _, dst := range v.groups {
		b, err := lp.adv.AppendMarshal(lp.buf[:0], r.local, dst)
		if err != nil {
			// NewRouter validated everything Marshal checks.
			r.n.SendErrors.Add(1)
			v.log.Error("vrrp: encoding advert", "err", err)
			return
		}
		lp.buf = b
		if err := r.conn.WriteAdvert(ctx, b, dst); err != nil {
			r.sendFailed(dst, err)
			continue
		}
		r.n.AdvertsSent.Add(1)
		lp.sentOK = true
	}
}

// sendFailed counts a failed advert send to dst and logs it, sampled:
// the loop's own sends and those its Socket makes for it (handOut).
func (r *Router) sendFailed(dst netip.Addr, err error) {
	if c := r.n.SendErrors.Add(1); logx.Sampled(c) {
		r.view.Load().log.Warn("vrrp: sending advert failed", "dst", dst, "err", err, "errors", c)
	}
}
