package netlink

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsGetType is NS_GET_NSTYPE (linux/nsfs.h): the type of a namespace file.
const nsGetType = 0xb703

// InNamespace runs fn on an OS thread in the network namespace whose file
// is at path (/run/netns/NAME or /proc/PID/ns/net); with path empty it
// just calls fn, in the namespace of the calling thread. Sockets fn opens
// stay in that namespace. fn runs on a fresh goroutine locked to its
// thread; if the thread cannot be switched back, it is discarded with
// that goroutine rather than reused. It is what the configs' Netns fields
// mean, for code outside this package (sysctls, other sockets).
func InNamespace(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	f, err := openNetns(path)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer f.Close()
	return inNetns(f, fn)
}

// openNetns opens the network namespace file at path, or the calling
// thread's namespace when path is empty. The *os.File closes the
// descriptor if it is lost without Close. Its errors name the path, not
// the package.
func openNetns(path string) (*os.File, error) {
	name := path
	if path == "" {
		name = "/proc/thread-self/ns/net"
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("network namespace: %w", err)
	}
	t, err := unix.IoctlRetInt(int(f.Fd()), nsGetType)
	switch {
	case errors.Is(err, unix.ENOTTY):
		err = fmt.Errorf("network namespace: %s is not a namespace file", name)
	case err != nil:
		err = fmt.Errorf("network namespace %s: %w", name, err)
	case t != unix.CLONE_NEWNET:
		err = fmt.Errorf("network namespace: %s is not a network namespace", name)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// handleOf returns f as a netns handle; f must stay open while it is used.
func handleOf(f *os.File) netns.NsHandle { return netns.NsHandle(f.Fd()) }

// inNetns runs fn on a fresh goroutine locked to an OS thread in the
// namespace of f (see InNamespace).
func inNetns(f *os.File, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netlink: current network namespace: %w", err)
			return
		}
		if err := netns.Set(handleOf(f)); err != nil {
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
	err := <-errc
	runtime.KeepAlive(f)
	return err
}

// openHandle opens a route netlink handle in the namespace at path (the
// calling thread's when empty). Its errors do not name the package.
func openHandle(path string) (*vnl.Handle, error) {
	if path == "" {
		h, err := vnl.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return nil, fmt.Errorf("open netlink socket: %w", err)
		}
		return h, nil
	}
	f, err := openNetns(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := vnl.NewHandleAt(handleOf(f), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket in %s: %w", path, err)
	}
	return h, nil
}

// isNotFound reports whether err says an interface does not exist.
func isNotFound(err error) bool {
	var nf vnl.LinkNotFoundError
	return errors.Is(err, unix.ENODEV) || errors.As(err, &nf)
}

// linkByName looks an interface up, with an error naming it that wraps
// ErrNoInterface if it does not exist.
func linkByName(h *vnl.Handle, name string) (vnl.Link, error) {
	l, err := h.LinkByName(name)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("netlink: interface %s: %w", name, ErrNoInterface)
		}
		return nil, fmt.Errorf("netlink: interface %s: %w", name, err)
	}
	return l, nil
}
