package netlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// DefaultResyncInterval is the Watcher's default ResyncInterval.
const DefaultResyncInterval = 5 * time.Minute

// WatcherConfig configures a Watcher.
type WatcherConfig struct {
	// Namespace is the network namespace to watch; nil means the
	// namespace of the thread that calls Run.
	Namespace *netns.NsHandle
	// Link restricts events to one interface, by name; empty means every
	// interface of the namespace.
	Link string
	// ResyncInterval is the subscriptions' receive timeout: when either
	// is silent that long, the watcher resubscribes and re-lists, a
	// safety net against lost notifications. 0 means
	// DefaultResyncInterval; negative means never.
	ResyncInterval time.Duration
	// ReceiveBufferSize sets the subscription sockets' SO_RCVBUF; 0 keeps
	// the kernel's default. Overflows (ENOBUFS) cause a resync.
	ReceiveBufferSize int
	// Buffer is the capacity of the Events channel; 0 means 64.
	Buffer int
	// Logger receives the watcher's logs; nil discards them.
	Logger *slog.Logger
}

// WatcherStats are a Watcher's counters.
type WatcherStats struct {
	// Subscriptions counts successful subscriptions (the first and every
	// resubscription).
	Subscriptions uint64
	// Resyncs counts listings after the first.
	Resyncs uint64
	// Overflows counts subscriptions lost to a full socket (ENOBUFS).
	Overflows uint64
	// Errors counts errors the subscriptions reported, and failures to
	// subscribe or list.
	Errors uint64
	// Events counts events delivered.
	Events uint64
}

// Watcher reports link and address changes in a network namespace: links
// up and down, added and removed; addresses added and removed; IPv6
// duplicate address detection failures. It subscribes to rtnetlink
// (vishvananda/netlink's LinkSubscribeWithOptions and
// AddrSubscribeWithOptions with ListExisting) and lists the namespace
// after each subscription, so when a subscription fails, overflows or
// times out it resubscribes and delivers the differences (Event.Sync set)
// followed by a Synced event.
type Watcher struct {
	cfg    WatcherConfig
	log    *slog.Logger
	events chan Event
	ran    atomic.Bool
	resync chan struct{}

	subs, resyncs, overflows, errs, delivered atomic.Uint64

	// beforeResubscribe, if set (tests), runs before each resubscription.
	beforeResubscribe func()
}

// NewWatcher checks cfg and returns a Watcher; Run starts it.
func NewWatcher(cfg WatcherConfig) (*Watcher, error) {
	if cfg.Buffer < 0 || cfg.ReceiveBufferSize < 0 {
		return nil, errors.New("netlink: watcher: negative buffer size")
	}
	if cfg.Buffer == 0 {
		cfg.Buffer = 64
	}
	if cfg.ResyncInterval == 0 {
		cfg.ResyncInterval = DefaultResyncInterval
	}
	w := &Watcher{cfg: cfg, log: cfg.Logger, events: make(chan Event, cfg.Buffer), resync: make(chan struct{}, 1)}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Link != "" {
		w.log = w.log.With("link", cfg.Link)
	}
	return w, nil
}

// Events returns the channel events are delivered on, in order. It is
// closed when Run returns. Run waits for the reader: a reader that falls
// far behind makes the subscriptions overflow, which costs a resync.
func (w *Watcher) Events() <-chan Event { return w.events }

// Stats returns the counters.
func (w *Watcher) Stats() WatcherStats {
	return WatcherStats{Subscriptions: w.subs.Load(), Resyncs: w.resyncs.Load(), Overflows: w.overflows.Load(),
		Errors: w.errs.Load(), Events: w.delivered.Load()}
}

// Resync makes a running watcher drop its subscriptions, resubscribe and
// re-list, as after a subscription failure. It does not block.
func (w *Watcher) Resync() {
	select {
	case w.resync <- struct{}{}:
	default:
	}
}

