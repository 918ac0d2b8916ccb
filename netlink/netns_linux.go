package netlink

import (
	"errors"
	"fmt"
	"runtime"

	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// InNamespace runs fn with an OS thread in namespace ns, or just runs fn
// when ns is nil. Sockets fn opens stay in ns. fn runs on a fresh
// goroutine locked to its thread; if the thread cannot be switched back,
// it is discarded with that goroutine rather than reused.
func InNamespace(ns *netns.NsHandle, fn func() error) error {
	if ns == nil {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netlink: current network namespace: %w", err)
			return
		}
		if err := netns.Set(*ns); err != nil {
			orig.Close()
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netlink: enter network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		} else if ferr == nil {
			ferr = fmt.Errorf("netlink: return to network namespace: %w", err)
		}
		orig.Close()
		errc <- ferr
	}()
	return <-errc
}

// isNotFound reports whether err says a link does not exist.
func isNotFound(err error) bool {
	var nf vnl.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

// linkByName looks a link up, with an error naming it.
func linkByName(h *vnl.Handle, name string) (vnl.Link, error) {
	l, err := h.LinkByName(name)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("netlink: link %s: %w", name, ErrLinkNotFound)
		}
		return nil, fmt.Errorf("netlink: link %s: %w", name, err)
	}
	return l, nil
}
