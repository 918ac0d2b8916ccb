package netlink_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/vrrp"
)

var (
	_ vrrp.AddrManager = (*netlink.AddrManager)(nil)
	_ vrrp.Announcer   = (*netlink.Announcer)(nil)
)

// noLeaks checks, after everything else the test cleans up, that it left
// no goroutine behind.
func noLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// nsPath is the path of h's namespace file, what the configs' Netns
// fields take.
func nsPath(h *nstest.Host) string { return "/run/netns/" + h.Name }

// ip runs ip(8) in h's namespace.
func ip(t *testing.T, h *nstest.Host, args ...string) string {
	t.Helper()
	return nstest.MustRun(t, append([]string{"ip", "-n", h.Name}, args...)...)
}

func sysctl(t *testing.T, h *nstest.Host, kv string) {
	t.Helper()
	k, v, _ := strings.Cut(kv, "=")
	if err := h.Sysctl(k, v); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond every 20 ms until it holds, failing after 5 s.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last: %s", what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

// wantField checks that err is ErrInvalid through a *netlink.FieldError
// naming field, with its message.
func wantField(t *testing.T, err error, field, msg string) {
	t.Helper()
	var fe *netlink.FieldError
	if !errors.Is(err, netlink.ErrInvalid) || !errors.As(err, &fe) || fe.Field != field || err.Error() != msg {
		t.Errorf("error %v, want ErrInvalid naming field %s:\n%s", err, field, msg)
	}
}
