package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/internal/counter"
	"github.com/vigil-ha/vigil/internal/feed"
	"github.com/vigil-ha/vigil/internal/logx"
)

// Change is a Spec's state change, published to Subscriptions.
type Change struct {
	// Name is the Spec's Name.
	Name string
	// State is the new state, StateUp or StateDown.
	State State
	// Count is the number of matching processes when the state changed.
	Count int
	// Initial is set on the Changes from the first /proc scan, one per
	// Spec in Config order, from StateUnknown to the state the count
	// gives, without ForkDelay or TerminateDelay.
	Initial bool
}

// Status is a Spec's current view; see Tracker.Status.
type Status struct {
	// Name is the Spec's Name.
	Name string
	// State is the published state: StateUnknown until Run's first scan.
	State State
	// Count is the number of matching processes now. It may be out of
	// the quorum while State has not followed yet: see Pending.
	Count int
	// Pending is set while ForkDelay or TerminateDelay runs: State turns
	// to the other state at Until unless the count returns first.
	Pending bool
	Until   time.Time
}

// Stats are a Tracker's counters: a snapshot, see Tracker.Stats.
type Stats struct {
	// Events counts process events applied (fork, exec, name change and
	// exit of processes; threads' events are ignored).
	Events uint64
	// Scans counts /proc scans: the first and one per resync.
	Scans uint64
	// Resyncs counts scans after lost events.
	Resyncs uint64
	// Overflows counts the kernel's reports of events dropped for a full
	// receive buffer (ENOBUFS).
	Overflows uint64
	// Lost counts events found missing from the kernel's per CPU
	// sequence numbers.
	Lost uint64
	// Malformed counts datagrams that did not parse.
	Malformed uint64
	// Errors counts socket errors other than overflows, and failures to
	// reopen the socket or scan /proc.
	Errors uint64
	// Changes counts the Changes published.
	Changes uint64
	// Dropped counts Changes the Subscriptions dropped because their
	// queue was full, all Subscriptions together.
	Dropped uint64
}

type counters struct {
	Events, Scans, Resyncs, Overflows, Lost, Malformed, Errors, Changes atomic.Uint64
}

// Tracker follows processes for its Specs: keepalived's
// vrrp_track_process, all specs served by one process connector socket.
// It scans /proc at start and after lost events, and applies the kernel's
// process events in between; see the package documentation for how it
// counts. State changes go out to Subscriptions; Status and Stats are
// snapshots. Its methods are safe for concurrent use.
type Tracker struct {
	log   *slog.Logger
	specs []*spec
	fs    procFS
	dial  dialFunc
	first conn // opened by New, used by Run
	ran   atomic.Bool
	feed  feed.Feed[Change]

	rcvbuf, maxRcvbuf int

	mu     sync.Mutex // guards status
	status []Status

	counters counters
}

// New checks cfg (see Config.Validate), opens the process connector
// socket in the initial network namespace (that of the calling thread,
// which must be the initial one) and asks the kernel for process events.
// Run starts tracking. Errors wrap ErrInvalid, ErrPermission (the kernel
// refused: before Linux 6.6 this needs CAP_NET_ADMIN) or ErrUnsupported
// (no process connector here). The socket is closed when Run returns;
// a Tracker that never runs keeps it until it is garbage collected.
func New(cfg Config) (*Tracker, error) {
	return newTracker(cfg, dialKernel)
}

func newTracker(cfg Config, dial dialFunc) (*Tracker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Tracker{log: logx.OrDiscard(cfg.Logger), dial: dial, fs: procFS{root: cfg.ProcRoot}}
	if t.fs.root == "" {
		t.fs.root = DefaultProcRoot
	}
	switch {
	case cfg.ReceiveBuffer == 0:
		t.rcvbuf = DefaultReceiveBuffer
	case cfg.ReceiveBuffer > 0:
		t.rcvbuf = cfg.ReceiveBuffer
	}
	t.maxRcvbuf = max(t.rcvbuf, maxReceiveBuffer)
	for _, s := range cfg.Specs {
		c := compile(s)
		t.specs = append(t.specs, c)
		t.fs.cmdline = max(t.fs.cmdline, c.cmdlineNeed())
		t.status = append(t.status, Status{Name: s.Name})
	}
	c, err := dial(t.rcvbuf)
	if err != nil {
		return nil, err
	}
	t.first = c
	return t, nil
}

