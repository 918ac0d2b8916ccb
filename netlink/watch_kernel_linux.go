package netlink

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// kernelSub is one generation of the kernel's interface and address
// subscriptions.
type kernelSub struct {
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

// subscribe opens the interface and address subscriptions in ns.
func (w *Watcher) subscribe(ns netns.NsHandle) (*kernelSub, error) {
	s := &kernelSub{done: make(chan struct{}), errs: make(chan error, 16)}
	cb := func(err error) {
		if s.stopped.Load() {
			return // the socket closing under Receive
		}
		if !strings.Contains(err.Error(), unix.EAGAIN.Error()) { // not the resync interval
			w.counters.Errors.Add(1)
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
		ReceiveBufferSize: max(w.cfg.ReceiveBufferSize, 0), ReceiveTimeout: timeout,
	})
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("subscribe to interfaces: %w", err)
	}
	s.links = links
	addrs := make(chan vnl.AddrUpdate, 128)
	err = vnl.AddrSubscribeWithOptions(addrs, s.done, vnl.AddrSubscribeOptions{
		Namespace: &ns, ErrorCallback: cb, ListExisting: true,
		ReceiveBufferSize: max(w.cfg.ReceiveBufferSize, 0), ReceiveTimeout: timeout,
	})
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("subscribe to addresses: %w", err)
	}
	s.addrs = addrs
	return s, nil
}

func (s *kernelSub) closeDone() {
	s.once.Do(func() { close(s.done) })
}

// stop closes the sockets and waits until the subscriptions' goroutines
// have closed their channels.
func (s *kernelSub) stop() {
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
func (s *kernelSub) endReason(which string) error {
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
