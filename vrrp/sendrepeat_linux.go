//go:build linux

package vrrp

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A master sends the same advert every interval, and all its machine
// does at each Adver_Timer expiry is send it and arm the timer for the
// next. Waking each Router's loop for that (a timer, a dozen-case
// select, a step, a marshal) cost a master of 200 about a third of its
// CPU per advert, on top of the send itself (bench/README.md, "Repeats:
// adverts that wake no router"). So once the loop has stepped such an expiry, it
// hands the advert it sent to its Socket (SocketConn.sendRepeats), whose
// one sender goroutine sends it when due and every interval after, on
// the machine's schedule (nextAdver), with the Socket's other masters'
// adverts due at the same time (Timers.AdvertGrid puts them there) in
// one wake-up. The loop takes it back (takeBack) before it steps
// anything, learning when the next advert is due, and sends from then
// on itself.

// sendRepeats hands b, the advert the Conn's Router just sent to dst,
// to the Socket's sender: it is sent again at due, then every interval
// (on grid: Timers.AdvertGrid), until takeBack. Each send is counted in
// sent or, failed, given to failed (on the sender's goroutine).
func (c *SocketConn) sendRepeats(b []byte, dst netip.Addr, due time.Time, interval, grid time.Duration,
	sent *atomic.Uint64, failed func(netip.Addr, error)) {
	e := c.out.Load()
	if e == nil { // made for a master only: a backup's Conn stays small
		e = &outRepeat{c: c, i: -1}
		c.out.Store(e)
	}
	e.mu.Lock()
	e.b = append(e.b[:0], b...)
	e.dst, e.due, e.interval, e.grid = dst, due, interval, grid
	e.sent, e.failed = sent, failed
	e.taken = false
	e.mu.Unlock()
	c.s.sender.add(e, due)
	// A Conn closed meanwhile (a Router the Supervisor's watchdog
	// replaced, whose Conn was closed under it) sends nothing more:
	// Close's takeBack may have come before the add.
	select {
	case <-c.closed:
		c.takeBack()
	default:
	}
}

// takeBack stops the repeats sendRepeats started and returns when the
// next is due. Once it returns, none is sent.
func (c *SocketConn) takeBack() time.Time {
	e := c.out.Load()
	if e == nil {
		return time.Time{}
	}
	c.s.sender.remove(e)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.taken = true
	return e.due
}

// outRepeat is a Conn's advert repeated by the Socket's sender, made
// by the first sendRepeats. mu guards it; due advances only after the
// send.
type outRepeat struct {
	c        *SocketConn
	mu       sync.Mutex
	b        []byte
	dst      netip.Addr
	due      time.Time
	interval time.Duration
	grid     time.Duration
	taken    bool
	sent     *atomic.Uint64
	failed   func(netip.Addr, error)
	// key and i are the sender's (its mu): when the entry is due next,
	// its place in the heap (-1: not in it).
	key time.Time
	i   int
}

// repeatSender is a Socket's sender of its masters' repeated adverts: a
// goroutine while it has any.
type repeatSender struct {
	done    <-chan struct{} // the Socket's
	mu      sync.Mutex
	h       deadlines[*outRepeat]
	running bool
	wake    chan struct{}
	batch   []*outRepeat // the sender's: due this wake-up
	// The sender's, for one sendmmsg(2) of what is due: the messages,
	// their entries (each held, with its Conn's sendmsg, until the call
	// returns), the call (made once: a closure made per wake-up would
	// escape) and its result.
	mm     []unix.Mmsghdr
	held   []*outRepeat
	mmsg   func(fd uintptr)
	mmSent int
}

func (rs *repeatSender) add(e *outRepeat, due time.Time) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	e.key = due
	rs.h.set(e, &e.i, due)
	if !rs.running {
		rs.running = true
		if rs.wake == nil {
			rs.wake = make(chan struct{}, 1)
		}
		rs.done = e.c.s.done
		go rs.run()
		return
	}
	if rs.h.first() == e { // earlier than what the sender waits for
		select {
		case rs.wake <- struct{}{}:
		default:
		}
	}
}

func (rs *repeatSender) remove(e *outRepeat) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.h.remove(&e.i)
}

