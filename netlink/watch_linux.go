package netlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/counter"
	"github.com/vigil-ha/vigil/internal/feed"
	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/internal/retry"
	"github.com/vigil-ha/vigil/internal/sleep"
	"github.com/vigil-ha/vigil/watchdog"
)

// WatcherStats are a Watcher's counters: a snapshot, see Watcher.Stats.
type WatcherStats struct {
	// Subscriptions counts successful kernel subscriptions (the first and
	// every resubscription).
	Subscriptions uint64
	// Resyncs counts listings after the first.
	Resyncs uint64
	// Overflows counts kernel subscriptions lost to a full socket
	// (ENOBUFS).
	Overflows uint64
	// Errors counts errors the kernel subscriptions reported, and
	// failures to subscribe or list.
	Errors uint64
	// Events counts events published.
	Events uint64
	// Dropped counts events the Subscriptions dropped because their queue
	// was full, all Subscriptions together.
	Dropped uint64
}

// watcherCounters are the live counters of WatcherStats.
type watcherCounters struct {
	Subscriptions, Resyncs, Overflows, Errors, Events atomic.Uint64
}

// Watcher reports interface and address changes in a network namespace:
// interfaces up and down, added and removed; addresses added and
// removed; IPv6 duplicate address detection failures. It subscribes to
// rtnetlink (vishvananda/netlink's LinkSubscribeWithOptions and
// AddrSubscribeWithOptions with ListExisting) and lists the namespace
// after each kernel subscription, so it loses no change: when a kernel
// subscription fails, overflows or times out, it resubscribes and
// publishes the differences (Event.Sync set) followed by a Synced event.
//
// Events go out to Subscriptions (Subscribe), which never make the
// Watcher wait. Its methods are safe for concurrent use.
type Watcher struct {
	cfg    WatcherConfig
	log    *slog.Logger
	ns     *os.File // opened by NewWatcher, closed when Run returns
	ran    atomic.Bool
	resync chan struct{}
	feed   feed.Feed[Event]

	// mu orders changes of state with publishing and Snapshot: state is
	// written, and its events published, under mu by Run's goroutine,
	// which alone reads it without mu.
	mu     sync.Mutex
	state  *watchState
	listed bool // a listing has been applied

	counters watcherCounters
	beat     *watchdog.Beat // SetBeat's, read by Run

	// Test hooks, set before Run: beforeResubscribe runs before each
	// resubscription, beforeUpdate before each notification is applied.
	beforeResubscribe func()
	beforeUpdate      func(context.Context)
}

// SetBeat makes Run beat b (see package watchdog) on every turn of its
// loop, and at least every b.Period() while no notification comes (also
// while it waits to subscribe again), so that a watcher stuck applying a
// notification or in a kernel call is found stalled; its owner calls
// b.Done once Run returned. Call it before Run: once Run was called, it
// changes nothing and returns ErrRan.
func (w *Watcher) SetBeat(b *watchdog.Beat) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ran.Load() {
		return ErrRan
	}
	w.beat = b
	return nil
}

// NewWatcher checks cfg (see WatcherConfig.Validate), opens cfg.Netns and
// returns a Watcher; Run starts it.
func NewWatcher(cfg WatcherConfig) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ResyncInterval == 0 {
		cfg.ResyncInterval = DefaultResyncInterval
	}
	ns, err := openNetns(cfg.Netns)
	if err != nil {
		return nil, fmt.Errorf("netlink: watcher: %w", err)
	}
	w := &Watcher{cfg: cfg, log: logx.OrDiscard(cfg.Logger), ns: ns, resync: make(chan struct{}, 1),
		state: newWatchState(cfg.Interface)}
	if cfg.Interface != "" {
		w.log = w.log.With("interface", cfg.Interface)
	}
	return w, nil
}

// Subscribe returns a Subscription to the events published from now on,
// in order. Subscribe before Run to receive the initial listing. After
// Run has returned, its C is already closed.
//
// The Watcher never waits for a subscriber: the Subscription queues n
// events (at least 1) and, when full, drops its oldest event and counts
// it (Subscription.Dropped); Subscribe(1) always holds the latest event.
// A dropped event is a change the subscriber did not see: an interface
// that went down, an address that went. A subscriber that keeps state
// recovers when Dropped grows: it applies Snapshot as if it were a
// listing, then goes on reading C. The events still queued are in order
// and none is older than a dropped one, so applying them after the
// snapshot leaves the subscriber at the Watcher's current view.
func (w *Watcher) Subscribe(n int) *Subscription {
	return &Subscription{s: w.feed.Subscribe(n)}
}

