package netlink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/internal/logx"
)

// Timing is when an Announcer sends, in keepalived's terms. The zero value
// is keepalived's defaults: one burst of 5 packets per address at once,
// a second burst 5 s later, no refresh.
type Timing struct {
	// InitialDelay is the wait before the first burst.
	InitialDelay time.Duration
	// Repeat is the packets per address in each of the two bursts
	// (garp_master_repeat); 0 means 5.
	Repeat int
	// Interval is the gap between consecutive packets (garp_interval,
	// gna_interval); 0 sends back to back.
	Interval time.Duration
	// SecondDelay is when the second burst starts, counted from the
	// first (garp_master_delay); 0 means 5 s, negative means no second
	// burst.
	SecondDelay time.Duration
	// RefreshInterval repeats announcements while the announcement lasts
	// (garp_master_refresh), counted from the first burst; 0 means never.
	RefreshInterval time.Duration
	// RefreshRepeat is the packets per address in each refresh
	// (garp_master_refresh_repeat); 0 means 1.
	RefreshRepeat int
}

// Keepalived's defaults.
const (
	DefaultRepeat      = 5
	DefaultSecondDelay = 5 * time.Second
)

func (t Timing) check() error {
	if t.InitialDelay < 0 || t.Repeat < 0 || t.Interval < 0 || t.RefreshInterval < 0 || t.RefreshRepeat < 0 {
		return fmt.Errorf("negative timing value in %+v", t)
	}
	return nil
}

// resolved returns t with the defaults filled in (SecondDelay 0 meaning
// none).
func (t Timing) resolved() Timing {
	if t.Repeat == 0 {
		t.Repeat = DefaultRepeat
	}
	switch {
	case t.SecondDelay == 0:
		t.SecondDelay = DefaultSecondDelay
	case t.SecondDelay < 0:
		t.SecondDelay = 0
	}
	if t.RefreshRepeat == 0 {
		t.RefreshRepeat = 1
	}
	return t
}

// AnnouncerStats are an Announcer's counters since it was created.
type AnnouncerStats struct {
	// Announcements counts accepted Announce calls.
	Announcements uint64
	// Bursts counts bursts started (first, second and refreshes).
	Bursts uint64
	// ARPSent and NASent count frames sent.
	ARPSent, NASent uint64
	// Retries counts frames sent again at once after a send failed: a
	// packet socket keeps an error from a past state of its interface
	// (ENETDOWN after the interface went down) and returns it to the next
	// send, however long ago the interface came back.
	Retries uint64
	// Reopens counts times the sockets were opened again because the
	// interface they were bound to was deleted and created again.
	Reopens uint64
	// Errors counts frames that could not be sent, retry and reopen
	// included.
	Errors uint64
}

// sender sends whole Ethernet frames on one interface.
type sender interface {
	send(ipv6 bool, frame []byte) error
	// reopen opens the sockets again on the interface of the same name
	// (after it was deleted and created again) and returns its MAC.
	reopen() (net.HardwareAddr, error)
	close() error
}

// errGone reports whether err says the interface a socket was bound to no
// longer exists (it was deleted, perhaps created again with a new index).
func errGone(err error) bool {
	return errors.Is(err, syscall.ENXIO) || errors.Is(err, syscall.ENODEV)
}

// announcer is the OS-independent core of Announcer: the schedule, the
// counters and the goroutines, over a sender.
type announcer struct {
	link   string
	timing Timing // resolved
	out    sender
	log    *slog.Logger
	// fixedMAC is set when the configuration named the sender MAC; else
	// the MAC follows the interface when the sockets are reopened.
	fixedMAC bool
	mac      atomic.Pointer[net.HardwareAddr]
	reopenMu sync.Mutex // one reopen at a time

	mu     sync.Mutex // guards closed, active, idle
	closed bool
	active int
	idle   chan struct{} // closed when active drops to 0
	stop   chan struct{} // closed by close

	announcements, bursts, arpSent, naSent, errs, retries, reopens atomic.Uint64
}

func newAnnouncer(link string, mac net.HardwareAddr, fixedMAC bool, t Timing, out sender, log *slog.Logger) *announcer {
	a := &announcer{link: link, timing: t.resolved(), out: out, stop: make(chan struct{}),
		log: logx.OrDiscard(log).With("interface", link), fixedMAC: fixedMAC}
	a.mac.Store(&mac)
	return a
}

func (a *announcer) currentMAC() net.HardwareAddr { return *a.mac.Load() }

type frame struct {
	addr netip.Addr
	ipv6 bool
	mac  net.HardwareAddr // the sender MAC b was built with
	b    []byte
}

func (a *announcer) announce(ctx context.Context, addrs []netip.Addr) error {
	frames := make([]frame, 0, len(addrs))
	mac := a.currentMAC()
	for _, ip := range addrs {
		b, err := announcement(mac, ip)
		if err != nil {
			return fmt.Errorf("netlink: announce on %s: %w", a.link, err)
		}
		ip = ip.Unmap()
		frames = append(frames, frame{addr: ip, ipv6: ip.Is6(), mac: mac, b: b})
	}
	if len(frames) == 0 {
		return nil
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return fmt.Errorf("netlink: announce on %s: %w", a.link, ErrClosed)
	}
	if a.active == 0 {
		a.idle = make(chan struct{})
	}
	a.active++
	a.mu.Unlock()
	a.announcements.Add(1)
	sent := 0
	if a.timing.InitialDelay <= 0 && ctx.Err() == nil {
		// The first frame goes out before Announce returns: the segment
		// learns of the new master without waiting for a goroutine to be
		// scheduled. The rest of the burst follows from run.
		a.sendFrame(&frames[0])
		sent = 1
	}
	go a.run(ctx, frames, sent)
	return nil
}