// Subscribe returns a Subscription to the Changes published from now on,
// in order. Subscribe before Run to receive the Initial ones. After Run
// has returned, its C is already closed.
//
// The Tracker never waits for a subscriber: the Subscription queues n
// Changes (at least 1) and, when full, drops its oldest and counts it
// (Subscription.Dropped); Subscribe(1) always holds the latest. A
// subscriber that must not miss a state reads Status after a drop.
func (t *Tracker) Subscribe(n int) *Subscription {
	return &Subscription{s: t.feed.Subscribe(n)}
}

// Status returns every Spec's current view, in Config order. It reflects
// every Change published so far.
func (t *Tracker) Status() []Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.status)
}

// Stats returns a snapshot of the counters.
func (t *Tracker) Stats() Stats {
	st := counter.Snapshot[Stats](&t.counters)
	st.Dropped = t.feed.Dropped()
	return st
}

// Run tracks until ctx is done, then closes the socket and the
// Subscriptions and returns nil once the goroutine it started has ended.
// It fails only if the first /proc scan fails. After lost events it
// reopens the socket, with a doubled receive buffer, and scans again, at
// most once a second; meanwhile the published states stay as they are.
//
// A Tracker runs once: a second call returns ErrRan, whether the first
// is still running or has returned.
func (t *Tracker) Run(ctx context.Context) error {
	if !t.ran.CompareAndSwap(false, true) {
		return ErrRan
	}
	defer t.feed.Close()
	r := &run{t: t, tab: newTable(t.specs)}
	defer r.detach()
	r.attach(t.first)
	t.first = nil
	scan, err := t.scan()
	if err != nil {
		return fmt.Errorf("process: first scan of %s: %w", t.fs.root, err)
	}
	r.tab.reset(scan)
	r.publish(r.tab.start(), true)
	r.lastResync = time.Now()
	return r.loop(ctx)
}

// minResync is the least time between two resyncs, and the wait before
// retrying a failed one.
const minResync = time.Second

// run is the state of Run's loop.
type run struct {
	t   *Tracker
	tab *table
	out []transition

	c       conn
	batches chan batch
	stop    chan struct{}
	done    chan struct{}
	seqs    map[uint32]uint32 // last sequence number seen by CPU

	resync     bool // events were lost; the socket is closed until resyncAt
	resyncAt   time.Time
	lastResync time.Time
	errs       uint64 // for sampled logging
}

// batch is what the reader goroutine hands the loop: one datagram's
// events, or the read error.
type batch struct {
	evs  []event
	perr error
	err  error
}

func (r *run) loop(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wake, ok := r.tab.next()
		if r.resync {
			wake, ok = r.resyncAt, true
		}
		var tc <-chan time.Time
		if ok {
			timer.Reset(time.Until(wake))
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case b := <-r.batches:
			r.handle(b)
		case <-tc:
		}
		now := time.Now()
		if r.resync && !now.Before(r.resyncAt) {
			r.resyncNow(now)
		}
		if !r.resync {
			r.out = r.tab.update(now, r.out[:0])
			r.publish(r.out, false)
		}
	}
}

// attach starts reading c.
func (r *run) attach(c conn) {
	r.c = c
	r.seqs = map[uint32]uint32{}
	r.batches = make(chan batch)
	r.stop = make(chan struct{})
	r.done = make(chan struct{})
	go read(c, r.batches, r.stop, r.done)
}

// detach closes the socket and waits for its reader to end.
func (r *run) detach() {
	if r.c == nil {
		return
	}
	close(r.stop)
	r.c.close()
	<-r.done
	r.c, r.batches = nil, nil
}

// read hands c's datagrams, parsed, to the loop until c fails or stop is
// closed.
func read(c conn, out chan<- batch, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		b, err := c.read()
		bt := batch{err: err}
		if err == nil {
			bt.evs, bt.perr = parse(b)
		}
		select {
		case out <- bt:
		case <-stop:
			return
		}
		if err != nil && !errors.Is(err, errLost) {
			return
		}
	}
}

// handle applies one batch.
func (r *run) handle(b batch) {
	t := r.t
	switch {
	case errors.Is(b.err, errLost):
		t.counters.Overflows.Add(1)
		t.rcvbuf = min(t.rcvbuf*2, t.maxRcvbuf)
		r.lost(b.err)
		return
	case b.err != nil:
		t.counters.Errors.Add(1)
		r.lost(b.err)
		return
	case b.perr != nil:
		if n := t.counters.Malformed.Add(1); logx.Sampled(n) {
			t.log.Warn("process: malformed process connector message", "err", b.perr, "count", n)
		}
	}
	for _, ev := range b.evs {
		r.apply(ev)
	}
}

