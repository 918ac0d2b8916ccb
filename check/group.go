package check

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/internal/feed"
	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/sched"
	"github.com/vigil-ha/vigil/watchdog"
)

// GroupConfig configures a Group.
type GroupConfig struct {
	// MaxInFlight bounds the rounds running at once, and so the sockets
	// and processes checks hold; zero means sched.DefaultMaxInFlight
	// (1024), a negative value no bound. Rounds beyond it wait for a slot,
	// and a check whose round still waits when its next tick comes skips
	// that tick.
	MaxInFlight int
	// Logger receives health changes and scheduler events; nil discards them.
	Logger *slog.Logger
	// Rand draws warmup delays and scheduling jitter; nil means a randomly
	// seeded source. The Group serializes its use.
	Rand *rand.Rand
}

// A Group runs many checks on one scheduler (a sched.Runner) and reports
// the changes of all of them on one stream, so that a consumer of 10,000
// checks needs one goroutine, not 10,000.
//
// Add returns a Handle for each check added. Identical checks added
// several times (same Key, or the same pointer, and the same Policy) run
// once per interval and share their status among their handles. First
// rounds are spread over the interval, at most MaxInFlight rounds run at
// once, and each attempt is bounded by its policy's Timeout, so a hung
// target delays no other check.
//
// A Group runs once: a second call to Run returns ErrRan. Its methods, and
// its handles', are safe for concurrent use, before, during or after Run.
type Group struct {
	log    *slog.Logger
	runner *sched.Runner
	ran    atomic.Bool
	feed   feed.Feed[Change]

	// mu guards the fields below, every entry's handles and every
	// Handle's e and removed. Lock order: mu, then a Monitor's mu, then
	// the Runner's.
	mu      sync.Mutex
	rnd     *rand.Rand
	entries map[groupKey]*groupEntry
	handles int
	stopped bool
}

// groupKey identifies identical checks.
type groupKey struct {
	id any // "key " + Key(), a pointer checker, or a fresh pointer (unique)
	p  Policy
}

// groupEntry is one distinct check: a Monitor whose rounds are a job of
// the Group's Runner, and the handles that share it.
type groupEntry struct {
	key     groupKey
	m       *Monitor
	job     *sched.Handle
	handles []*Handle
}

// A Change is a check's new status, as a Group's subscriptions carry it.
type Change struct {
	// Handle is the check that changed, as Add returned it. A check added
	// several times changes for each of its handles.
	Handle *Handle
	// Status is its new status.
	Status Status
}

// GroupStats are a Group's totals.
type GroupStats struct {
	Checks  int         // distinct checks scheduled
	Handles int         // handles not removed, at least one per check
	Dropped uint64      // changes dropped by full subscriptions, all together
	Sched   sched.Stats // the runner's counters
}

// NewGroup returns an empty Group; start it with Run.
func NewGroup(cfg GroupConfig) *Group {
	log := logx.OrDiscard(cfg.Logger)
	rnd := cfg.Rand
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return &Group{
		log:     log,
		rnd:     rnd,
		entries: make(map[groupKey]*groupEntry),
		runner: sched.New(sched.Config{
			MaxInFlight: cfg.MaxInFlight, // the same zero and negative values
			Logger:      log,
			Rand:        rand.New(rand.NewPCG(rnd.Uint64(), rnd.Uint64())),
		}),
	}
}

// Add schedules c under p and returns its handle. If an identical check is
// already scheduled, the handle shares it, and its status. A new check
// starts with the status Handle.Status reports (healthy, or unhealthy with
// p.Alpha); the Group's subscriptions carry its changes after that. Add
// may be called before or during Run; it returns a *FieldError (wrapping
// ErrInvalid) if c is nil or misconfigured, and ErrStopped once Run has
// returned.
func (g *Group) Add(c Checker, p Policy) (*Handle, error) {
	if c == nil {
		return nil, &FieldError{Object: "group", Field: "Checker", Reason: "nil"}
	}
	if err := validate(c); err != nil {
		return nil, err
	}
	key := groupKey{id: identity(c), p: p.withDefaults()}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return nil, ErrStopped
	}
	e := g.entries[key]
	if e == nil {
		var err error
		if e, err = g.newEntryLocked(c, key, nil); err != nil {
			return nil, err
		}
	}
	h := &Handle{g: g, c: c}
	g.attachLocked(h, e)
	return h, nil
}