// run sends what is due, sleeps until the next is, and ends when it has
// nothing left to send or the Socket closes.
func (rs *repeatSender) run() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		rs.mu.Lock()
		select {
		case <-rs.done: // the Socket is closed: nothing can be sent
			rs.h.reset()
		default:
		}
		if rs.h.len() == 0 {
			rs.running = false
			rs.mu.Unlock()
			return
		}
		now := time.Now()
		rs.batch = rs.batch[:0]
		for rs.h.dueBy(now) {
			e := rs.h.first()
			rs.batch = append(rs.batch, e)
			e.key = nextAdver(e.key, now, e.interval, e.grid)
			rs.h.set(e, &e.i, e.key)
		}
		next := rs.h.first().key
		rs.mu.Unlock()
		rs.sendDue(now)
		clear(rs.batch) // hold no Conn past its wake-up
		t.Reset(time.Until(next))
		select {
		case <-t.C:
		case <-rs.wake:
			t.Stop()
		case <-rs.done:
			t.Stop()
		}
	}
}

// sendDue sends the repeats of batch that are due at or before now and
// not taken back, all in one sendmmsg(2): with a few hundred masters on
// a socket, the system calls of a sendmsg(2) each cost about a fifth of
// a send here (bench/README.md, "One system call per wake-up"). What
// that call does not send (an error, a full send buffer) is sent alone
// after it, through WriteAdvert's handling of errors; so is every advert
// of a Socket without a raw socket (tests).
func (rs *repeatSender) sendDue(now time.Time) {
	for _, e := range rs.batch {
		e.mu.Lock()
		if !e.isDue(now) {
			e.mu.Unlock()
			continue
		}
		m := e.c.sendmsg()
		if m == nil {
			e.mu.Unlock()
			e.send(now)
			continue
		}
		m.mu.Lock()
		m.prepare(e.b, e.dst, int(e.c.s.index.Load()))
		rs.mm = append(rs.mm, unix.Mmsghdr{Hdr: m.hdr})
		rs.held = append(rs.held, e)
	}
	if len(rs.held) == 0 {
		return
	}
	if rs.mmsg == nil {
		rs.mmsg = func(fd uintptr) {
			n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&rs.mm[0])), uintptr(len(rs.mm)), 0, 0, 0)
			if errno != 0 {
				n = 0 // the first failed: sent alone, its error reported then
			}
			rs.mmSent = int(n)
		}
	}
	rs.mmSent = 0
	// A closed socket sends nothing (mmSent stays 0): each send alone
	// then says so.
	_ = rs.held[0].c.tx.rc.Control(rs.mmsg)
	if rs.mmSent > 0 {
		rs.held[0].c.s.n.RepeatWrites.Add(1)
	}
	for i, e := range rs.held {
		m := e.c.tx
		m.iov.Base = nil // do not keep e.b alive
		m.mu.Unlock()
		if i >= rs.mmSent {
			e.mu.Unlock()
			e.send(now)
			continue
		}
		e.sentAt(now, nil)
		e.mu.Unlock()
	}
	clear(rs.mm) // the pointers into the Conns' sendmsgs
	rs.mm = rs.mm[:0]
	clear(rs.held)
	rs.held = rs.held[:0]
}

// isDue says whether e is to be sent at now (e.mu held): not taken back,
// nor taken back and handed out again since the sender's wake-up.
func (e *outRepeat) isDue(now time.Time) bool {
	return !e.taken && !e.due.After(now)
}

// send sends the repeated advert alone, if due at or before now and not
// taken back.
func (e *outRepeat) send(now time.Time) {
	c := e.c
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.isDue(now) {
		return
	}
	err := c.WriteAdvert(context.Background(), e.b, e.dst)
	if err == nil {
		c.s.n.RepeatWrites.Add(1)
	}
	e.sentAt(now, err)
}

// sentAt records a send of the advert due at or before now, which failed
// with err if not nil (e.mu held): counted or reported, and due again
// an interval on.
func (e *outRepeat) sentAt(now time.Time, err error) {
	if err != nil {
		e.failed(e.dst, err)
	} else {
		e.sent.Add(1)
		e.c.s.n.RepeatsSent.Add(1)
	}
	e.due = nextAdver(e.due, now, e.interval, e.grid)
}
