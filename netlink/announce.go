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

	"github.com/vigil-ha/vigil/internal/counter"
	"github.com/vigil-ha/vigil/internal/logx"
)

// resolved returns t with the defaults filled in (SecondDelay 0 meaning
// none).
func (t AnnounceTiming) resolved() AnnounceTiming {
	switch {
	case t.Repeat == 0:
		t.Repeat = DefaultRepeat
	case t.Repeat < 0:
		t.Repeat = 0
	}
	t.InitialDelay = max(t.InitialDelay, 0)
	t.Interval = max(t.Interval, 0)
	t.RefreshInterval = max(t.RefreshInterval, 0)
	switch {
	case t.SecondDelay == 0:
		t.SecondDelay = DefaultSecondDelay
	case t.SecondDelay < 0:
		t.SecondDelay = 0
	}
	switch {
	case t.RefreshRepeat == 0:
		t.RefreshRepeat = 1
	case t.RefreshRepeat < 0:
		t.RefreshRepeat, t.RefreshInterval = 0, 0
	}
	return t
}

// lowerPrio returns the timing of an AnnounceLowerPrio call from the
// resolved timing t: its own repeat and second delay, sent at once, no
// refresh (keepalived's vrrp_send_link_update and
// vrrp_lower_prio_gratuitous_arp_thread).
func (t AnnounceTiming) lowerPrio() AnnounceTiming {
	switch {
	case t.LowerPrioRepeat > 0:
		t.Repeat = t.LowerPrioRepeat
	case t.LowerPrioRepeat < 0:
		t.Repeat = 0
	}
	switch {
	case t.LowerPrioDelay > 0:
		t.SecondDelay = t.LowerPrioDelay
	case t.LowerPrioDelay < 0:
		t.SecondDelay = 0
	}
	t.InitialDelay, t.RefreshInterval, t.RefreshRepeat = 0, 0, 0
	return t
}

// AnnouncerStats are an Announcer's counters since it was created: a
// snapshot, see Announcer.Stats.
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
// counters and the scheduler (announce_sched.go), over a sender.
type announcer struct {
	iface  string
	timing AnnounceTiming // resolved
	out    sender
	log    *slog.Logger
	// fixedMAC is set when the configuration named the sender MAC; else
	// the MAC follows the interface when the sockets are reopened.
	fixedMAC bool
	mac      atomic.Pointer[net.HardwareAddr]
	reopenMu sync.Mutex // one reopen at a time

	mu     sync.Mutex // guards closed, active, idle and the scheduler's fields
	closed bool
	active int
	idle   chan struct{} // closed when active drops to 0
	// stopped is done once close was called; every announcement's
	// context ends with it.
	stopped context.Context
	stop    context.CancelFunc

	counters announcerCounters
	box      *outbox // news first, no handoff per frame (announce_outbox.go)

	// The scheduler (announce_sched.go); jobs, running and seq are
	// guarded by mu.
	jobs    jobHeap
	running bool
	seq     uint64
	wake    chan struct{}
}

// announcerCounters are the live counters of AnnouncerStats.
type announcerCounters struct {
	Announcements, Bursts, ARPSent, NASent, Retries, Reopens, Errors atomic.Uint64
}

func newAnnouncer(iface string, mac net.HardwareAddr, fixedMAC bool, t AnnounceTiming, out sender, log *slog.Logger) *announcer {
	a := &announcer{iface: iface, timing: t.resolved(), out: out,
		log: logx.OrDiscard(log).With("interface", iface), fixedMAC: fixedMAC, box: newOutbox(),
		wake: make(chan struct{}, 1)}
	a.stopped, a.stop = context.WithCancel(context.Background())
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
	return a.announceWith(ctx, addrs, a.timing)
}

// announceLowerPrio is announce with the timing of lowerPrio; with no
// packets to send (LowerPrioRepeat negative) it does nothing.
func (a *announcer) announceLowerPrio(ctx context.Context, addrs []netip.Addr) error {
	t := a.timing.lowerPrio()
	if t.Repeat <= 0 {
		return nil
	}
	return a.announceWith(ctx, addrs, t)
}

// announceWith is announce with timing t (resolved).
func (a *announcer) announceWith(ctx context.Context, addrs []netip.Addr, t AnnounceTiming) error {
	frames := make([]frame, 0, len(addrs))
	mac := a.currentMAC()
	for _, ip := range addrs {
		b, err := announcement(mac, ip)
		if err != nil {
			return fmt.Errorf("netlink: announce on %s: %w", a.iface, err)
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
		return fmt.Errorf("netlink: announce on %s: %w", a.iface, ErrClosed)
	}
	if a.active == 0 {
		a.idle = make(chan struct{})
	}
	a.active++
	a.mu.Unlock()
	a.counters.Announcements.Add(1)
	if ctx.Err() != nil {
		a.done()
		return nil
	}
	j := &job{ctx: ctx, t: t, frames: frames}
	if now := time.Now(); t.InitialDelay > 0 || t.Repeat <= 0 {
		j.due = now.Add(t.InitialDelay)
	} else {
		// The first frame goes out before Announce returns: the segment
		// learns of the new master without waiting for a goroutine to be
		// scheduled. The rest follows from the announcer's scheduler
		// (announce_sched.go).
		a.begin(j, now)
		a.box.post(ctx, &frames[0], true, a.sendFrame)
		j.i = 1
		j.due = time.Now()
	}
	a.add(j)
	return nil
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
		a.counters.Retries.Add(1)
		err = a.out.send(f.ipv6, f.b)
	}
	if err != nil && errGone(err) {
		if rerr := a.reopen(); rerr != nil {
			err = fmt.Errorf("%w; reopening on %s: %w", err, a.iface, rerr)
		} else {
			a.rebuild(f)
			err = a.out.send(f.ipv6, f.b)
		}
	}
	if err != nil {
		if n := a.counters.Errors.Add(1); logx.Sampled(n) {
			a.log.Warn("netlink: sending announcement failed", "addr", f.addr, "err", err, "errors", n)
		}
		return
	}
	if f.ipv6 {
		a.counters.NASent.Add(1)
	} else {
		a.counters.ARPSent.Add(1)
	}
}

// reopen opens the sockets again on the interface of a.iface's name and,
// unless the MAC was configured, takes its MAC for later frames.
func (a *announcer) reopen() error {
	a.reopenMu.Lock()
	defer a.reopenMu.Unlock()
	mac, err := a.out.reopen()
	if err != nil {
		return err
	}
	a.counters.Reopens.Add(1)
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
	a.stop()
	a.mu.Unlock()
	a.wait()
	if err := a.out.close(); err != nil {
		return fmt.Errorf("netlink: announcer on %s: close: %w", a.iface, err)
	}
	return nil
}

func (a *announcer) stats() AnnouncerStats {
	return counter.Snapshot[AnnouncerStats](&a.counters)
}
