package netlink

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/internal/goroutines"
)

// fakeSender records frames with the (bubble) time they were sent.
type fakeSender struct {
	mu     sync.Mutex
	start  time.Time
	sent   []sentFrame
	fail   bool
	closed bool
	// pending is an error the socket kept from a past state of its
	// interface: the next send returns it, once.
	pending error
	// gone: the interface the sockets are bound to was deleted; sends
	// fail with ENXIO until reopen, which gives newMAC (or reopenErr).
	gone      bool
	newMAC    net.HardwareAddr
	reopenErr error
	attempts  int
	reopens   int
}

type sentFrame struct {
	at   time.Duration // since start
	ipv6 bool
	b    []byte
}

func (f *fakeSender) send(ipv6 bool, b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if err := f.pending; err != nil {
		f.pending = nil
		return err
	}
	if f.gone {
		return syscall.ENXIO
	}
	if f.fail {
		return errors.New("injected send failure")
	}
	f.sent = append(f.sent, sentFrame{at: time.Since(f.start), ipv6: ipv6, b: bytes.Clone(b)})
	return nil
}

func (f *fakeSender) reopen() (net.HardwareAddr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reopenErr != nil {
		return nil, f.reopenErr
	}
	f.reopens++
	f.gone = false
	return f.newMAC, nil
}

func (f *fakeSender) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeSender) frames() []sentFrame {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentFrame(nil), f.sent...)
}

var testMAC = net.HardwareAddr{0x02, 0, 0, 0, 0x01, 0x01}

// TestAnnounceDefaultsMatchKeepalived: with the zero Timing, the first
// burst is keepalived's frames 4-13 of capture a, byte for byte and in
// order, all at once; the second burst follows 5 s later; then nothing.
func TestAnnounceDefaultsMatchKeepalived(t *testing.T) {
	capture := captureFrames(t, "a-v2-ipv4-mcast.pcap")
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeSender{start: time.Now()}
		a := newAnnouncer("eth0", testMAC, false, AnnounceTiming{}, fs, nil)
		vips := []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.101")}
		if err := a.announce(t.Context(), vips); err != nil {
			t.Fatal(err)
		}
		a.wait() // no refresh: the schedule ends by itself
		got := fs.frames()
		if len(got) != 20 {
			t.Fatalf("sent %d frames, want 2 bursts x 5 rounds x 2 VIPs = 20", len(got))
		}
		for i, f := range got {
			want := capture[4+i%10]
			if !bytes.Equal(f.b, want) {
				t.Errorf("frame %d: %x, want keepalived's %x", i, f.b, want)
			}
			wantAt := time.Duration(0)
			if i >= 10 {
				wantAt = DefaultSecondDelay
			}
			if f.at != wantAt {
				t.Errorf("frame %d sent at %v, want %v", i, f.at, wantAt)
			}
		}
		if st := a.stats(); st.ARPSent != 20 || st.NASent != 0 || st.Bursts != 2 || st.Announcements != 1 || st.Errors != 0 {
			t.Errorf("stats %+v", st)
		}
		if err := a.close(); err != nil || !fs.closed {
			t.Errorf("close: %v, sender closed %t", err, fs.closed)
		}
	})
}

// TestAnnounceSchedule checks every knob's exact timing: initial delay,
// interval between packets, second burst, refreshes with their own repeat,
// and that cancelling the context stops everything.
func TestAnnounceSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeSender{start: time.Now()}
		tm := AnnounceTiming{InitialDelay: 100 * time.Millisecond, Repeat: 2, Interval: 10 * time.Millisecond,
			SecondDelay: 3 * time.Second, RefreshInterval: 2 * time.Second, RefreshRepeat: 1}
		a := newAnnouncer("eth0", testMAC, false, tm, fs, nil)
		v4, v6 := netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("2001:db8::100")
		ctx, cancel := context.WithCancel(t.Context())
		if err := a.announce(ctx, []netip.Addr{v4, v6}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(7*time.Second + 50*time.Millisecond)
		cancel()
		a.wait()
		ms := time.Millisecond
		type want struct {
			at   time.Duration
			ipv6 bool
		}
		wants := []want{
			// first burst at 100 ms: v4 v6 v4 v6, 10 ms apart
			{100 * ms, false}, {110 * ms, true}, {120 * ms, false}, {130 * ms, true},
			// refresh at 100 ms + 2 s, one round
			{2100 * ms, false}, {2110 * ms, true},
			// second burst at 100 ms + 3 s
			{3100 * ms, false}, {3110 * ms, true}, {3120 * ms, false}, {3130 * ms, true},
			// refreshes at +4 s and +6 s
			{4100 * ms, false}, {4110 * ms, true},
			{6100 * ms, false}, {6110 * ms, true},
		}
		got := fs.frames()
		if len(got) != len(wants) {
			for _, f := range got {
				t.Logf("sent at %v ipv6=%t", f.at, f.ipv6)
			}
			t.Fatalf("sent %d frames, want %d", len(got), len(wants))
		}
		gv4, _ := GratuitousARP(testMAC, v4)
		gv6, _ := UnsolicitedNA(testMAC, v6)
		for i, w := range wants {
			f := got[i]
			wb := gv4
			if w.ipv6 {
				wb = gv6
			}
			if f.at != w.at || f.ipv6 != w.ipv6 || !bytes.Equal(f.b, wb) {
				t.Errorf("frame %d: at %v ipv6=%t, want at %v ipv6=%t (or bytes differ)", i, f.at, f.ipv6, w.at, w.ipv6)
			}
		}
		if st := a.stats(); st.ARPSent != 7 || st.NASent != 7 || st.Bursts != 5 {
			t.Errorf("stats %+v, want 7 ARP, 7 NA, 5 bursts", st)
		}
	})
}

