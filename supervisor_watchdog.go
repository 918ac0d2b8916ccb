package vigil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/watchdog"
)

// ErrFailing is wrapped by the error Supervisor.Run returns when a loop
// failed (stalled, panicked or returned an error) Watchdog.Restart.Failures
// times within Watchdog.Restart.Window, or when a loop the Supervisor
// cannot restart failed once: the Supervisor stopped, so that a daemon
// exits non-zero and systemd restarts it. It is watchdog.ErrFailing.
var ErrFailing = watchdog.ErrFailing

// Watchdog configures how the Supervisor watches its long-running loops
// (Config.Watchdog). The zero value is the defaults.
//
// Each router's loop, the Supervisor's own loop, the check scheduler, the
// IPVS Balancer and the platform's interface watcher (a Platform with a
// SetBeat method: Linux's and vigiltest's) beat a package watchdog
// Beat.
// A loop silent for longer than Deadline is stalled; a stall, and a panic
// in a loop, is logged with the loop's name, how long, and the stacks,
// counted (Stats.Watchdog) and reported to the loop's owner:
//
//   - A router is restarted by the Supervisor with Restart's backoff. The
//     old router is fenced off first: its Conn, address manager and
//     announcer refuse it from then on, so nothing it does when it wakes
//     (its shutdown's priority 0 and address removal) reaches the network
//     or the host. A router that was MASTER comes back as MASTER
//     (vrrp.Router.ResumeMaster): its VIPs are never removed, and it
//     advertises at once. Its priority sources, faults and sync group
//     state are given to the new router; its counters start from zero.
//   - A goroutine cannot be killed: a router stuck in a call that ignores
//     its context (a blocked send) is abandoned after Restart.Abandon,
//     counted in Stats.Watchdog.Abandoned and Stuck, and left behind,
//     fenced; Run does not wait for it.
//   - The Supervisor's own loop, the check scheduler, the Balancer and the
//     platform hold state other parts depend on and run once: the
//     Supervisor does not restart them. A panic in one of them stops the
//     Supervisor, and Run returns an error wrapping ErrFailing; a stall is
//     logged and counted, and withholds systemd's WATCHDOG=1 while it
//     lasts, so systemd kills a process that stays wedged. A stall of the
//     check scheduler, the Balancer or the platform's watcher also counts
//     against Restart's failure budget: the Restart.Failures-th within
//     Restart.Window stops the Supervisor as a panic does.
//
// The Restart.Failures-th failure of a router within Restart.Window stops
// the Supervisor too: Run returns an error wrapping ErrFailing.
type Watchdog struct {
	// Deadline is how long a loop may go without beating; zero means
	// watchdog.DefaultDeadline (10s), a negative value that no stall is
	// looked for (panics are still recovered).
	Deadline time.Duration
	// Restart is the routers' restart policy: backoff, failure budget and
	// window, and how long to wait for a stalled router before abandoning
	// it. Its Deadline is ignored (Deadline above applies). Zero fields
	// are package watchdog's defaults.
	Restart watchdog.Policy
	// Systemd is systemd's watchdog interval (WatchdogSec=): Run sends
	// WATCHDOG=1 every half of it while every loop beats (see Healthy).
	// Zero means the interval systemd gives in WATCHDOG_USEC (none when
	// unset); a negative value never sends it, for a daemon that notifies
	// systemd itself from Supervisor.Healthy.
	Systemd time.Duration
	// NotifySocket is systemd's notification socket; empty means
	// NOTIFY_SOCKET.
	NotifySocket string
}

// validate reports Watchdog's invalid fields.
func (w *Watchdog) validate() []error {
	var errs []error
	if err := w.Restart.Validate(); err != nil {
		errs = append(errs, invalid("watchdog", "Restart", "%v", err))
	}
	if w.Systemd > 0 && w.Systemd < watchdog.MinWatchdogInterval {
		errs = append(errs, invalid("watchdog", "Systemd", "%v, want at least %v", w.Systemd, watchdog.MinWatchdogInterval))
	}
	return errs
}

// The kinds of loops the Supervisor watches, as named to the watchdog
// ("vrrp VI_1" is of kind "vrrp"), and as Stats.Watchdog counts them.
const (
	LoopSupervisor = "supervisor"
	LoopVRRP       = "vrrp"
	LoopChecks     = "checks"
	LoopIPVS       = "ipvs"
	LoopPlatform   = "platform"
)

