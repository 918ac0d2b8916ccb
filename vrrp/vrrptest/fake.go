package vrrptest

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
)

// AddrOp is one recorded AddrManager call.
type AddrOp struct {
	Time   time.Time
	Add    bool // false: remove
	VIPs   []netip.Prefix
	Accept bool
	Err    error // the call's error (Addrs.Failed)
}

// Addrs is a recording vrrp.AddrManager holding a set of addresses.
type Addrs struct {
	mu   sync.Mutex
	have map[netip.Prefix]bool
	ops  []AddrOp
	// Err, when set, is returned by every call (and nothing changes).
	err error
	// failNext calls fail with failErr (before err is looked at).
	failNext int
	failErr  error
	failed   []AddrOp
	history  int // SetHistory
}

var _ vrrp.AddrManager = (*Addrs)(nil)

// NewAddrs returns an empty address manager.
func NewAddrs() *Addrs { return &Addrs{have: map[netip.Prefix]bool{}} }

// SetHistory makes a forget all but its last n to 2n operations (Ops,
// Failed); 0, the default, keeps them all. A long run (a soak) sets it so that the
// record does not grow.
func (a *Addrs) SetHistory(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.history = n
	a.ops, a.failed = trim(a.ops, n), trim(a.failed, n)
}

// trim returns s, or its last n in a new array once it holds 2n (all of
// s when n is 0), so that the dropped ones can be collected.
func trim[T any](s []T, n int) []T {
	if n <= 0 || len(s) <= n {
		return s
	}
	if len(s) >= 2*n {
		return append(make([]T, 0, 2*n), s[len(s)-n:]...)
	}
	return s
}

// SetErr makes every later call fail with err (nil to heal).
func (a *Addrs) SetErr(err error) { a.mu.Lock(); a.err = err; a.mu.Unlock() }

// FailNext makes the next n calls fail with err (as a kernel busy for a
// while would: EBUSY, ENOBUFS), then lets them through again.
func (a *Addrs) FailNext(n int, err error) {
	a.mu.Lock()
	a.failNext, a.failErr = n, err
	a.mu.Unlock()
}

// fail returns the error the call op gets, if any, and records the
// failure. a.mu held.
func (a *Addrs) fail(op AddrOp) error {
	err := a.err
	if a.failNext > 0 {
		a.failNext--
		err = a.failErr
	}
	if err != nil {
		op.Err = err
		a.failed = trim(append(a.failed, op), a.history)
	}
	return err
}

// Failed returns the calls that failed (with Err set), which Ops leaves
// out.
func (a *Addrs) Failed() []AddrOp { a.mu.Lock(); defer a.mu.Unlock(); return slices.Clone(a.failed) }

// AddVIPs implements vrrp.AddrManager.
func (a *Addrs) AddVIPs(_ context.Context, vips []netip.Prefix, accept bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	op := AddrOp{Time: time.Now(), Add: true, VIPs: slices.Clone(vips), Accept: accept}
	if err := a.fail(op); err != nil {
		return err
	}
	a.ops = trim(append(a.ops, op), a.history)
	for _, p := range vips {
		a.have[p] = true
	}
	return nil
}

// RemoveVIPs implements vrrp.AddrManager.
func (a *Addrs) RemoveVIPs(_ context.Context, vips []netip.Prefix) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	op := AddrOp{Time: time.Now(), VIPs: slices.Clone(vips)}
	if err := a.fail(op); err != nil {
		return err
	}
	a.ops = trim(append(a.ops, op), a.history)
	for _, p := range vips {
		delete(a.have, p)
	}
	return nil
}

// Has reports whether p is currently added.
func (a *Addrs) Has(p netip.Prefix) bool { a.mu.Lock(); defer a.mu.Unlock(); return a.have[p] }

// Len is the number of addresses currently added.
func (a *Addrs) Len() int { a.mu.Lock(); defer a.mu.Unlock(); return len(a.have) }

// Held returns the addresses currently added, sorted.
func (a *Addrs) Held() []netip.Prefix {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]netip.Prefix, 0, len(a.have))
	for p := range a.have {
		out = append(out, p)
	}
	slices.SortFunc(out, func(x, y netip.Prefix) int { return x.Addr().Compare(y.Addr()) })
	return out
}

// Drop removes p as someone other than the router would (not recorded as
// an operation). It reports whether p was there.
func (a *Addrs) Drop(p netip.Prefix) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	had := a.have[p]
	delete(a.have, p)
	return had
}

// Ops returns the recorded calls.
func (a *Addrs) Ops() []AddrOp { a.mu.Lock(); defer a.mu.Unlock(); return slices.Clone(a.ops) }

// Announcement is one recorded Announce call.
type Announcement struct {
	Time  time.Time
	Addrs []netip.Addr
	// LowerPrio: the call was AnnounceLowerPrio.
	LowerPrio bool
	ctx       context.Context
}

// Active reports whether the announcement's context is still live (the
// router is still Master since it announced).
func (a Announcement) Active() bool { return a.ctx.Err() == nil }

// Announcer is a recording vrrp.Announcer.
type Announcer struct {
	mu      sync.Mutex
	all     []Announcement
	history int // SetHistory
}

// SetHistory makes n forget all but its last k to 2k announcements
// (All); 0, the default, keeps them all.
func (n *Announcer) SetHistory(k int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.history = k
	n.all = trim(n.all, k)
}

var _ vrrp.Announcer = (*Announcer)(nil)

// Announce implements vrrp.Announcer.
func (n *Announcer) Announce(ctx context.Context, addrs []netip.Addr) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.all = trim(append(n.all, Announcement{Time: time.Now(), Addrs: slices.Clone(addrs), ctx: ctx}), n.history)
	return nil
}

var _ vrrp.LowerPrioAnnouncer = (*Announcer)(nil)

// AnnounceLowerPrio implements vrrp.LowerPrioAnnouncer.
func (n *Announcer) AnnounceLowerPrio(ctx context.Context, addrs []netip.Addr) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.all = trim(append(n.all, Announcement{Time: time.Now(), Addrs: slices.Clone(addrs), LowerPrio: true, ctx: ctx}), n.history)
	return nil
}

// All returns the recorded announcements.
func (n *Announcer) All() []Announcement {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.all)
}
