package netlink_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/nstest"
	"github.com/vigil-ha/vigil/netlink"
)

// watch runs a Watcher for the test, after setup (if not nil) has set
// its test hooks, and returns a function reading its next event matching
// want (bounded wait) from a Subscription big enough to drop nothing.
// Events read past are recorded for the failure message.
func watch(t *testing.T, cfg netlink.WatcherConfig, setup func(*netlink.Watcher)) (*netlink.Watcher, func(what string, want func(netlink.Event) bool) netlink.Event) {
	t.Helper()
	w, err := netlink.NewWatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(w)
	}
	sub := w.Subscribe(4096)
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
		for range sub.C() { // closed when Run returned
		}
		if n := sub.Dropped(); n != 0 {
			t.Errorf("the test's subscription dropped %d events", n)
		}
		if err := w.Run(context.Background()); !errors.Is(err, netlink.ErrRan) {
			t.Errorf("second Run: %v, want ErrRan", err)
		}
		if _, ok := <-w.Subscribe(1).C(); ok {
			t.Error("a subscription after Run returned is open")
		}
	})
	next := func(what string, want func(netlink.Event) bool) netlink.Event {
		t.Helper()
		var seen []string
		timeout := time.After(10 * time.Second)
		for {
			select {
			case e, ok := <-sub.C():
				if !ok {
					t.Fatalf("events closed waiting for %s", what)
				}
				if want(e) {
					return e
				}
				seen = append(seen, e.String())
			case <-timeout:
				t.Fatalf("timed out waiting for %s; saw %q", what, seen)
			}
		}
	}
	return w, next
}

func is(k netlink.EventKind, sync bool) func(netlink.Event) bool {
	return func(e netlink.Event) bool { return e.Kind == k && e.Sync == sync }
}

func isAddr(k netlink.EventKind, p netip.Prefix, sync bool) func(netlink.Event) bool {
	return func(e netlink.Event) bool { return e.Kind == k && e.Addr == p && e.Sync == sync }
}