var loopKinds = [...]string{LoopSupervisor, LoopVRRP, LoopChecks, LoopIPVS, LoopPlatform}

// WatchdogStats are the watchdog's totals (package watchdog's Stats) and
// its stalls and restarts by kind of loop (LoopVRRP, ...): one entry per
// kind, whatever the number of instances.
type WatchdogStats struct {
	watchdog.Stats
	// StallsByLoop and RestartsByLoop count by kind of loop; every kind is
	// present.
	StallsByLoop   map[string]uint64
	RestartsByLoop map[string]uint64
}

// wdCounts counts the watchdog's events by kind of loop.
type wdCounts struct {
	stalls, restarts [len(loopKinds)]atomic.Uint64
}

// loopKind returns the index in loopKinds of the loop named name.
func loopKind(name string) int {
	k, _, _ := strings.Cut(name, " ")
	for i, n := range loopKinds {
		if n == k {
			return i
		}
	}
	return 0
}

// count follows the watchdog's events until its Run closes sub.
func (c *wdCounts) count(sub *watchdog.Subscription) {
	for e := range sub.C() {
		switch e.Kind {
		case watchdog.EventStalled:
			c.stalls[loopKind(e.Name)].Add(1)
		case watchdog.EventRestarted:
			c.restarts[loopKind(e.Name)].Add(1)
		}
	}
}

func (c *wdCounts) stats(w *watchdog.Watchdog) WatchdogStats {
	st := WatchdogStats{Stats: w.Stats(), StallsByLoop: map[string]uint64{}, RestartsByLoop: map[string]uint64{}}
	for i, n := range loopKinds {
		st.StallsByLoop[n] = c.stalls[i].Load()
		st.RestartsByLoop[n] = c.restarts[i].Load()
	}
	return st
}

// newWatchdog makes the Supervisor's watchdog for cfg.
func newWatchdog(cfg *Watchdog, s *Supervisor) (*watchdog.Watchdog, error) {
	return watchdog.New(watchdog.Config{Deadline: cfg.Deadline, WatchdogInterval: cfg.Systemd,
		NotifySocket: cfg.NotifySocket, Logger: s.log})
}

// Healthy reports whether every loop of the Supervisor has beaten within
// its deadline (Config.Watchdog.Deadline): what Run checks before each
// systemd WATCHDOG=1. A daemon that notifies systemd itself (Systemd
// negative) sends WATCHDOG=1 only while it is true. A router abandoned
// after a stall no longer counts; its restarted successor does. It is
// safe for concurrent use, before, during and after Run.
func (s *Supervisor) Healthy() bool { return s.wd.Healthy() }

// errFenced is what a fenced router's I/O returns.
var errFenced = errors.New("vigil: router replaced by a restart")

// fence cuts one router off from its instance's I/O: once closed, its
// Conn, address manager and announcer refuse every call, and the
// context of its Conn's and address manager's calls in flight is
// canceled (its announcements end with its run's context:
// fencedAnnouncer). A Conn the platform can reopen (InstanceIO.Reopen)
// the router has unwrapped, and the fence closes it.
type fence struct {
	ctx    context.Context
	cancel context.CancelFunc
	conn   io.Closer // the router's own Conn, or nil
	// master records that the router was MASTER when the watchdog
	// found it stalled, before the fence closed: cut off, it may still
	// wake and stop (its Status then says STOPPED), and its successor
	// resumes as MASTER all the same.
	master atomic.Bool
}

func newFence() *fence {
	ctx, cancel := context.WithCancel(context.Background())
	return &fence{ctx: ctx, cancel: cancel}
}

// close closes f; it may be called more than once.
func (f *fence) close() {
	f.cancel()
	if f.conn != nil {
		f.conn.Close()
	}
}
func (f *fence) closed() bool { return f.ctx.Err() != nil }