// apply applies one event.
func (r *run) apply(ev event) {
	t := r.t
	if ev.kind == evOther {
		return
	}
	// Every event, acks included (since Linux 5.x), takes the next
	// sequence number of its CPU; acks of older kernels and some events
	// of 3.10 kernels have CPU -1 and no sequence.
	if ev.kind == evAck {
		// An ack takes its CPU's next number on kernels that send it
		// like an event, and carries the request's own on older ones:
		// it only advances a sequence it continues, and never shows a
		// gap (an event after it will).
		if last, ok := r.seqs[ev.cpu]; ok && ev.seq == last+1 {
			r.seqs[ev.cpu] = ev.seq
		}
		return
	}
	if ev.cpu != ^uint32(0) {
		last, ok := r.seqs[ev.cpu]
		r.seqs[ev.cpu] = ev.seq
		if ok && ev.seq != last+1 {
			t.counters.Lost.Add(uint64(ev.seq - last - 1))
			r.lost(fmt.Errorf("%d events missing on CPU %d", ev.seq-last-1, ev.cpu))
			return
		}
	}
	switch ev.kind {
	case evFork, evExec, evComm, evExit:
	default:
		return
	}
	if ev.thread() {
		return
	}
	t.counters.Events.Add(1)
	pid := ev.tgid
	// The kernel sends the exit before the process is a zombie: /proc
	// may still show it running.
	if ev.kind == evExit {
		r.tab.set(pid, nil)
		return
	}
	// Fork, exec and a new name: read what the process is now. A process
	// that cannot be read has exited; its exit event follows.
	info, err := t.fs.read(pid)
	if err != nil {
		r.tab.set(pid, nil)
		return
	}
	r.tab.set(pid, r.tab.matches(&info))
}

// lost closes the socket: its events no longer tell the whole story.
// resyncNow reopens it and scans, no sooner than minResync after the last
// resync.
func (r *run) lost(why error) {
	if r.resync {
		return
	}
	r.t.log.Warn("process: process events lost, resyncing", "err", why)
	r.detach()
	r.resync = true
	r.resyncAt = r.lastResync.Add(minResync)
}

// resyncNow reopens the socket and rescans /proc; on failure it tries
// again after minResync.
func (r *run) resyncNow(now time.Time) {
	t := r.t
	if r.c == nil {
		c, err := t.dial(t.rcvbuf)
		if err != nil {
			r.failed(now, "reopen process connector", err)
			return
		}
		r.attach(c)
	}
	scan, err := t.scan()
	if err != nil {
		r.detach()
		r.failed(now, "scan "+t.fs.root, err)
		return
	}
	r.tab.reset(scan)
	t.counters.Resyncs.Add(1)
	r.resync, r.lastResync = false, now
	t.log.Info("process: resynced", "receive_buffer", t.rcvbuf)
}

func (r *run) failed(now time.Time, what string, err error) {
	r.t.counters.Errors.Add(1)
	r.errs++
	if logx.Sampled(r.errs) {
		r.t.log.Error("process: resync failed", "step", what, "err", err, "count", r.errs)
	}
	r.resyncAt = now.Add(minResync)
}

// scan reads every process under the proc root.
func (t *Tracker) scan() (map[int32]procInfo, error) {
	t.counters.Scans.Add(1)
	return t.fs.scan()
}

// publish records the transitions in the status and sends them to the
// Subscriptions.
func (r *run) publish(trs []transition, initial bool) {
	t := r.t
	t.mu.Lock()
	for i := range t.status {
		st := &t.status[i]
		d := r.tab.deb[i]
		st.State, st.Count, st.Pending, st.Until = d.state, r.tab.count[i], d.pending, time.Time{}
		if d.pending {
			st.Until = d.at
		}
	}
	// Publishing under mu too: Status reflects every Change published
	// and none after. Publish never waits.
	defer t.mu.Unlock()
	for _, tr := range trs {
		s := t.specs[tr.spec]
		t.counters.Changes.Add(1)
		msg := "process: quorum lost"
		if tr.state == StateUp {
			msg = "process: quorum gained"
		}
		t.log.Info(msg, "spec", s.name, "count", tr.count, "quorum", s.lo, "quorum_max", bound(s.hi), "initial", initial)
		t.feed.Publish(Change{Name: s.name, State: tr.state, Count: tr.count, Initial: initial})
	}
}