// Snapshot returns the Watcher's current view of the namespace as the
// events a listing delivers to a watcher that knew nothing, all with Sync
// set: InterfaceAdded for every interface, AddrAdded for every address
// (and AddrDADFailed where duplicate address detection failed), filtered
// to WatcherConfig.Interface when set, then Synced. It reflects every
// event published so far and none after. It is nil before the first
// listing.
func (w *Watcher) Snapshot() []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.listed {
		return nil
	}
	return w.state.snapshot()
}

// Stats returns a snapshot of the counters.
func (w *Watcher) Stats() WatcherStats {
	st := counter.Snapshot[WatcherStats](&w.counters)
	st.Dropped = w.feed.Dropped()
	return st
}

// Resync makes a running watcher drop its kernel subscriptions,
// resubscribe and re-list, as after a subscription failure. It does not
// block.
func (w *Watcher) Resync() {
	select {
	case w.resync <- struct{}{}:
	default:
	}
}

// Run watches until ctx is done, then closes the Subscriptions and the
// namespace and returns nil once every goroutine it started (its own and
// the kernel subscriptions') has ended. It fails only if it cannot open
// a netlink socket in the namespace.
//
// A Watcher runs once: a second call returns ErrRan, whether the first
// is still running or has returned.
func (w *Watcher) Run(ctx context.Context) error {
	if !w.ran.CompareAndSwap(false, true) {
		return ErrRan
	}
	defer w.feed.Close()
	defer w.ns.Close()
	ns := handleOf(w.ns)
	h, err := vnl.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink: watcher: open netlink socket: %w", err)
	}
	defer h.Close()

	w.mu.Lock()
	beat := w.beat
	w.mu.Unlock()
	var backoff time.Duration
	for first := true; ; first = false {
		beat.Beat()
		if !first {
			if hook := w.beforeResubscribe; hook != nil {
				hook()
			}
			if backoff > 0 && !sleepBeating(ctx, backoff, beat) {
				return nil
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		sub, err := w.subscribe(ns)
		if err == nil {
			w.counters.Subscriptions.Add(1)
			if !first {
				w.counters.Resyncs.Add(1)
			}
			err = w.list(h)
		}
		if err != nil {
			if sub != nil {
				sub.stop()
			}
			if ctx.Err() != nil {
				return nil
			}
			w.counters.Errors.Add(1)
			backoff = min(max(2*backoff, 10*time.Millisecond), 5*time.Second)
			w.log.Warn("netlink: watcher: subscribing failed; retrying", "err", err, "backoff", backoff)
			continue
		}
		backoff = 0
		why := w.stream(ctx, h, sub, beat)
		sub.stop()
		if ctx.Err() != nil {
			return nil
		}
		w.noteEnd(why)
	}
}

// sleepBeating is sleep.For that beats beat at least every beat.Period().
func sleepBeating(ctx context.Context, d time.Duration, beat *watchdog.Beat) bool {
	for d > 0 {
		step := d
		if p := beat.Period(); p > 0 {
			step = min(step, p)
		}
		if !sleep.For(ctx, step) {
			return false
		}
		beat.Beat()
		d -= step
	}
	return ctx.Err() == nil
}

// noteEnd counts and logs why a kernel subscription ended.
func (w *Watcher) noteEnd(why error) {
	msg := why.Error()
	switch {
	case strings.Contains(msg, unix.ENOBUFS.Error()):
		w.counters.Overflows.Add(1)
		w.log.Warn("netlink: watcher: notifications overflowed; resyncing", "err", why)
	case strings.Contains(msg, unix.EAGAIN.Error()):
		w.log.Debug("netlink: watcher: quiet for the resync interval; resyncing")
	case errors.Is(why, errResyncAsked):
		w.log.Debug("netlink: watcher: resync asked")
	default:
		w.log.Warn("netlink: watcher: subscription ended; resyncing", "err", why)
	}
}

var errResyncAsked = errors.New("resync asked")

// publish publishes evs in order. The caller holds w.mu.
func (w *Watcher) publish(evs []Event) {
	for _, e := range evs {
		w.counters.Events.Add(1)
		w.feed.Publish(e)
	}
}

// list applies a complete listing of the namespace to the state and
// publishes the differences.
func (w *Watcher) list(h *vnl.Handle) error {
	type listing struct {
		links []vnl.Link
		addrs []vnl.Addr
	}
	l, err := retry.Dump(interrupted, func() (listing, error) {
		links, err := h.LinkList()
		if err != nil {
			return listing{}, err
		}
		addrs, err := h.AddrList(nil, vnl.FAMILY_ALL)
		return listing{links, addrs}, err
	})
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	sl := make([]snapIface, 0, len(l.links))
	for _, link := range l.links {
		a := link.Attrs()
		sl = append(sl, snapIface{index: a.Index, name: a.Name, up: isUp(a.RawFlags)})
	}
	sa := make([]snapAddr, 0, len(l.addrs))
	for _, a := range l.addrs {
		if p, ok := prefixOf(a.IPNet); ok {
			sa = append(sa, snapAddr{key: addrKey{index: a.LinkIndex, prefix: p}, flags: AddrFlags(a.Flags)})
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.publish(w.state.sync(sl, sa))
	w.listed = true
	return nil
}

func isUp(rawFlags uint32) bool {
	return rawFlags&unix.IFF_UP != 0 && rawFlags&unix.IFF_RUNNING != 0
}

// stream applies notifications until the kernel subscription ends
// (returning why) or ctx is done (returning nil).
func (w *Watcher) stream(ctx context.Context, h *vnl.Handle, sub *kernelSub, beat *watchdog.Beat) error {
	var evs []Event
	var alive <-chan time.Time // wakes the loop to beat while nothing happens
	if p := beat.Period(); p > 0 {
		t := time.NewTicker(p)
		defer t.Stop()
		alive = t.C
	}
	for {
		beat.Beat()
		select {
		case <-ctx.Done():
			return nil
		case <-alive:
		case <-w.resync:
			// Take the real path: close the sockets and let the
			// subscriptions fail.
			sub.asked = true
			sub.stopped.Store(true)
			sub.closeDone()
		case err := <-sub.errs:
			if errors.Is(err, vnl.ErrDumpInterrupted) {
				return fmt.Errorf("listing interrupted: %w", err)
			}
			if strings.Contains(err.Error(), "Receive failed") {
				sub.lastErr = err
			}
			w.log.Debug("netlink: watcher: subscription error", "err", err)
		case u, ok := <-sub.links:
			if !ok {
				sub.links = nil
				return sub.endReason("interface")
			}
			evs = w.applyLink(ctx, evs[:0], u)
		case u, ok := <-sub.addrs:
			if !ok {
				sub.addrs = nil
				return sub.endReason("address")
			}
			evs = w.applyAddr(ctx, evs[:0], h, u)
		}
	}
}

// applyLink applies an interface notification to the state and publishes
// its events, appended to evs.
func (w *Watcher) applyLink(ctx context.Context, evs []Event, u vnl.LinkUpdate) []Event {
	if hook := w.beforeUpdate; hook != nil {
		hook(ctx)
	}
	a := u.Link.Attrs()
	present := u.Header.Type != unix.RTM_DELLINK
	w.mu.Lock()
	defer w.mu.Unlock()
	evs = w.state.iface(evs, a.Index, a.Name, isUp(u.IfInfomsg.Flags), present, false)
	w.publish(evs)
	return evs
}

// applyAddr applies an address notification to the state and publishes
// its events, appended to evs. It looks the interface's name up through h
// if the state does not know it.
func (w *Watcher) applyAddr(ctx context.Context, evs []Event, h *vnl.Handle, u vnl.AddrUpdate) []Event {
	if hook := w.beforeUpdate; hook != nil {
		hook(ctx)
	}
	p, ok := prefixOf(&u.LinkAddress)
	if !ok {
		return evs
	}
	name := w.state.ifaces[u.LinkIndex].name // read by the writer: no lock
	if name == "" && u.NewAddr {
		if l, err := h.LinkByIndex(u.LinkIndex); err == nil {
			name = l.Attrs().Name
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	evs = w.state.addr(evs, addrKey{index: u.LinkIndex, prefix: p}, name, AddrFlags(u.Flags), u.NewAddr, false)
	w.publish(evs)
	return evs
}