// TestAnnounceCancelMidBurst: cancelling during a spaced burst stops it
// before the next packet, and the goroutine ends.
func TestAnnounceCancelMidBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeSender{start: time.Now()}
		a := newAnnouncer("eth0", testMAC, false, AnnounceTiming{Interval: time.Second}, fs, nil)
		ctx, cancel := context.WithCancel(t.Context())
		if err := a.announce(ctx, []netip.Addr{netip.MustParseAddr("192.0.2.7")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2500 * time.Millisecond) // packets at 0, 1 s, 2 s
		cancel()
		a.wait()
		time.Sleep(10 * time.Second)
		if n := len(fs.frames()); n != 3 {
			t.Errorf("sent %d frames, want 3 before the cancel and none after", n)
		}
	})
}

// TestAnnounceCloseStopsAll: Close ends every running announcement (with
// refresh, they would run forever), and Announce fails afterwards.
func TestAnnounceCloseStopsAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeSender{start: time.Now()}
		a := newAnnouncer("eth0", testMAC, false, AnnounceTiming{RefreshInterval: time.Second}, fs, nil)
		for i := range 3 {
			if err := a.announce(t.Context(), []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)})}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(1500 * time.Millisecond)
		if err := a.close(); err != nil {
			t.Fatal(err)
		}
		n := len(fs.frames())
		if n != 3*(5+1) {
			t.Errorf("sent %d frames by 1.5 s, want 3 x (5 + 1 refresh)", n)
		}
		synctest.Wait()
		time.Sleep(time.Minute)
		if len(fs.frames()) != n {
			t.Error("frames sent after Close")
		}
		if err := a.announce(t.Context(), []netip.Addr{netip.MustParseAddr("192.0.2.1")}); !errors.Is(err, ErrClosed) {
			t.Errorf("Announce after Close: %v, want ErrClosed", err)
		}
		if err := a.close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// TestAnnounceErrors: send failures are counted, not fatal; bad addresses
// fail Announce before anything is sent.
func TestAnnounceErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeSender{start: time.Now(), fail: true}
		a := newAnnouncer("eth0", testMAC, false, AnnounceTiming{SecondDelay: -1}, fs, nil)
		if err := a.announce(t.Context(), []netip.Addr{netip.MustParseAddr("192.0.2.1"), {}}); err == nil {
			t.Fatal("Announce accepted an invalid address")
		}
		if err := a.announce(t.Context(), nil); err != nil {
			t.Fatalf("Announce of nothing: %v", err)
		}
		if err := a.announce(t.Context(), []netip.Addr{netip.MustParseAddr("192.0.2.1")}); err != nil {
			t.Fatal(err)
		}
		a.wait()
		if st := a.stats(); st.Errors != 5 || st.Retries != 5 || st.ARPSent != 0 || st.Announcements != 1 || st.Bursts != 1 {
			t.Errorf("stats %+v, want 5 errors after 5 retries, 1 announcement, 1 burst (SecondDelay<0: none)", st)
		}
		if fs.attempts != 10 {
			t.Errorf("%d send attempts, want 10: each frame tried twice", fs.attempts)
		}
	})
}

