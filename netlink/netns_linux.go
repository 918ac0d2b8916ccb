package netlink

import (
	"errors"
	"fmt"
	"os"

	"github.com/vigil-ha/vigil/internal/netnsfile"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

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
	f, err := netnsfile.Open(path)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer f.Close()
	return netnsfile.In(f, fn)
}

// openNetns opens the network namespace file at path, or the calling
// thread's namespace when path is empty.
func openNetns(path string) (*os.File, error) { return netnsfile.Open(path) }

// handleOf returns f as a netns handle; f must stay open while it is used.
func handleOf(f *os.File) netns.NsHandle { return netns.NsHandle(f.Fd()) }

// inNetns runs fn in the namespace of f (see InNamespace).
func inNetns(f *os.File, fn func() error) error { return netnsfile.In(f, fn) }

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
