package vrrp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/vrrp/vrrptest"
)

// deepAddrs is an AddrManager whose calls need a deep stack (netlink's
// do: vishvananda's request path).
type deepAddrs struct {
	*vrrptest.Addrs
	added chan struct{}
}

// burn uses at least depth KiB of stack.
//
//go:noinline
func burn(depth int) byte {
	var b [1024]byte
	b[depth%len(b)] = byte(depth)
	if depth == 0 {
		return b[0]
	}
	return b[depth%len(b)] + burn(depth-1)
}

func (a deepAddrs) AddVIPs(ctx context.Context, vips []netip.Prefix, accept bool) error {
	burn(96)
	err := a.Addrs.AddVIPs(ctx, vips, accept)
	a.added <- struct{}{}
	return err
}

func (a deepAddrs) RemoveVIPs(ctx context.Context, vips []netip.Prefix) error {
	burn(96)
	return a.Addrs.RemoveVIPs(ctx, vips)
}

// deepHandler is a slog.Handler whose Handle needs a deep stack (slog's
// TextHandler formatting attributes goes past 4 KiB).
// It counts transitions logged on logged.
type deepHandler struct {
	slog.Handler
	logged chan struct{}
}

func (h deepHandler) Handle(ctx context.Context, r slog.Record) error {
	burn(96)
	if r.Message == "vrrp: transition" {
		h.logged <- struct{}{}
	}
	return h.Handler.Handle(ctx, r)
}

func (h deepHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return deepHandler{h.Handler.WithAttrs(as), h.logged}
}

func (h deepHandler) WithGroup(name string) slog.Handler {
	return deepHandler{h.Handler.WithGroup(name), h.logged}
}

// TestRouterStackStaysSmall: a Router whose AddrManager and log handler
// need a deep stack keep its own goroutines' stacks small, so that many idle routers do not
// each keep the stack a takeover grew (no garbage collection runs to
// shrink it in a router that allocates nothing). With collection off, the
// stacks in use after 100 routers became Master, each having added its
// VIPs and logged its transition with 96 KiB of stack, are what the
// routers' goroutines keep.
func TestRouterStackStaysSmall(t *testing.T) {
	const n = 100
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC() // the stacks of earlier tests' goroutines are freed
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	hub := vrrptest.NewHub(1)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	added, logged := make(chan struct{}, n), make(chan struct{}, n)
	for i := range n {
		conn, err := hub.Join(netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}))
		if err != nil {
			t.Fatal(err)
		}
		cfg := vrrp.Config{Name: fmt.Sprint("vr", i+1), VRID: uint8(i + 1), Version: vrrp.V3, Priority: 255,
			Interval: time.Second, VIPs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}), 24)},
			Logger: slog.New(deepHandler{slog.NewTextHandler(io.Discard, nil), logged})}
		r, err := vrrp.NewRouter(conn, deepAddrs{vrrptest.NewAddrs(), added}, &vrrptest.Announcer{}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := r.Run(ctx); err != nil {
				t.Errorf("%s: Run: %v", cfg.Name, err)
			}
		})
	}
	for range n { // every router is Master, its VIPs added, INIT → MASTER logged
		<-added
		<-logged
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	per := (int64(after.StackInuse) - int64(before.StackInuse)) / n
	t.Logf("stacks in use: %d KiB before, %d KiB after %d routers: %.1f KiB per router",
		before.StackInuse>>10, after.StackInuse>>10, n, float64(per)/1024)
	if per > 32<<10 {
		t.Errorf("%.1f KiB of stack per router, want at most 32 (the AddrManager's and the handler's 96 KiB stay with their calls)", float64(per)/1024)
	}
}

// TestRouterIdleStack: a router waiting for its next event keeps a
// small stack once collections have shrunk what its start grew. Its
// goroutine's frames while it waits must use under a quarter of 4 KiB
// (less the runtime's 800 bytes of margin), or the collector keeps
// 8 KiB for it: 4 MiB more at 1,000 routers (bench/README.md, "Memory
// a start leaves behind"). The hub's Conn has a reader goroutine per
// router too; its stack is counted. .ci/run runs it without -race too.
func TestRouterIdleStack(t *testing.T) {
	if raceDetector {
		t.Skip("-race: its instrumented frames are larger than the build's (.ci/run runs this test without it)")
	}
	const n = 200
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	hub := vrrptest.NewHub(1)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	logged := make(chan struct{}, n)
	for i := range n {
		conn, err := hub.Join(netip.AddrFrom4([4]byte{192, 0, 2, byte(i%250 + 1)}))
		if err != nil {
			t.Fatal(err)
		}
		cfg := vrrp.Config{Name: fmt.Sprint("vr", i+1), VRID: uint8(i%250 + 1), Version: vrrp.V3, Priority: 255,
			Interval: time.Second, VIPs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i%250 + 1)}), 24)},
			Logger: slog.New(deepHandler{slog.NewTextHandler(io.Discard, nil), logged})}
		r, err := vrrp.NewRouter(conn, vrrptest.NewAddrs(), &vrrptest.Announcer{}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := r.Run(ctx); err != nil {
				t.Errorf("%s: Run: %v", cfg.Name, err)
			}
		})
	}
	for range n { // every router is Master and waits
		<-logged
	}
	for range 4 { // each collection halves a stack at most
		runtime.GC()
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	per := (int64(after.StackInuse) - int64(before.StackInuse)) / n
	t.Logf("stacks in use: %d KiB before, %d KiB after %d idle routers: %.1f KiB per router (2 goroutines)",
		before.StackInuse>>10, after.StackInuse>>10, n, float64(per)/1024)
	if per > 10<<10 { // 4 KiB the router's, 4 the reader's; was 8 + 4
		t.Errorf("%.1f KiB of stack per idle router, want at most 10: its waiting frames are too large", float64(per)/1024)
	}
}