// TestTimingResolved: zero is keepalived's default, negative turns the
// step off, with no exception.
func TestTimingResolved(t *testing.T) {
	for _, c := range []struct {
		in, want AnnounceTiming
	}{
		{AnnounceTiming{}, AnnounceTiming{Repeat: 5, SecondDelay: 5 * time.Second, RefreshRepeat: 1}},
		{AnnounceTiming{Repeat: -1, SecondDelay: -1}, AnnounceTiming{RefreshRepeat: 1}},
		{AnnounceTiming{InitialDelay: -1, Interval: -1, RefreshInterval: -1}, AnnounceTiming{Repeat: 5, SecondDelay: 5 * time.Second, RefreshRepeat: 1}},
		{AnnounceTiming{RefreshInterval: time.Second, RefreshRepeat: -1}, AnnounceTiming{Repeat: 5, SecondDelay: 5 * time.Second}},
	} {
		if err := (AnnouncerConfig{Interface: "eth0", Timing: c.in}).Validate(); err != nil {
			t.Errorf("%+v rejected: %v", c.in, err)
		}
		if got := c.in.resolved(); got != c.want {
			t.Errorf("%+v resolved to %+v, want %+v", c.in, got, c.want)
		}
	}
}

// TestAnnounceRepeatOff: a negative Repeat sends no burst.
func TestAnnounceRepeatOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeSender{start: time.Now()}
		a := newAnnouncer("eth0", testMAC, false, AnnounceTiming{Repeat: -1}, fs, nil)
		if err := a.announce(t.Context(), []netip.Addr{netip.MustParseAddr("192.0.2.1")}); err != nil {
			t.Fatal(err)
		}
		a.wait()
		if n := len(fs.frames()); n != 0 {
			t.Errorf("sent %d frames with Repeat -1, want none", n)
		}
	})
}

// TestAnnouncePendingErrorRetried: a packet socket keeps ENETDOWN from when
// its interface went down and returns it to the next send. With Repeat 1
// the one GARP and the one NA must still reach the wire: the failed send is
// tried again at once, and the retry is counted, not the error.
func TestAnnouncePendingErrorRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeSender{start: time.Now(), pending: syscall.ENETDOWN}
		a := newAnnouncer("eth0", testMAC, false, AnnounceTiming{Repeat: 1, SecondDelay: -1}, fs, nil)
		if err := a.announce(t.Context(), []netip.Addr{netip.MustParseAddr("192.0.2.100")}); err != nil {
			t.Fatal(err)
		}
		fs.mu.Lock()
		fs.pending = syscall.ENETDOWN // and again before the NA of a second announcement
		fs.mu.Unlock()
		if err := a.announce(t.Context(), []netip.Addr{netip.MustParseAddr("2001:db8::100")}); err != nil {
			t.Fatal(err)
		}
		a.wait()
		got := fs.frames()
		if len(got) != 2 || got[0].ipv6 || !got[1].ipv6 {
			t.Fatalf("sent %d frames (%+v), want the GARP then the NA", len(got), got)
		}
		if st := a.stats(); st.Retries != 2 || st.Errors != 0 || st.ARPSent != 1 || st.NASent != 1 || st.Reopens != 0 {
			t.Errorf("stats %+v, want 2 retries, no error, 1 ARP, 1 NA, no reopen", st)
		}
	})
}

// TestAnnounceReopensGoneInterface: the interface was deleted and created
// again (new index, new MAC): the send fails with ENXIO, the sockets are
// reopened on the interface of the same name, and the frame goes out with
// the new MAC. A configured MAC stays.
func TestAnnounceReopensGoneInterface(t *testing.T) {
	newMAC := net.HardwareAddr{0x02, 0, 0, 0, 0x02, 0x02}
	vip := netip.MustParseAddr("192.0.2.100")
	for _, fixed := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			fs := &fakeSender{start: time.Now(), gone: true, newMAC: newMAC}
			a := newAnnouncer("eth0", testMAC, fixed, AnnounceTiming{Repeat: 2, SecondDelay: -1}, fs, nil)
			if err := a.announce(t.Context(), []netip.Addr{vip}); err != nil {
				t.Fatal(err)
			}
			a.wait()
			want := newMAC
			if fixed {
				want = testMAC
			}
			wantFrame, err := announcement(want, vip)
			if err != nil {
				t.Fatal(err)
			}
			got := fs.frames()
			if len(got) != 2 {
				t.Fatalf("fixed MAC %v: sent %d frames, want 2", fixed, len(got))
			}
			for i, f := range got {
				if !bytes.Equal(f.b, wantFrame) {
					t.Errorf("fixed MAC %v: frame %d % x, want % x (sender MAC %v)", fixed, i, f.b, wantFrame, want)
				}
			}
			if st := a.stats(); st.Reopens != 1 || st.Errors != 0 || st.ARPSent != 2 || fs.reopens != 1 {
				t.Errorf("fixed MAC %v: stats %+v, want 1 reopen, 2 ARPs, no error", fixed, st)
			}
		})
	}
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeSender{start: time.Now(), gone: true, reopenErr: errors.New("no such interface")}
		a := newAnnouncer("eth0", testMAC, false, AnnounceTiming{Repeat: 1, SecondDelay: -1}, fs, nil)
		if err := a.announce(t.Context(), []netip.Addr{vip}); err != nil {
			t.Fatal(err)
		}
		a.wait()
		if st := a.stats(); st.Errors != 1 || st.Reopens != 0 || st.ARPSent != 0 {
			t.Errorf("interface still gone: stats %+v, want 1 error, no reopen", st)
		}
	})
}