// run sends the bursts for one announcement until its schedule ends, ctx
// is done or the announcer is closed.
func (a *announcer) run(ctx context.Context, frames []frame, sent int) {
	defer a.done()
	t := a.timing
	if !a.sleep(ctx, t.InitialDelay) {
		return
	}
	start := time.Now()
	if !a.burstFrom(ctx, frames, t.Repeat, sent) {
		return
	}
	var second, refresh time.Time
	if t.SecondDelay > 0 {
		second = start.Add(t.SecondDelay)
	}
	if t.RefreshInterval > 0 {
		refresh = start.Add(t.RefreshInterval)
	}
	for !second.IsZero() || !refresh.IsZero() {
		if !second.IsZero() && (refresh.IsZero() || !refresh.Before(second)) {
			if !a.sleep(ctx, time.Until(second)) || !a.burst(ctx, frames, t.Repeat) {
				return
			}
			second = time.Time{}
			continue
		}
		if !a.sleep(ctx, time.Until(refresh)) || !a.burst(ctx, frames, t.RefreshRepeat) {
			return
		}
		refresh = refresh.Add(t.RefreshInterval)
		if now := time.Now(); refresh.Before(now) {
			refresh = now.Add(t.RefreshInterval) // fell behind: skip, don't catch up
		}
	}
}

func (a *announcer) done() {
	a.mu.Lock()
	a.active--
	if a.active == 0 {
		close(a.idle)
	}
	a.mu.Unlock()
}

// burst sends repeat rounds of frames, in order, Interval apart. It
// reports false if ctx ended or the announcer closed.
func (a *announcer) burst(ctx context.Context, frames []frame, repeat int) bool {
	return a.burstFrom(ctx, frames, repeat, 0)
}

// burstFrom is burst whose first sent packets have already gone out.
func (a *announcer) burstFrom(ctx context.Context, frames []frame, repeat, sent int) bool {
	a.bursts.Add(1)
	i := 0
	for range repeat {
		for j := range frames {
			f := &frames[j]
			i++
			if i <= sent {
				continue
			}
			if i > 1 && a.timing.Interval > 0 {
				if !a.sleep(ctx, a.timing.Interval) {
					return false
				}
			} else if ctx.Err() != nil || a.stopped() {
				return false
			}
			a.sendFrame(f)
		}
	}
	return true
}

// sendFrame sends one frame and counts it (or its error). Every frame the
// protocol asks for must reach the wire if the interface can carry it, so
// a failed send is tried again at once: the failure may be an error the
// socket kept from a past state of the interface (ENETDOWN from when it
// was down), which the failed call has consumed. If the interface the
// sockets were bound to is gone (deleted, perhaps created again), they
// are reopened on the interface of the same name and the frame is sent
// there. Only what still fails is an error.
func (a *announcer) sendFrame(f *frame) {
	a.rebuild(f) // the sockets may have been reopened on a new MAC
	err := a.out.send(f.ipv6, f.b)
	if err != nil && !errGone(err) {
		a.retries.Add(1)
		err = a.out.send(f.ipv6, f.b)
	}
	if err != nil && errGone(err) {
		if rerr := a.reopen(); rerr != nil {
			err = fmt.Errorf("%w; reopening on %s: %w", err, a.link, rerr)
		} else {
			a.rebuild(f)
			err = a.out.send(f.ipv6, f.b)
		}
	}
	if err != nil {
		if n := a.errs.Add(1); logx.Sampled(n) {
			a.log.Warn("netlink: sending announcement failed", "addr", f.addr, "err", err, "errors", n)
		}
		return
	}
	if f.ipv6 {
		a.naSent.Add(1)
	} else {
		a.arpSent.Add(1)
	}
}

// reopen opens the sockets again on the interface of a.link's name and,
// unless the MAC was configured, takes its MAC for later frames.
func (a *announcer) reopen() error {
	a.reopenMu.Lock()
	defer a.reopenMu.Unlock()
	mac, err := a.out.reopen()
	if err != nil {
		return err
	}
	a.reopens.Add(1)
	if !a.fixedMAC && len(mac) == 6 {
		a.mac.Store(&mac)
	}
	a.log.Info("netlink: the interface was created again; announcer sockets reopened", "mac", a.currentMAC())
	return nil
}

// rebuild makes f's frame again if the sender MAC changed since it was
// built.
func (a *announcer) rebuild(f *frame) {
	mac := a.currentMAC()
	if bytes.Equal(mac, f.mac) {
		return
	}
	if b, err := announcement(mac, f.addr); err == nil {
		f.mac, f.b = mac, b
	}
}

func (a *announcer) stopped() bool {
	select {
	case <-a.stop:
		return true
	default:
		return false
	}
}

// sleep waits d; it reports false if ctx ended or the announcer closed.
func (a *announcer) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil && !a.stopped()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-a.stop:
		return false
	}
}

// wait blocks until no announcement is running.
func (a *announcer) wait() {
	a.mu.Lock()
	if a.active == 0 {
		a.mu.Unlock()
		return
	}
	idle := a.idle
	a.mu.Unlock()
	<-idle
}

// close stops every announcement, waits for them and closes the sender.
func (a *announcer) close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	close(a.stop)
	a.mu.Unlock()
	a.wait()
	if err := a.out.close(); err != nil {
		return fmt.Errorf("netlink: announcer on %s: close: %w", a.link, err)
	}
	return nil
}

func (a *announcer) stats() AnnouncerStats {
	return AnnouncerStats{Announcements: a.announcements.Load(), Bursts: a.bursts.Load(),
		ARPSent: a.arpSent.Load(), NASent: a.naSent.Load(), Errors: a.errs.Load(),
		Retries: a.retries.Load(), Reopens: a.reopens.Load()}
}
