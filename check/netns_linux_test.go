package check

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/nstest"
)

// inNetns runs f on a goroutine locked to an OS thread that has its own,
// new network namespace, with the loopback interface up and the given
// sysctls (paths under /proc/sys/net/) set in that namespace only. The
// thread is discarded afterwards. It skips the test where namespaces cannot
// be made (not root, or a sandbox that forbids them).
func inNetns(t *testing.T, sysctls map[string]string, f func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	skip := make(chan string, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			skip <- fmt.Sprintf("cannot make a network namespace: %v", err)
			return
		}
		if err := loUp(); err != nil {
			errc <- err
			return
		}
		for k, v := range sysctls {
			if err := os.WriteFile("/proc/sys/net/"+k, []byte(v), 0); err != nil {
				errc <- err
				return
			}
		}
		errc <- f()
	}()
	select {
	case why := <-skip:
		nstest.Unavailable(t, why)
		return nil
	case err := <-errc:
		return err
	}
}

// loUp brings the loopback interface of the thread's namespace up.
func loUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	return nil
}