// TestAnnounceNewsThenGiveWay: an announcement's first round (one frame
// per address: the news) goes out before the announcing goroutine gives
// way to the others that are ready, and its repeats after; a second
// burst does not give way.
func TestAnnounceNewsThenGiveWay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeSender{start: time.Now()}
		var at []int // frames sent when giveWay was called
		defer func(f func()) { giveWay = f }(giveWay)
		giveWay = func() { at = append(at, len(fs.frames())) }
		a := newAnnouncer("eth0", testMAC, false, AnnounceTiming{}, fs, nil)
		vips := []netip.Addr{netip.MustParseAddr("192.0.2.100"), netip.MustParseAddr("192.0.2.101")}
		if err := a.announce(t.Context(), vips); err != nil {
			t.Fatal(err)
		}
		a.wait()
		if len(fs.frames()) != 20 {
			t.Fatalf("sent %d frames, want 20", len(fs.frames()))
		}
		if len(at) != 1 || at[0] != len(vips) {
			t.Errorf("gave way with %v frames sent, want once, after the %d news frames", at, len(vips))
		}
		if err := a.close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAnnounceOneScheduler: announcements run on one goroutine, the
// announcer's scheduler, not on one each; it ends with the last
// announcement and starts again with the next. A cancelled announcement
// is dropped at once, not at its next due time, and announcements due
// together go in the order they came.
func TestAnnounceOneScheduler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeSender{start: time.Now()}
		a := newAnnouncer("eth0", testMAC, false, AnnounceTiming{Repeat: 2, RefreshInterval: time.Second}, fs, nil)
		base := goroutines.InBubble()
		const n = 50
		ctx, cancel := context.WithCancel(t.Context())
		for i := range n {
			if err := a.announce(ctx, []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})}); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if g := goroutines.InBubble() - base; g != 1 {
			t.Errorf("%d goroutines for %d announcements, want 1", g, n)
		}
		// Each: one frame at once, its repeat from the scheduler, the
		// repeats in the order the announcements came.
		got := fs.frames()
		if len(got) != 2*n {
			t.Fatalf("sent %d frames, want %d", len(got), 2*n)
		}
		var firsts, repeats []byte
		seen := map[byte]bool{}
		for _, f := range got {
			last := f.b[len(f.b)-1] // the target address's last byte
			if seen[last] {
				repeats = append(repeats, last)
			} else {
				firsts = append(firsts, last)
			}
			seen[last] = true
		}
		for i := range n {
			if want := byte(i + 1); firsts[i] != want || repeats[i] != want {
				t.Fatalf("first frames %v, repeats %v: not in the order the announcements came", firsts, repeats)
			}
		}
		time.Sleep(1500 * time.Millisecond) // one refresh each, of one frame
		if len(fs.frames()) != 3*n {
			t.Fatalf("sent %d frames by 1.5 s, want %d", len(fs.frames()), 3*n)
		}
		start := time.Now()
		cancel()
		a.wait() // the next refresh is 0.5 s away: not waited for
		if d := time.Since(start); d != 0 {
			t.Errorf("wait took %v after the cancel, want none", d)
		}
		synctest.Wait()
		if g := goroutines.InBubble() - base; g != 0 {
			t.Errorf("%d goroutines left after the last announcement ended, want none", g)
		}
		if err := a.announce(t.Context(), []netip.Addr{netip.MustParseAddr("192.0.2.200")}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if g := goroutines.InBubble() - base; g != 1 {
			t.Errorf("%d goroutines after a new announcement, want the scheduler again", g)
		}
		if err := a.close(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if g := goroutines.InBubble() - base; g != 0 {
			t.Errorf("%d goroutines after close, want none", g)
		}
	})
}