// TestWatcher: interface down/up and an address removed by hand are
// reported for the watched interface; the VIP is then put back.
func TestWatcher(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	var (
		mu   sync.Mutex
		seen []netlink.Event
	)
	_, next := watch(t, netlink.WatcherConfig{Netns: nsPath(h), Interface: "eth0"}, nil)
	record := func(what string, want func(netlink.Event) bool) netlink.Event {
		t.Helper()
		e := next(what, func(e netlink.Event) bool {
			mu.Lock()
			seen = append(seen, e)
			mu.Unlock()
			return want(e)
		})
		return e
	}

	e := record("initial eth0", is(netlink.InterfaceAdded, true))
	if e.Interface != "eth0" || !e.Up {
		t.Errorf("initial interface event %v, want eth0 up", e)
	}
	record("initial address", isAddr(netlink.AddrAdded, h.Addr4, true))
	record("initial sync", is(netlink.Synced, true))

	ip(t, h, "link", "set", "eth0", "down")
	e = record("interface down", is(netlink.InterfaceDown, false))
	if e.Interface != "eth0" || e.Up {
		t.Errorf("%v", e)
	}
	ip(t, h, "link", "set", "eth0", "up")
	record("interface up", is(netlink.InterfaceUp, false))

	m, err := netlink.NewAddrManager(netlink.AddrConfig{Interface: "eth0", Netns: nsPath(h)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	vip := pfx("192.0.2.100/24")
	if err := m.AddVIPs(t.Context(), []netip.Prefix{vip}, true); err != nil {
		t.Fatal(err)
	}
	record("VIP added", isAddr(netlink.AddrAdded, vip, false))
	ip(t, h, "addr", "del", vip.String(), "dev", "eth0")
	record("VIP removed by hand", isAddr(netlink.AddrRemoved, vip, false))
	// What the supervisor does: see it missing, put it back.
	if has, err := m.Has(t.Context(), vip); err != nil || has {
		t.Fatalf("Has after removal: %t, %v", has, err)
	}
	if err := m.AddVIPs(t.Context(), []netip.Prefix{vip}, true); err != nil {
		t.Fatal(err)
	}
	record("VIP back", isAddr(netlink.AddrAdded, vip, false))

	mu.Lock()
	defer mu.Unlock()
	for _, e := range seen {
		if e.Kind != netlink.Synced && e.Interface != "eth0" {
			t.Errorf("event for another interface despite the filter: %v", e)
		}
	}
}

// TestWatcherDADFailure: host 2 adds an address host 1 already has, with
// duplicate address detection on; the watcher reports the failure.
func TestWatcherDADFailure(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 2)
	h1, h2 := seg.Hosts[0], seg.Hosts[1]
	dup := pfx("2001:db8::55/64")
	ip(t, h1, "addr", "add", dup.String(), "dev", "eth0", "nodad")
	sysctl(t, h2, "net.ipv6.conf.eth0.accept_dad=1")
	_, next := watch(t, netlink.WatcherConfig{Netns: nsPath(h2), Interface: "eth0"}, nil)
	next("initial sync", is(netlink.Synced, true))
	ip(t, h2, "addr", "add", dup.String(), "dev", "eth0")
	e := next("tentative address", isAddr(netlink.AddrAdded, dup, false))
	if !e.Flags.Tentative() {
		t.Errorf("added %v not tentative", e)
	}
	e = next("DAD failure", isAddr(netlink.AddrDADFailed, dup, false))
	if !e.Flags.DADFailed() || e.Interface != "eth0" {
		t.Errorf("%v", e)
	}
	if out := ip(t, h2, "-6", "addr", "show", "dev", "eth0"); !strings.Contains(out, "dadfailed") {
		t.Errorf("ip(8) does not show the DAD failure:\n%s", out)
	}
}

// TestWatcherResync: after a forced resubscription, changes made while
// unsubscribed are delivered as differences, marked Sync.
func TestWatcherResync(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	gone, kept, added := pfx("198.51.100.7/24"), h.Addr4, pfx("203.0.113.9/24")
	ip(t, h, "addr", "add", gone.String(), "dev", "eth0")
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	w, next := watch(t, netlink.WatcherConfig{Netns: nsPath(h)}, func(w *netlink.Watcher) {
		w.SetResubscribeHook(func() {
			once.Do(func() { // only the first resubscription waits
				close(entered)
				<-release
			})
		})
	})
	next("initial sync", is(netlink.Synced, true))
	if st := w.Stats(); st.Subscriptions != 1 || st.Resyncs != 0 {
		t.Errorf("stats after start %+v", st)
	}

	w.Resync()
	<-entered // the subscriptions are closed; the watcher waits to resubscribe
	ip(t, h, "addr", "del", gone.String(), "dev", "eth0")
	ip(t, h, "addr", "add", added.String(), "dev", "eth0")
	ip(t, h, "link", "set", "eth0", "down")
	close(release)

	var evs []string
	for {
		e := next("resync events", func(netlink.Event) bool { return true })
		if !e.Sync {
			continue // notifications of the interface going down, after the listing
		}
		if e.Kind == netlink.Synced {
			break
		}
		evs = append(evs, e.String())
	}
	want := []string{
		"interface-down eth0(2) up=false (sync)",
		"addr-removed eth0(2) " + gone.String() + " [permanent] (sync)",
		"addr-added eth0(2) " + added.String() + " [permanent] (sync)",
	}
	// IPv6 addresses may also go with the interface (keep_addr_on_down=0).
	var got []string
	for _, e := range evs {
		if !strings.Contains(e, "addr-removed eth0(2) 2001:db8:") && !strings.Contains(e, "addr-removed eth0(2) fe80:") {
			got = append(got, e)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("resync events\n got %q\nwant %q", got, want)
	}
	if ok, _ := h.HasAddr(kept.Addr()); !ok {
		t.Fatal("test setup: host address gone")
	}
	if st := w.Stats(); st.Subscriptions != 2 || st.Resyncs != 1 || st.Errors != 0 {
		t.Errorf("stats after resync %+v, want 2 subscriptions, 1 resync, no errors", st)
	}
}

// stallFirstUpdate returns a setup for watch whose watcher, at its first
// notification, stalls until release is closed (or the watcher stops):
// the kernel subscriptions' goroutines then block on full channels and
// their sockets fill.
func stallFirstUpdate(release <-chan struct{}) func(*netlink.Watcher) {
	var once sync.Once
	return func(w *netlink.Watcher) {
		w.SetUpdateHook(func(ctx context.Context) {
			once.Do(func() {
				select {
				case <-release:
				case <-ctx.Done():
				}
			})
		})
	}
}

// addrBatch adds n addresses (198.18.1.1/32 on) to h's eth0 in one ip
// -batch run and returns them.
func addrBatch(t *testing.T, h *nstest.Host, n int) map[netip.Prefix]bool {
	t.Helper()
	var batch strings.Builder
	added := map[netip.Prefix]bool{}
	for i := range n {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(1 + i/250), byte(1 + i%250)}), 32)
		added[p] = true
		fmt.Fprintf(&batch, "addr add %s dev eth0\n", p)
	}
	file := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(file, []byte(batch.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ip(t, h, "-batch", file)
	return added
}

// TestWatcherOverflow: with a tiny socket buffer and a watcher stalled, a
// burst of 300 address changes overflows the kernel subscription
// (ENOBUFS); the watcher resubscribes and still reports every address.
func TestWatcherOverflow(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	release := make(chan struct{})
	w, next := watch(t, netlink.WatcherConfig{Netns: nsPath(h), Interface: "eth0", ReceiveBufferSize: 1}, stallFirstUpdate(release))
	next("initial sync", is(netlink.Synced, true))
	want := addrBatch(t, h, 300) // meanwhile the watcher is stalled
	close(release)

	var sawResync bool
	for len(want) > 0 || !sawResync {
		e := next(fmt.Sprintf("%d more addresses and a resync", len(want)), func(netlink.Event) bool { return true })
		switch {
		case e.Kind == netlink.AddrAdded:
			delete(want, e.Addr)
		case e.Kind == netlink.Synced && w.Stats().Resyncs > 0:
			sawResync = true
		}
	}
	st := w.Stats()
	if st.Overflows == 0 || st.Resyncs == 0 {
		t.Errorf("stats %+v, want an overflow and a resync", st)
	}
	t.Logf("stats %+v", st)
}

// TestWatcherStopsWhileBlocked: stopping a stalled watcher, with the
// kernel subscriptions' goroutines blocked on full channels, still ends
// every goroutine (noLeaks, and watch's cleanup waits for Run).
func TestWatcherStopsWhileBlocked(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	// Never released: the watcher's context ends the stall.
	w, next := watch(t, netlink.WatcherConfig{Netns: nsPath(h)}, stallFirstUpdate(nil))
	next("initial sync", is(netlink.Synced, true))
	listed := w.Stats().Events
	addrBatch(t, h, 300)
	if st := w.Stats(); st.Events != listed {
		t.Errorf("%d events published by a stalled watcher", st.Events-listed)
	}
}

// TestWatcherSlowSubscriber: a subscriber that does not read never holds
// the watcher up. Its queue keeps the latest events and counts the
// dropped ones; it recovers with Snapshot, which holds every address,
// while another subscription received every event. (50 addresses: too
// few to overflow the kernel subscription's default socket buffer, so
// every event is a notification and the last one is the last address.)
func TestWatcherSlowSubscriber(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	var slow *netlink.Subscription
	w, next := watch(t, netlink.WatcherConfig{Netns: nsPath(h), Interface: "eth0"}, func(w *netlink.Watcher) {
		slow = w.Subscribe(2)
		if snap := w.Snapshot(); snap != nil {
			t.Errorf("Snapshot before Run: %v, want nil", snap)
		}
	})
	next("initial sync", is(netlink.Synced, true))
	all := addrBatch(t, h, 50)
	want := maps.Clone(all)
	for n := len(want); n > 0; n-- {
		e := next(fmt.Sprintf("%d more addresses", n), func(e netlink.Event) bool { return e.Kind == netlink.AddrAdded && want[e.Addr] })
		delete(want, e.Addr)
	}
	// The fast subscriber has seen the last address: so has the slow
	// one's queue, which kept the latest two events.
	published := w.Stats().Events
	if d := slow.Dropped(); d != published-2 {
		t.Errorf("slow subscriber dropped %d of %d events, want all but its queue of 2", d, published)
	}
	if st := w.Stats(); st.Dropped != slow.Dropped() {
		t.Errorf("stats %+v: Dropped %d, want the slow subscriber's %d", st, st.Dropped, slow.Dropped())
	}
	<-slow.C()
	if last := <-slow.C(); last.Kind != netlink.AddrAdded || last.Addr != pfx("198.18.1.50/32") {
		t.Errorf("slow subscriber's latest event %v, want the last address added", last)
	}
	snap := w.Snapshot()
	addrs := map[netip.Prefix]bool{}
	for i, e := range snap {
		if !e.Sync || (e.Interface != "eth0" && e.Kind != netlink.Synced) {
			t.Errorf("snapshot event %v: want eth0's, with Sync", e)
		}
		switch {
		case i == 0 && (e.Kind != netlink.InterfaceAdded || !e.Up):
			t.Errorf("snapshot starts with %v, want eth0 added, up", e)
		case e.Kind == netlink.AddrAdded:
			addrs[e.Addr] = true
		}
	}
	if len(snap) == 0 || snap[len(snap)-1].Kind != netlink.Synced {
		t.Errorf("snapshot does not end with Synced: %v", snap)
	}
	for p := range all {
		if !addrs[p] {
			t.Errorf("snapshot lacks %v", p)
		}
	}
	if !addrs[h.Addr4] {
		t.Errorf("snapshot lacks eth0's own %v", h.Addr4)
	}
	slow.Close()
	slow.Close()
	if _, ok := <-slow.C(); ok {
		t.Error("slow subscription open after Close")
	}
}

// TestWatcherPeriodicResync: with a short ResyncInterval, a quiet watcher
// resubscribes and re-lists on its own, and a listing that finds nothing
// new delivers only Synced.
func TestWatcherPeriodicResync(t *testing.T) {
	noLeaks(t)
	seg := nstest.NewSegment(t, 1)
	h := seg.Hosts[0]
	w, next := watch(t, netlink.WatcherConfig{Netns: nsPath(h), ResyncInterval: 50 * time.Millisecond}, nil)
	next("initial sync", is(netlink.Synced, true))
	for i := range 2 {
		e := next("a quiet resync", func(netlink.Event) bool { return true })
		if e.Kind != netlink.Synced {
			t.Errorf("resync %d delivered %v; nothing changed", i+1, e)
		}
	}
	if st := w.Stats(); st.Resyncs < 2 || st.Errors != 0 || st.Overflows != 0 {
		t.Errorf("stats %+v, want 2 or more resyncs and no errors", st)
	}
}