// callCtx returns ctx, also canceled when f closes, for one call.
func (f *fence) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(f.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// current reports whether r is m's router and not fenced off: what a
// router the watchdog found stalled says once it is cut off (its own
// stop, as its context ends) is not the instance's news. s.mu held.
func (m *member) current(r *vrrp.Router) bool { return r == m.router && !m.fence.closed() }

// fencedConn is a router's Conn behind its fence.
type fencedConn struct {
	c vrrp.Conn
	f *fence
}

func (c fencedConn) ReadAdvert(ctx context.Context, b []byte) (int, vrrp.PacketInfo, error) {
	if c.f.closed() {
		return 0, vrrp.PacketInfo{}, net.ErrClosed
	}
	ctx, done := c.f.callCtx(ctx)
	defer done()
	n, info, err := c.c.ReadAdvert(ctx, b)
	if err != nil && c.f.closed() {
		return 0, vrrp.PacketInfo{}, net.ErrClosed
	}
	return n, info, err
}

func (c fencedConn) WriteAdvert(ctx context.Context, b []byte, dst netip.Addr) error {
	if c.f.closed() {
		return errFenced
	}
	ctx, done := c.f.callCtx(ctx)
	defer done()
	return c.c.WriteAdvert(ctx, b, dst)
}

func (c fencedConn) LocalAddr() netip.Addr { return c.c.LocalAddr() }

// SetPeers passes new peers to a Conn that filters by peer; for one
// that does not, the router checks every sender itself.
func (c fencedConn) SetPeers(peers []netip.Addr) error {
	if ps, ok := c.c.(vrrp.PeerSetter); ok && !c.f.closed() {
		return ps.SetPeers(peers)
	}
	return nil
}

// fencedAddrs is a router's address manager behind its fence.
type fencedAddrs struct {
	a vrrp.AddrManager
	f *fence
}

func (a fencedAddrs) AddVIPs(ctx context.Context, vips []netip.Prefix, accept bool) error {
	if a.f.closed() {
		return errFenced
	}
	ctx, done := a.f.callCtx(ctx)
	defer done()
	return a.a.AddVIPs(ctx, vips, accept)
}

func (a fencedAddrs) RemoveVIPs(ctx context.Context, vips []netip.Prefix) error {
	if a.f.closed() {
		return errFenced
	}
	ctx, done := a.f.callCtx(ctx)
	defer done()
	return a.a.RemoveVIPs(ctx, vips)
}

// fencedAnnouncer is a router's announcer behind its fence: it refuses
// new announcements once the fence is closed. The ones under way end
// with their context, which the router derives from its run's: the
// watchdog cancels a stalled run's right after the fence closes
// (beginRun), and every run's once it returns. (A context of its own
// per announcement, which the fence canceled too, cost two AfterFuncs
// each: bench/README.md, "The fence's contexts".)
type fencedAnnouncer struct {
	a vrrp.Announcer
	f *fence
}

func (a fencedAnnouncer) Announce(ctx context.Context, addrs []netip.Addr) error {
	if a.f.closed() {
		return errFenced
	}
	return a.a.Announce(ctx, addrs)
}

// newRouter makes a router for m over its I/O behind a new fence, with
// m's configuration, timers and beat. A Conn the platform can reopen
// goes to the router as it is, with its fast paths (vrrp.SocketConn's
// queue read by the router's loop, its Socket's repeats both ways), and
// the fence closes it; any other goes behind fencedConn. s.mu held (or m
// not yet shared).
func (s *Supervisor) newRouter(m *member) (*vrrp.Router, *fence, error) {
	f := newFence()
	var ann vrrp.Announcer
	if m.io.Announcer != nil {
		ann = fencedAnnouncer{m.io.Announcer, f}
	}
	rc := m.cfg.VRRP
	if rc.Logger == nil {
		rc.Logger = s.log
	}
	var conn vrrp.Conn = fencedConn{m.io.Conn, f}
	closer, ok := m.io.Conn.(io.Closer)
	if ok && m.io.Reopen != nil {
		conn = m.io.Conn
	} else {
		closer = nil
	}
	r, err := vrrp.NewRouter(conn, fencedAddrs{m.held, f}, ann, rc)
	if err != nil {
		f.close()
		return nil, nil, err
	}
	if err := r.SetTimers(m.io.Timers); err != nil {
		f.close()
		return nil, nil, fmt.Errorf("vigil: instance %s: %w", m.cfg.VRRP.Name, err)
	}
	f.conn = closer // from now on the fence closes it (not above: the instance keeps its Conn)
	return r, f, nil
}

// restartRouter replaces m's router, which failed, by a new one over the
// same I/O (a Conn the platform reopened, if it can: InstanceIO.Reopen):
// the old one is fenced off, the new one gets m's priority sources,
// faults and sync group state, and resumes as MASTER if the old one was
// (when the watchdog found it stalled: fence.master). s.mu held.
func (s *Supervisor) restartRouter(m *member) error {
	old := m.router
	m.fence.close()
	wasMaster := m.fence.master.Load() || old.Status().State == vrrp.Master
	if m.fence.conn != nil {
		c, err := m.io.Reopen(m.cfg.InstanceConfig)
		if err != nil {
			return err
		}
		m.io.Conn = c
	}
	r, f, err := s.newRouter(m)
	if err != nil {
		return err
	}
	if wasMaster {
		if err := r.ResumeMaster(); err != nil {
			return err
		}
	}
	for src, d := range m.deltas {
		r.Track(src, d)
	}
	for src := range m.faults {
		r.SetFault(src, true)
	}
	if m.group != nil {
		if err := r.SyncTo(m.syncState, m.syncSeq); err != nil {
			return err
		}
	}
	m.router, m.fence = r, f
	s.log.Warn("vigil: router restarted", "instance", m.cfg.VRRP.Name, "resumed_master", wasMaster)
	return nil
}

// giveUp fences off m's last router, which failed for good, and removes
// the VIPs it held (those no other instance on the interface holds), as
// its own shutdown would have: the Supervisor is about to stop.
func (s *Supervisor) giveUp(m *member) {
	s.mu.Lock()
	m.fence.close()
	held, vips, name := m.held, m.cfg.VRRP.VIPs, m.cfg.VRRP.Name
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := held.RemoveVIPs(ctx, vips); err != nil {
		s.log.Error("vigil: removing the VIPs of a router that keeps failing", "instance", name, "err", err)
	}
}

// routerRun is what beginRun set up for one run of a member's router and
// end undoes.
type routerRun struct {
	r      *vrrp.Router
	evs    *vrrp.Subscription
	syncs  *vrrp.SyncSubscription // nil outside a sync group
	lowers *vrrp.LowerPrioSubscription
}

// beginRun readies a run of m's router under the watchdog (startRouter's
// guarded function): the first run takes the router New made, each later
// one a new router (restartRouter). It forwards the router's transitions
// and sync statuses to the loop, tagged with the router, until end. When
// the watchdog finds the run stalled, its fence closes before its
// context is canceled, so its shutdown reaches nothing.
func (s *Supervisor) beginRun(ctx context.Context, m *member, b *watchdog.Beat, first *bool) (*routerRun, error) {
	s.mu.Lock()
	if !*first {
		if err := s.restartRouter(m); err != nil {
			s.mu.Unlock()
			return nil, err
		}
	}
	*first = false
	r, f := m.router, m.fence
	if err := r.SetBeat(b); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	run := &routerRun{r: r}
	// The router's events, lower priority adverts and sync statuses go
	// to the loop's inbox as they happen, tagged with the router: no
	// queue or goroutine per router (a forwarder and its two 64-slot
	// queues were ~12 KiB a router: bench/README.md, "vigild on its
	// sockets' fast paths"), and nothing dropped. When Run returns they
	// are all in.
	run.evs = r.SubscribeFunc(func(ev vrrp.Event) { s.in.put(routerMsg{m, r, ev}) })
	if m.group != nil {
		run.syncs = r.SubscribeSyncFunc(func(st vrrp.SyncStatus) { s.in.put(syncMsg{m, r, st}) })
	}
	run.lowers = r.SubscribeLowerPrioFunc(func(ev vrrp.LowerPrioAdvert) { s.in.put(lowerPrioMsg{m, r, ev}) })
	s.mu.Unlock()

	// A stalled run is cut off before the watchdog cancels its ctx, so
	// its shutdown reaches nothing; otherwise the router's ctx is the
	// run's, and a stop reaches it straight from the loop's cancel (no
	// goroutine between: a SIGTERM's priority 0 advert goes sooner).
	b.SetOnStall(func() {
		f.master.Store(r.Status().State == vrrp.Master)
		f.close()
	})
	return run, nil
}

// end undoes beginRun once the router's Run returned.
func (run *routerRun) end() {
	run.lowers.Close()
	if run.syncs != nil {
		run.syncs.Close()
	}
	run.evs.Close()
}

// once runs the part run as the loop name under the watchdog, not
// restarted: run's error is returned as it is; a panic (recovered) or a
// stall is returned as an error wrapping ErrFailing. For the parts the
// Supervisor cannot restart. Their loops do not beat: a stall is found
// only in a part that takes a Beat.
func (s *Supervisor) once(ctx context.Context, name string, run func(context.Context) error) error {
	p := s.wdp
	p.Deadline, p.Failures = -1, 1
	var err error
	if gerr := s.wd.Guard(ctx, name, p, func(ctx context.Context, _ *watchdog.Beat) error {
		err = run(ctx)
		return nil
	}); gerr != nil {
		return gerr
	}
	return err
}

// watchLoop registers the loop name with the watchdog and gives its Beat
// to the part through setBeat, for a part the Supervisor cannot restart
// (the check scheduler, the Balancer, the platform's watcher): a stall is logged with the loop's
// name and counted by the watchdog, withholds WATCHDOG=1 while it lasts,
// and counts against Watchdog.Restart's failure budget: the
// Restart.Failures-th stall within Restart.Window stops the Supervisor
// (Run returns an error wrapping ErrFailing). stop, called once the
// part's Run returned, unregisters the loop.
func (s *Supervisor) watchLoop(name string, setBeat func(*watchdog.Beat) error) (stop func()) {
	b := s.wd.Register(name, 0)
	if err := setBeat(b); err != nil {
		b.Done()
		return func() {}
	}
	failures, window := s.wdp.Failures, s.wdp.Window
	if failures == 0 {
		failures = watchdog.DefaultFailures
	}
	if window == 0 {
		window = watchdog.DefaultWindow
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var recent []time.Time // stalls within the window, oldest first
		for {
			select {
			case <-done:
				return
			case <-b.Stalled():
			}
			now := time.Now()
			if window > 0 {
				recent = slices.DeleteFunc(recent, func(t time.Time) bool { return now.Sub(t) >= window })
			}
			recent = append(recent, now)
			if failures > 0 && len(recent) >= failures {
				s.fail(name, fmt.Errorf("%w: loop %q stalled %d times within %v", ErrFailing, name, len(recent), window))
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		b.Done()
	}
}

// ResumeMasters makes the named instances start as MASTER, holding their
// VIPs (vrrp.Router.ResumeMaster), instead of electing: for a daemon
// that replaces a process whose Supervisor was master of them and died
// without leaving (vigild's VRRP child, killed and respawned by its
// parent), so that, as after the watchdog's restart of a router, the
// VIPs are never removed, an advert goes out at once and the backups see
// no gap longer than the restart. The VIPs are added again (a no-op for
// those still present). The election then goes on: a backup with a
// higher priority that preempts takes over; an instance with a fault at
// start resigns (priority 0, VIPs removed, FAULT), and a sync group
// member its group keeps from MASTER removes its VIPs and starts as
// BACKUP. The transition is INIT → MASTER with vrrp.ReasonResumed.
//
// Call it before Run: it returns ErrRan once Run was called, and an
// error naming each instance the configuration does not have (the
// others are resumed).
func (s *Supervisor) ResumeMasters(names ...string) error {
	if s.ran.Load() {
		return ErrRan
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, name := range names {
		var m *member
		for _, im := range s.insts {
			if im.cfg.VRRP.Name == name {
				m = im
			}
		}
		if m == nil {
			errs = append(errs, fmt.Errorf("vigil: resume: no instance %q", name))
			continue
		}
		if err := m.router.ResumeMaster(); err != nil {
			errs = append(errs, fmt.Errorf("vigil: resume %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// inbox is the loop's queue of messages: what its routers report (their
// events, lower priority adverts and sync statuses, and their ends) and
// the ends of its timers (the startup delay, delayed interface changes),
// in the order they came: unbounded, since a router must never wait for
// the loop nor lose a transition; the protocol bounds how fast a router
// reports.
type inbox struct {
	mu   sync.Mutex
	q    []any
	wake chan struct{} // 1 slot: something is queued
}

// put queues v and wakes the loop.
func (b *inbox) put(v any) {
	b.mu.Lock()
	b.q = append(b.q, v)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// take returns what is queued, in order, and gives the inbox buf (the
// slice the last take returned, handled) to fill next: two slices
// take turns, so a steady flow allocates nothing.
func (b *inbox) take(buf []any) []any {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.q
	b.q = buf[:0]
	return q
}

// A beatingPlatform is a Platform whose Run can beat a watchdog Beat
// (Linux: its interface watcher, netlink.Watcher.SetBeat). The
// Supervisor gives it one, as the platform loop, before Run; a platform
// without it is watched for panics only.
type beatingPlatform interface {
	SetBeat(b *watchdog.Beat) error
}