// newEntryLocked schedules a new distinct check. With from, the check
// takes over from's health and rhythm (Handle.SetPolicy); without, it
// starts anew with p's warmup, or spread over its interval.
func (g *Group) newEntryLocked(c Checker, key groupKey, from *Monitor) (*groupEntry, error) {
	p := key.p
	m := newMonitor(c, p, MonitorConfig{Logger: g.log})
	e := &groupEntry{key: key, m: m}
	m.publish = func(st Status) { g.publish(e, st) }
	job := sched.Job{Name: m.name, Interval: p.Interval, Run: m.round}
	switch {
	case from != nil && from.carryTo(m):
		job.LastRun = m.lastStart
	case p.Warmup > 0:
		job.Offset = time.Duration(g.rnd.Int64N(int64(p.Warmup)))
	case p.Warmup == 0:
		job.Spread = true
	}
	jh, err := g.runner.Add(job)
	if errors.Is(err, sched.ErrStopped) {
		return nil, ErrStopped
	} else if err != nil {
		return nil, err // a bug: the policy is valid
	}
	m.job, e.job = jh, jh
	g.entries[key] = e
	return e, nil
}

// carryTo gives to (a monitor with its own policy, not running yet) m's
// health, rise/fall counts and last round; it reports whether m has run a
// round.
func (m *Monitor) carryTo(to *Monitor) bool {
	m.mu.Lock()
	tr, st, last := m.tracker, m.status, m.lastStart
	m.mu.Unlock()
	tr.SetPolicy(to.p)
	to.tracker, to.status, to.lastStart = tr, st, last
	return !last.IsZero()
}

// attachLocked makes h one of e's handles.
func (g *Group) attachLocked(h *Handle, e *groupEntry) {
	h.e = e
	e.handles = append(e.handles, h)
	g.handles++
}

// detachLocked takes h from its entry, and stops the entry's check if h
// was its last handle.
func (g *Group) detachLocked(h *Handle) {
	e := h.e
	e.handles = slices.DeleteFunc(e.handles, func(x *Handle) bool { return x == h })
	g.handles--
	if len(e.handles) == 0 {
		delete(g.entries, e.key)
		e.job.Remove()
	}
}

// publish sends e's new status to the subscriptions, once for each of its
// handles.
func (g *Group) publish(e *groupEntry, st Status) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, h := range e.handles {
		g.feed.Publish(Change{Handle: h, Status: st})
	}
}

// identity returns what makes two checkers the same check.
func identity(c Checker) any {
	if k, ok := c.(Keyer); ok {
		if key := k.Key(); key != "" {
			return "key " + key
		}
	}
	if reflect.TypeOf(c).Kind() == reflect.Pointer {
		return c
	}
	return new(byte) // not comparable: never shared
}

// Subscribe returns a subscription to the changes of health or weight of
// every check in the group: one stream, whatever the number of checks. It
// holds n changes (at least 1; see Subscription); when it is full the
// oldest change is dropped and counted. A reader that must know every
// check's final state makes n at least the number of handles (every check
// may then change once while it is busy), or, when Dropped grows, reads
// Handle.Status of its handles again: the changes still queued are newer
// than the dropped ones. The channel is closed when Run returns; after
// that Subscribe returns a closed subscription.
//
// The stream keeps the order and number of changes, as every Subscription
// does, rather than coalescing each check's changes into its latest: a
// consumer that applies changes (weights to IPVS, priorities to VRRP)
// sees each flap, and with n large enough nothing is lost.
func (g *Group) Subscribe(n int) *Subscription[Change] {
	return &Subscription[Change]{g.feed.Subscribe(n)}
}