// Run watches until ctx is done, then returns nil once every goroutine it
// started (its own and the subscriptions') has ended. It fails only if the
// namespace cannot be opened. Run may be called once.
func (w *Watcher) Run(ctx context.Context) error {
	if !w.ran.CompareAndSwap(false, true) {
		return fmt.Errorf("netlink: watcher: %w", ErrRan)
	}
	defer close(w.events)
	var ns netns.NsHandle
	if w.cfg.Namespace != nil {
		ns = *w.cfg.Namespace
	} else {
		cur, err := netns.Get()
		if err != nil {
			return fmt.Errorf("netlink: watcher: current network namespace: %w", err)
		}
		defer cur.Close()
		ns = cur
	}
	h, err := vnl.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink: watcher: netlink handle: %w", err)
	}
	defer h.Close()

	st := newWatchState(w.cfg.Link)
	var backoff time.Duration
	for first := true; ; first = false {
		if !first {
			if hook := w.beforeResubscribe; hook != nil {
				hook()
			}
			if backoff > 0 && !sleepCtx(ctx, backoff) {
				return nil
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		sub, err := w.subscribe(ns)
		if err == nil {
			w.subs.Add(1)
			if !first {
				w.resyncs.Add(1)
			}
			err = w.list(ctx, h, st)
		}
		if err != nil {
			if sub != nil {
				sub.stop()
			}
			if ctx.Err() != nil {
				return nil
			}
			w.errs.Add(1)
			backoff = min(max(2*backoff, 10*time.Millisecond), 5*time.Second)
			w.log.Warn("netlink: watcher: subscribing failed; retrying", "err", err, "backoff", backoff)
			continue
		}
		backoff = 0
		why := w.stream(ctx, h, st, sub)
		sub.stop()
		if ctx.Err() != nil {
			return nil
		}
		w.noteEnd(why)
	}
}

// noteEnd counts and logs why a subscription ended.
func (w *Watcher) noteEnd(why error) {
	msg := why.Error()
	switch {
	case strings.Contains(msg, unix.ENOBUFS.Error()):
		w.overflows.Add(1)
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

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// emit delivers evs; it reports false if ctx ended first.
func (w *Watcher) emit(ctx context.Context, evs []Event) bool {
	for _, e := range evs {
		select {
		case w.events <- e:
			w.delivered.Add(1)
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// list applies a complete listing of the namespace to st and delivers the
// differences.
func (w *Watcher) list(ctx context.Context, h *vnl.Handle, st *watchState) error {
	var links []vnl.Link
	var addrs []vnl.Addr
	var err error
	for range 5 {
		links, err = h.LinkList()
		if err == nil {
			addrs, err = h.AddrList(nil, vnl.FAMILY_ALL)
		}
		if !errors.Is(err, vnl.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	sl := make([]snapLink, 0, len(links))
	for _, l := range links {
		a := l.Attrs()
		sl = append(sl, snapLink{index: a.Index, name: a.Name, up: isUp(a.RawFlags)})
	}
	sa := make([]snapAddr, 0, len(addrs))
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet); ok {
			sa = append(sa, snapAddr{key: addrKey{index: a.LinkIndex, prefix: p}, flags: AddrFlags(a.Flags)})
		}
	}
	w.emit(ctx, st.sync(sl, sa))
	return nil
}

func isUp(rawFlags uint32) bool {
	return rawFlags&unix.IFF_UP != 0 && rawFlags&unix.IFF_RUNNING != 0
}

// stream applies notifications until the subscription ends (returning
// why) or ctx is done (returning nil).
func (w *Watcher) stream(ctx context.Context, h *vnl.Handle, st *watchState, sub *subscription) error {
	var evs []Event
	for {
		evs = evs[:0]
		select {
		case <-ctx.Done():
			return nil
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
				return sub.endReason("link")
			}
			a := u.Link.Attrs()
			present := u.Header.Type != unix.RTM_DELLINK
			evs = st.link(evs, a.Index, a.Name, isUp(u.IfInfomsg.Flags), present, false)
		case u, ok := <-sub.addrs:
			if !ok {
				sub.addrs = nil
				return sub.endReason("address")
			}
			p, ok := prefixOf(&u.LinkAddress)
			if !ok {
				continue
			}
			name := st.links[u.LinkIndex].name
			if name == "" && u.NewAddr {
				if l, err := h.LinkByIndex(u.LinkIndex); err == nil {
					name = l.Attrs().Name
				}
			}
			evs = st.addr(evs, addrKey{index: u.LinkIndex, prefix: p}, name, AddrFlags(u.Flags), u.NewAddr, false)
		}
		if !w.emit(ctx, evs) {
			return nil
		}
	}
}

// subscription is one generation of the link and address subscriptions.
type subscription struct {
	w       *Watcher
	done    chan struct{}
	once    sync.Once
	stopped atomic.Bool
	// links and addrs are nil when not subscribed (or drained).
	links   chan vnl.LinkUpdate
	addrs   chan vnl.AddrUpdate
	errs    chan error
	lastErr error // the last receive failure seen
	asked   bool
}

// subscribe opens the link and address subscriptions in ns.
func (w *Watcher) subscribe(ns netns.NsHandle) (*subscription, error) {
	s := &subscription{w: w, done: make(chan struct{}), errs: make(chan error, 16)}
	cb := func(err error) {
		if s.stopped.Load() {
			return // the socket closing under Receive
		}
		if !strings.Contains(err.Error(), unix.EAGAIN.Error()) { // not the resync interval
			w.errs.Add(1)
		}
		select {
		case s.errs <- err:
		default:
		}
	}
	var timeout *unix.Timeval
	if w.cfg.ResyncInterval > 0 {
		tv := unix.NsecToTimeval(w.cfg.ResyncInterval.Nanoseconds())
		timeout = &tv
	}
	links := make(chan vnl.LinkUpdate, 128)
	err := vnl.LinkSubscribeWithOptions(links, s.done, vnl.LinkSubscribeOptions{
		Namespace: &ns, ErrorCallback: cb, ListExisting: true,
		ReceiveBufferSize: w.cfg.ReceiveBufferSize, ReceiveTimeout: timeout,
	})
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("subscribe to links: %w", err)
	}
	s.links = links
	addrs := make(chan vnl.AddrUpdate, 128)
	err = vnl.AddrSubscribeWithOptions(addrs, s.done, vnl.AddrSubscribeOptions{
		Namespace: &ns, ErrorCallback: cb, ListExisting: true,
		ReceiveBufferSize: w.cfg.ReceiveBufferSize, ReceiveTimeout: timeout,
	})
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("subscribe to addresses: %w", err)
	}
	s.addrs = addrs
	return s, nil
}

func (s *subscription) closeDone() {
	s.once.Do(func() { close(s.done) })
}

// stop closes the sockets and waits until the subscriptions' goroutines
// have closed their channels.
func (s *subscription) stop() {
	s.stopped.Store(true)
	s.closeDone()
	if s.links != nil {
		for range s.links {
		}
	}
	if s.addrs != nil {
		for range s.addrs {
		}
	}
}

// endReason says why the named subscription's channel closed.
func (s *subscription) endReason(which string) error {
	if s.asked {
		return errResyncAsked
	}
	if s.lastErr != nil {
		return fmt.Errorf("%s subscription: %w", which, s.lastErr)
	}
	for {
		select {
		case err := <-s.errs:
			if strings.Contains(err.Error(), "Receive failed") {
				return fmt.Errorf("%s subscription: %w", which, err)
			}
		default:
			return fmt.Errorf("%s subscription ended", which)
		}
	}
}
