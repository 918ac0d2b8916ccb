package check

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
)

var (
	lo4 = netip.MustParseAddr("127.0.0.1")
	lo6 = netip.MustParseAddr("::1")
)

func TestICMPPrivileged(t *testing.T) {
	noLeaks(t)
	if os.Geteuid() != 0 {
		nstest.Unavailable(t, "raw ICMP sockets need root")
	}
	targets := []netip.Addr{lo4, netip.AddrFrom16(lo4.As16())} // plain and v4-mapped
	if haveIPv6Loopback() {
		targets = append(targets, lo6)
	}
	for _, a := range targets {
		t.Run(a.String(), func(t *testing.T) {
			checkErr(t, (&ICMP{Addr: a, Privileged: true}).Check(testCtx(t, 5*time.Second)), nil)
			checkErr(t, (&ICMP{Addr: a, Privileged: true, ID: 4242, Size: 1000, Bind: a.Unmap()}).Check(testCtx(t, 5*time.Second)), nil)
		})
	}
	// Many checkers at once on raw sockets, which all see every reply: each
	// must pick out its own.
	errs := make(chan error, 20)
	for range cap(errs) {
		go func() { errs <- (&ICMP{Addr: lo4, Privileged: true, ID: 7}).Check(testCtx(t, 5*time.Second)) }()
	}
	for range cap(errs) {
		checkErr(t, <-errs, nil)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := (&ICMP{Addr: lo4, Privileged: true}).Check(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v, want Canceled", err)
	}
	checkErr(t, (&ICMP{}).Check(t.Context()), ErrInvalid)
}

// pingGroupAllows reports whether this process's group may open ping sockets.
func pingGroupAllows() (bool, string) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	if err != nil {
		return false, err.Error()
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil {
		return false, err.Error()
	}
	g := os.Getegid()
	return lo <= g && g <= hi, fmt.Sprintf("net.ipv4.ping_group_range is %q, without gid %d", strings.TrimSpace(string(b)), g)
}

func TestICMPUnprivileged(t *testing.T) {
	ok, why := pingGroupAllows()
	if !ok {
		// The error says what to change.
		err := (&ICMP{Addr: lo4}).Check(testCtx(t, 5*time.Second))
		if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), "ping_group_range") {
			t.Errorf("ping socket not allowed: %v, want a permission error naming ping_group_range", err)
		}
		t.Skip(why + " (TestICMPUnprivilegedNetns covers this mode in a namespace of its own)")
	}
	checkErr(t, (&ICMP{Addr: lo4}).Check(testCtx(t, 5*time.Second)), nil)
	if haveIPv6Loopback() {
		checkErr(t, (&ICMP{Addr: lo6}).Check(testCtx(t, 5*time.Second)), nil)
	}
}

// TestICMPUnprivilegedNetns opens ping sockets in a network namespace whose
// ping_group_range admits every group, leaving the host's setting alone.
func TestICMPUnprivilegedNetns(t *testing.T) {
	err := inNetns(t, map[string]string{"ipv4/ping_group_range": "0 2147483647"}, func() error {
		if err := (&ICMP{Addr: lo4}).Check(testCtx(t, 5*time.Second)); err != nil {
			return err
		}
		return (&ICMP{Addr: lo6}).Check(testCtx(t, 5*time.Second))
	})
	checkErr(t, err, nil)
}

// TestICMPNoReply pings a loopback that ignores echo requests.
func TestICMPNoReply(t *testing.T) {
	noLeaks(t)
	if os.Geteuid() != 0 {
		nstest.Unavailable(t, "raw ICMP sockets need root")
	}
	var errs [2]error
	err := inNetns(t, map[string]string{"ipv4/icmp_echo_ignore_all": "1", "ipv4/ping_group_range": "0 2147483647"}, func() error {
		errs[0] = (&ICMP{Addr: lo4, Privileged: true}).Check(testCtx(t, 100*time.Millisecond))
		errs[1] = (&ICMP{Addr: lo4}).Check(testCtx(t, 100*time.Millisecond))
		return nil
	})
	checkErr(t, err, nil)
	for _, err := range errs {
		checkErr(t, err, ErrNoReply)
		checkErr(t, err, context.DeadlineExceeded)
	}
}