// SetBeat makes the Group's scheduler beat b (sched.Runner.SetBeat):
// its goroutine beats on every turn, so a scheduler that stops turning is
// found stalled by package watchdog. Call it before Run: once Run was
// called, it changes nothing and returns ErrRan.
func (g *Group) SetBeat(b *watchdog.Beat) error {
	if g.ran.Load() {
		return ErrRan
	}
	if err := g.runner.SetBeat(b); err != nil {
		return ErrRan
	}
	return nil
}

// Run runs the checks until ctx is done and returns once every attempt has
// returned; then it closes the subscriptions' channels. A Group runs once:
// a second call returns ErrRan, whether the first is still running or has
// returned.
func (g *Group) Run(ctx context.Context) error {
	if !g.ran.CompareAndSwap(false, true) {
		return ErrRan
	}
	err := g.runner.Run(ctx)
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
	g.feed.Close()
	return err
}

// Stats returns the group's totals.
func (g *Group) Stats() GroupStats {
	g.mu.Lock()
	st := GroupStats{Checks: len(g.entries), Handles: g.handles}
	g.mu.Unlock()
	st.Dropped = g.feed.Dropped()
	st.Sched = g.runner.Stats()
	return st
}

// A Handle is one check added to a Group by Add. Handles of identical
// checks share one running check and its status. Its methods are safe
// for concurrent use.
type Handle struct {
	g       *Group
	c       Checker
	e       *groupEntry // guarded by g.mu: the check h is part of
	removed bool        // guarded by g.mu
}

// entry returns h's check.
func (h *Handle) entry() *groupEntry {
	h.g.mu.Lock()
	defer h.g.mu.Unlock()
	return h.e
}

// Status returns the check's latest status; after Remove, its last one.
func (h *Handle) Status() Status { return h.entry().m.Status() }

// Stats returns the counters of the check h is part of, shared with the
// handles of identical checks. A check that SetPolicy splits from a
// shared one starts its counters from zero.
func (h *Handle) Stats() Stats { return h.entry().m.Stats() }

// Policy returns the check's policy, defaults filled in.
func (h *Handle) Policy() Policy {
	h.g.mu.Lock()
	defer h.g.mu.Unlock()
	return h.e.key.p
}

// SetPolicy makes h's check follow p from now on, without resetting its
// health, as Monitor.SetPolicy does; the Group's runner counts a new
// Interval from the last round's scheduled start. Handles that shared the
// check with h keep the old policy: h then leaves them, with the health
// and rhythm of the check so far. If another handle already runs the same
// check under p, h joins it and takes its status, and the subscriptions
// see a change if that status differs. SetPolicy returns ErrRemoved after
// Remove and ErrStopped once the Group's Run has returned.
func (h *Handle) SetPolicy(p Policy) error {
	p = p.withDefaults()
	g := h.g
	g.mu.Lock()
	defer g.mu.Unlock()
	e := h.e
	switch {
	case h.removed:
		return ErrRemoved
	case g.stopped:
		return ErrStopped
	case e.key.p == p:
		return nil
	}
	key := groupKey{id: e.key.id, p: p}
	to := g.entries[key]
	if to == nil && len(e.handles) == 1 { // h's own check: change it in place
		delete(g.entries, e.key)
		e.key = key
		g.entries[key] = e
		e.m.mu.Lock()
		err := e.m.setPolicyLocked(p)
		e.m.mu.Unlock()
		if errors.Is(err, sched.ErrStopped) { // Run is returning
			return ErrStopped
		}
		return err
	}
	if to == nil {
		var err error
		if to, err = g.newEntryLocked(h.c, key, e.m); err != nil {
			return err
		}
	}
	g.detachLocked(h)
	g.attachLocked(h, to)
	if st := to.m.Status(); st.changed(e.m.Status()) {
		g.feed.Publish(Change{Handle: h, Status: st})
	}
	return nil
}

// Remove takes h out of the Group; removing the last handle of a check
// stops it, cancelling its attempt in flight. Remove is idempotent.
func (h *Handle) Remove() {
	g := h.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if h.removed {
		return
	}
	h.removed = true
	g.detachLocked(h)
}
