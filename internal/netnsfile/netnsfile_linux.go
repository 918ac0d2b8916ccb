// Package netnsfile runs code in a network namespace given, as every
// vigil config gives it, by the path of a namespace file (/run/netns/NAME,
// /proc/PID/ns/net); an empty path is the calling thread's namespace.
package netnsfile

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsGetType is NS_GET_NSTYPE (linux/nsfs.h): the type of a namespace file.
const nsGetType = 0xb703

// Open opens the network namespace file at path, or the calling thread's
// namespace when path is empty, and checks that it is one. The *os.File
// closes the descriptor if it is lost without Close. Its errors name the
// path, not a package.
func Open(path string) (*os.File, error) {
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

// Do runs fn in the namespace at path (see In); with path empty it just
// calls fn.
func Do(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	f, err := Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return In(f, fn)
}

// In runs fn on a fresh goroutine locked to an OS thread switched into
// the namespace of f. Sockets fn opens stay in that namespace. If the
// thread cannot be switched back, it is discarded with its goroutine
// rather than reused.
func In(f *os.File, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current network namespace: %w", err)
			return
		}
		if err := netns.Set(netns.NsHandle(f.Fd())); err != nil {
			orig.Close()
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		} else if ferr == nil {
			ferr = fmt.Errorf("return to network namespace: %w", err)
		}
		orig.Close()
		errc <- ferr
	}()
	err := <-errc
	runtime.KeepAlive(f)
	return err
}
