package vigil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/check"
	"github.com/vigil-ha/vigil/internal/feed"
	"github.com/vigil-ha/vigil/internal/hostwire"
	"github.com/vigil-ha/vigil/internal/logx"
	"github.com/vigil-ha/vigil/ipvs"
	"github.com/vigil-ha/vigil/netlink"
	"github.com/vigil-ha/vigil/notify"
	"github.com/vigil-ha/vigil/process"
	"github.com/vigil-ha/vigil/vrrp"
	"github.com/vigil-ha/vigil/watchdog"
)

// A Supervisor runs a Config: keepalived's VRRP and checker processes
// together, as one Go value. It makes a router for each instance on a
// Platform, runs the trackers on one check.Group (a check used in several
// places runs once) and the process trackers on the kernel's process
// events, turns their states into the routers' priorities and faults by
// keepalived's rules, moves sync groups together, keeps the IPVS table in
// step with the real servers' checks through one ipvs.Balancer, and
// reports every change on one Subscribe stream, to notify scripts (in
// order per instance, group or server) and to notify FIFOs.
//
// Decisions are taken on one goroutine; each part remains the only writer
// of what it owns (a router its VIPs, the Balancer the IPVS table).
//
// A Supervisor runs once: a second Run returns ErrRan. State, Subscribe
// and Reload are safe for concurrent use.
type Supervisor struct {
	p       Platform
	log     *slog.Logger
	n       *notifier
	group   *check.Group
	checks  *check.Subscription[check.Change]
	procs   *process.Tracker // nil without process trackers
	psub    *process.Subscription
	psubC   <-chan process.Change // psub's channel; nil once closed
	pcancel context.CancelFunc    // ends procs' Run
	vs      *virtualServers       // nil without virtual servers
	ipvsB   ipvs.Backend          // what p.IPVS opened for vs; Run closes it
	syncd   *syncDaemons          // nil without Global.SyncDaemon (supervisor_syncd.go)
	syncB   ipvs.Backend          // what p.IPVS opened for syncd; Run closes it
	lvs     lvsAdmin              // LVSFlush, LVSFlushOnStop, LVSTimeouts (supervisor_lvsadmin.go)
	events  Events
	vips    hostwire.Table
	ran     atomic.Bool
	in      inbox           // messages to the loop: the routers' reports and ends, timers'
	quit    chan struct{}   // closed when the loop ends: timers waiting to report stop
	reqs    chan *reloadReq // Reload → loop
	fwd     sync.WaitGroup  // routers and timers
	bg      sync.WaitGroup  // the parts that run on their own
	runCtx  context.Context // the routers' parent context, set by Run
	gctx    context.Context // the process trackers' context, set by Run
	nctx    context.Context // the notify FIFOs' context, set by Run
	vctx    context.Context // the virtual servers' context, set by Run
	vdone   chan struct{}   // closed when the virtual servers' run ended
	errc    chan error      // the parts' errors
	failed  chan struct{}   // closed when a part failed: the loop stops
	failOn  sync.Once
	wd      *watchdog.Watchdog
	wdp     watchdog.Policy // Config.Watchdog.Restart, as New had it
	wdc     wdCounts

	mu       sync.Mutex // guards what State reads, written by the loop
	cfg      Config
	insts    []*member
	groups   []*syncRun
	trackers map[string]*trackerState
	handles  map[*check.Handle]string // tracker checks' handles → tracker
	ifaces   map[string]bool          // interfaces' states as reported
	static   map[staticKey]*staticSet // static addresses, routes, rules held
	synced   bool                     // the platform's first listing is in
	stopping bool
	errs     []error
	delaying bool         // Global.StartupDelay is not over (supervisor_startup.go)
	extHeld  []netip.Addr // SetHeldVIPs: addresses masters elsewhere hold
	ifd      ifDelays     // Config.InterfaceDelays at work (supervisor_ifdelay.go)
}

// member is one running instance.
type member struct {
	cfg     Instance
	iface   string // the interface it sends on (VMAC or Interface)
	io      InstanceIO
	held    *hostwire.Held // its address manager, shared by its routers
	router  *vrrp.Router   // the current one: a restart replaces it
	fence   *fence         // router's
	binds   []binding
	group   *syncRun
	index   int // its index in its group
	state   vrrp.State
	prio    uint8
	faults  map[string]bool
	deltas  map[string]int
	started bool
	removed bool // a reload removed it: its Stopped is DELETED or FAULT
	cancel  context.CancelFunc
	done    bool
	// syncState and syncSeq are the last SyncTo given, for a restarted
	// router.
	syncState vrrp.State
	syncSeq   uint64
}

// syncRun is one running sync group.
type syncRun struct {
	cfg     SyncGroup
	g       *vrrp.SyncGroup
	members []*member
	started bool
	acts    []vrrp.SyncAction
}

// Messages to the loop.
type (
	// routerMsg and syncMsg come from router r of member m; once r was
	// replaced by a restart, they are stale and ignored.
	routerMsg struct {
		m  *member
		r  *vrrp.Router
		ev vrrp.Event
	}
	syncMsg struct {
		m  *member
		r  *vrrp.Router
		st vrrp.SyncStatus
	}
	doneMsg struct {
		m   *member
		err error
	}
)

// New makes a Supervisor for cfg on platform p (OpenLinux for this host's
// kernel, vigiltest.New in memory); the Supervisor owns p from then on.
// It validates cfg (every problem at once, as *FieldErrors wrapping
// ErrInvalid), checks the notify scripts as keepalived does at load
// (notify.Script.Check with Global.ScriptSecurity: an unsafe script is
// disabled and logged), and opens what every instance needs. On error it
// closes p.
func New(p Platform, cfg Config) (*Supervisor, error) {
	s, err := newSupervisor(p, cfg)
	if err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

func newSupervisor(p Platform, cfg Config) (*Supervisor, error) {
	log := logx.OrDiscard(cfg.Logger)
	if id := cfg.Global.RouterID; id != "" {
		log = log.With("router_id", id)
	} else if h, err := os.Hostname(); err == nil {
		log = log.With("router_id", h)
	}
	s := &Supervisor{p: p, log: log,
		in: inbox{wake: make(chan struct{}, 1)}, quit: make(chan struct{}), failed: make(chan struct{}), reqs: make(chan *reloadReq),
		trackers: map[string]*trackerState{}, handles: map[*check.Handle]string{}, ifaces: map[string]bool{}}
	s.n = newNotifier(&cfg, log)
	s.group = check.NewGroup(check.GroupConfig{MaxInFlight: cfg.Global.CheckConcurrency, Logger: log})
	s.checks = s.group.Subscribe(4096)
	if err := cfg.Validate(); err != nil {
		return s, err
	}
	wd, err := newWatchdog(&cfg.Watchdog, s)
	if err != nil {
		return s, fmt.Errorf("vigil: watchdog: %w", err)
	}
	s.wd, s.wdp = wd, cfg.Watchdog.Restart
	cfg = cfg.withDefaults()
	s.checkScripts(&cfg)
	s.cfg = cfg
	if err := s.startTrackers(&cfg); err != nil {
		return s, err
	}
	for i := range cfg.Instances {
		m, err := s.openInstance(&cfg, i)
		if err != nil {
			return s, err
		}
		s.insts = append(s.insts, m)
	}
	for _, sg := range cfg.SyncGroups {
		if err := s.addGroup(&cfg, sg); err != nil {
			return s, err
		}
	}
	if err := s.n.openFIFOs(&cfg.Global, nil); err != nil {
		return s, err
	}
	if len(cfg.VirtualServers) > 0 {
		b, err := p.IPVS()
		if err != nil {
			return s, fmt.Errorf("vigil: virtual servers: %w", err)
		}
		vs, err := newVirtualServers(s.group, b, &cfg, s.n, log)
		if err != nil {
			b.Close()
			return s, err
		}
		s.vs, s.ipvsB = vs, b
	}
	if err := s.openSyncDaemons(&cfg); err != nil {
		return s, err
	}
	if err := s.lvs.open(p, &cfg.Global, log); err != nil {
		return s, err
	}
	s.events = p.Subscribe(1024)
	return s, nil
}

// release closes what New opened, when New fails.
func (s *Supervisor) release() {
	s.checks.Close()
	s.n.closeFIFOs()
	s.n.runner.Close()
	if s.psub != nil {
		s.psub.Close()
	}
	if s.events != nil {
		s.events.Close()
	}
	s.p.Close()
}

// withDefaults fills in what a zero field means.
func (c Config) withDefaults() Config {
	ins := make([]Instance, len(c.Instances))
	copy(ins, c.Instances)
	for i := range ins {
		if ins[i].GARP == (netlink.AnnounceTiming{}) {
			ins[i].GARP = c.Global.GARP
		}
	}
	c.Instances = ins
	return c
}

// checkScripts runs keepalived's load-time checks on every notify script
// of cfg (instances, sync groups, virtual and real servers), on copies,
// disabling (setting to nil) the ones that fail.
func (s *Supervisor) checkScripts(cfg *Config) {
	sec := cfg.Global.ScriptSecurity
	chk := func(where string, sp **notify.Script) {
		if *sp == nil {
			return
		}
		c := **sp // Check sets Path: the caller's Script stays as it was
		if c.User == nil {
			c.User = cfg.Global.ScriptUser
		}
		*sp = &c
		warn, err := (*sp).Check(sec)
		if warn != nil {
			s.log.Warn("vigil: notify script", "where", where, "warning", warn)
		}
		if err != nil {
			s.log.Error("vigil: notify script disabled", "where", where, "err", err)
			*sp = nil
		}
	}
	chk("startup script", &cfg.Global.StartupScript)
	chk("shutdown script", &cfg.Global.ShutdownScript)
	for i := range cfg.Instances {
		n := &cfg.Instances[i].Notify
		w := "instance " + cfg.Instances[i].VRRP.Name
		for _, sp := range []**notify.Script{&n.Master, &n.Backup, &n.Fault, &n.Stop, &n.Deleted, &n.Any} {
			chk(w, sp)
		}
	}
	vss := make([]VirtualServer, len(cfg.VirtualServers))
	copy(vss, cfg.VirtualServers)
	cfg.VirtualServers = vss
	for i := range vss {
		vs := &vss[i]
		w := "virtual server " + vs.Service.ServiceKey.String()
		if vs.Group != "" {
			w = "virtual server group " + vs.Group
		}
		chk(w, &vs.QuorumUp)
		chk(w, &vs.QuorumDown)
		if !slices.ContainsFunc(vs.RealServers, func(r RealServer) bool { return r.NotifyUp != nil || r.NotifyDown != nil }) {
			continue // nothing to check: no copy of thousands of real servers
		}
		rss := make([]RealServer, len(vs.RealServers))
		copy(rss, vs.RealServers)
		vs.RealServers = rss
		for j := range rss {
			chk(w+" real server "+rss[j].Destination.DestinationKey.String(), &rss[j].NotifyUp)
			chk(w+" real server "+rss[j].Destination.DestinationKey.String(), &rss[j].NotifyDown)
		}
	}
	groups := make([]SyncGroup, len(cfg.SyncGroups))
	copy(groups, cfg.SyncGroups)
	cfg.SyncGroups = groups
	for i := range groups {
		n := &groups[i].Notify
		for _, sp := range []**notify.Script{&n.Master, &n.Backup, &n.Fault, &n.Stop, &n.Any} {
			chk("sync group "+groups[i].Name, sp)
		}
	}
}

// startTrackers adds the Check and File trackers to the check group and
// opens the process tracker.
func (s *Supervisor) startTrackers(cfg *Config) error {
	var specs []process.Spec
	for _, t := range cfg.Trackers {
		ts := &trackerState{cfg: t}
		s.trackers[t.Name] = ts
		if t.Process != nil {
			sp := *t.Process
			sp.Name = t.Name
			specs = append(specs, sp)
			continue
		}
		if err := s.addTrackerCheck(ts); err != nil {
			return err
		}
	}
	if len(specs) > 0 {
		pt, err := process.New(process.Config{Specs: specs, Logger: s.log})
		if err != nil {
			return fmt.Errorf("vigil: process trackers: %w", err)
		}
		s.procs = pt
		s.psub = pt.Subscribe(1024)
		s.psubC = s.psub.C()
	}
	return nil
}

func (s *Supervisor) addTrackerCheck(ts *trackerState) error {
	c, p := trackerPolicy(&ts.cfg)
	h, err := s.group.Add(c, p)
	if err != nil {
		return fmt.Errorf("vigil: tracker %s: %w", ts.cfg.Name, err)
	}
	ts.handle = h
	ts.fromStatus(h.Status())
	s.handles[h] = ts.cfg.Name
	return nil
}

// openInstance opens instance i of cfg on the platform and makes its
// router.
func (s *Supervisor) openInstance(cfg *Config, i int) (*member, error) {
	ic := cfg.Instances[i]
	io, err := s.p.Instance(ic.InstanceConfig)
	if err != nil {
		return nil, err
	}
	held := hostwire.NewHeld(io.Addrs, io.Interface, &s.vips, ic.ExcludedVIPs, ic.AddrOptions)
	m := &member{cfg: ic, iface: io.Interface, io: io, held: held, prio: ic.VRRP.Priority,
		faults: map[string]bool{}, deltas: map[string]int{}}
	r, f, err := s.newRouter(m)
	if err != nil {
		return nil, err
	}
	m.router, m.fence = r, f
	var dropped []string
	m.binds, dropped = bindings(cfg, i)
	if m.iface != ic.Interface && !ic.DontTrackPrimary {
		m.binds = append(m.binds, binding{source: hostwire.FaultSource(m.iface), iface: m.iface})
	}
	for _, d := range dropped {
		s.log.Warn("vigil: weighted tracker ignored in a sync group member (keepalived's rule; set the group's TrackingWeight to keep it)",
			"instance", ic.VRRP.Name, "tracker", d)
	}
	s.applyTracks(m)
	return m, nil
}

// addGroup makes the sync group sg over its members.
func (s *Supervisor) addGroup(cfg *Config, sg SyncGroup) error {
	g, err := vrrp.NewSyncGroup(syncGroupConfig(cfg, &sg))
	if err != nil {
		return err
	}
	sr := &syncRun{cfg: sg, g: g}
	for i, name := range sg.Members {
		m := s.instance(name)
		m.group, m.index = sr, i
		sr.members = append(sr.members, m)
	}
	s.groups = append(s.groups, sr)
	return nil
}

// instance returns the running instance named name, or nil.
func (s *Supervisor) instance(name string) *member {
	for _, m := range s.insts {
		if m.cfg.VRRP.Name == name && !m.removed {
			return m
		}
	}
	return nil
}

// Subscribe returns a subscription to the Supervisor's events, with a
// queue of n (at least 1) that drops its oldest event when full and
// counts it. Its channel is closed when Run returns.
func (s *Supervisor) Subscribe(n int) *Subscription {
	return &Subscription{s: s.n.events.Subscribe(n)}
}

// Subscription receives a Supervisor's Events; see Supervisor.Subscribe.
type Subscription struct{ s *feed.Sub[Event] }

// C carries the events; it is closed by Close and when Run returns.
func (s *Subscription) C() <-chan Event { return s.s.C() }

// Dropped counts the events lost because the queue was full.
func (s *Subscription) Dropped() uint64 { return s.s.Dropped() }

// Close ends the subscription and closes C. Calling it again does nothing.
func (s *Subscription) Close() { s.s.Close() }

// Close releases what New opened (the platform, sockets, FIFOs, the
// IPVS backend) for a Supervisor that will not run; Run does the same
// when it returns, so after or during Run, Close does nothing. A Run
// after Close returns ErrRan.
func (s *Supervisor) Close() error {
	if !s.ran.CompareAndSwap(false, true) {
		return nil
	}
	s.release()
	if s.ipvsB != nil {
		s.ipvsB.Close()
	}
	s.closeSyncBackend()
	s.lvs.close()
	s.n.events.Close()
	return nil
}

// Run runs everything until ctx is done, then leaves gracefully: sync
// groups and instances report STOP, masters send priority 0 and remove
// their VIPs, the virtual servers leave the IPVS table (unless
// Global.KeepIPVSOnExit; the whole table is flushed with
// Global.LVSFlushOnStop), the original IPVS timeouts come back (after
// Global.LVSTimeouts), notify scripts already queued finish (for at
// most a minute), and the platform is closed. It returns only when every
// goroutine it started has ended, with the errors of parts that failed,
// except those it had to abandon: a router stuck in a call (see
// Watchdog) and a check that ignores its cancellation (left running
// sched.DefaultStopTimeout after the stop, counted in
// Stats.Checks.Sched.Abandoned). A Supervisor runs once: a second call
// returns ErrRan.
func (s *Supervisor) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return ErrRan
	}
	defer s.p.Close()
	defer s.events.Close()
	s.runGlobalScript(ctx, "startup", s.cfg.Global.StartupScript)
	s.initTrackFiles()
	s.errc = make(chan error, 16)
	wctx, wcancel := context.WithCancel(context.Background())
	wsub := s.wd.Subscribe(256)
	var wwg sync.WaitGroup
	wwg.Go(func() { s.wd.Run(wctx) })
	wwg.Go(func() { s.wdc.count(wsub) })
	defer wwg.Wait()
	defer wcancel()
	pctx, pcancel := context.WithCancel(context.Background())
	defer pcancel()
	s.bg.Go(func() {
		if bp, ok := s.p.(beatingPlatform); ok {
			stop := s.watchLoop(LoopPlatform, bp.SetBeat)
			defer stop()
		}
		s.fail("platform", s.once(pctx, LoopPlatform, s.p.Run))
	})
	gctx, gcancel := context.WithCancel(context.Background())
	s.gctx = gctx
	s.bg.Go(func() {
		stop := s.watchLoop(LoopChecks, s.group.SetBeat)
		defer stop()
		s.fail("checks", s.once(gctx, LoopChecks, s.group.Run))
	})
	if s.procs != nil {
		s.runProcs()
	}
	nctx, ncancel := context.WithCancel(context.Background())
	s.nctx = nctx
	ndone := make(chan struct{})
	go func() { defer close(ndone); s.fail("notify", s.n.runner.Run(nctx)) }()
	s.n.startFIFOs(nctx)
	s.lvs.start(s.cfg.Global)
	vctx, vcancel := context.WithCancel(context.Background())
	s.vctx, s.vdone = vctx, make(chan struct{})
	if s.vs != nil {
		s.startVirtualServers()
	} else {
		close(s.vdone)
	}

	rctx, rcancel := context.WithCancel(context.Background())
	s.runCtx = rctx
	s.mu.Lock()
	s.startSyncDaemons()
	s.mu.Unlock()
	s.loop(ctx)
	rcancel()
	close(s.quit)
	s.fwd.Wait()
	s.stopSyncDaemons()

	vcancel()
	<-s.vdone
	s.lvs.stop(s.cfg.Global, s.vs != nil)
	if s.ipvsB != nil {
		if err := s.ipvsB.Close(); err != nil {
			s.log.Warn("vigil: closing the IPVS backend", "err", err)
		}
	}
	s.closeSyncBackend()
	s.lvs.close()
	gcancel()
	pcancel()
	s.bg.Wait()
	// Let the notifications queued (STOP, DELETED) run, within a bound.
	s.n.runner.Close()
	select {
	case <-ndone:
	case <-time.After(time.Minute):
		ncancel()
		<-ndone
	}
	ncancel()
	s.n.closeFIFOs()
	s.n.events.Close()
	close(s.errc)
	var errs []error
	s.mu.Lock()
	errs = append(errs, s.errs...)
	shutdown := s.cfg.Global.ShutdownScript
	s.mu.Unlock()
	for err := range s.errc {
		errs = append(errs, err)
	}
	s.runGlobalScript(context.Background(), "shutdown", shutdown)
	return errors.Join(errs...)
}

// runProcs runs the process tracker until gctx ends or a reload
// replaces it.
func (s *Supervisor) runProcs() {
	ctx, cancel := context.WithCancel(s.gctx)
	s.pcancel = cancel
	pt := s.procs
	s.bg.Go(func() { s.fail("process trackers", pt.Run(ctx)) })
}

// fail records the error of a part that ended; a cancelled part is not
// an error.
func (s *Supervisor) fail(what string, err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	err = fmt.Errorf("vigil: %s: %w", what, err)
	s.log.Error("vigil: part failed: stopping", "err", err)
	select {
	case s.errc <- err:
	default:
	}
	s.failOn.Do(func() { close(s.failed) })
}

// startVirtualServers runs s.vs until s.vctx ends; s.vdone is closed
// when it returned.
func (s *Supervisor) startVirtualServers() {
	vs, done := s.vs, s.vdone
	vs.watch = func(bl *ipvs.Balancer) func() { return s.watchLoop(LoopIPVS, bl.SetBeat) }
	go func() { defer close(done); s.fail("virtual servers", s.once(s.vctx, LoopIPVS, vs.run)) }()
}

// loop takes every decision until ctx is done and every router has
// stopped.
func (s *Supervisor) loop(ctx context.Context) {
	beat := s.wd.Register(LoopSupervisor, 0)
	defer beat.Done()
	var tick <-chan time.Time // wakes the loop to beat while nothing happens
	if p := beat.Period(); p > 0 {
		t := time.NewTicker(p)
		defer t.Stop()
		tick = t.C
	}
	s.mu.Lock()
	s.addStatic(s.cfg.Static)
	s.delayStart()
	s.startReady()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.removeStatic()
		s.mu.Unlock()
	}()
	var droppedEv, droppedChecks uint64
	var inq []any
	evC, checkC := s.events.C(), s.checks.C()
	done, failed := ctx.Done(), s.failed
	for {
		beat.Beat()
		s.mu.Lock()
		if s.stopping && s.allDone() {
			s.mu.Unlock()
			return
		}
		psubC := s.psubC
		s.mu.Unlock()
		select {
		case <-tick:
		case <-done:
			done = nil
			s.mu.Lock()
			if !s.stopping {
				s.stop()
			}
			s.mu.Unlock()
		case <-failed:
			failed = nil
			s.mu.Lock()
			if !s.stopping {
				s.stop()
			}
			s.mu.Unlock()
		case req := <-s.reqs:
			s.mu.Lock()
			if s.stopping {
				req.reply <- reloadReply{err: ErrStopped}
			} else {
				ch, err := s.reload(req.cfg)
				req.reply <- reloadReply{ch, err}
			}
			s.mu.Unlock()
		case e, ok := <-evC:
			if !ok {
				evC = nil
				continue
			}
			s.mu.Lock()
			hostwire.ApplyEvent(s.p.Snapshot, s.events, &droppedEv, s.log, e, s.platformEvent)
			s.mu.Unlock()
		case c, ok := <-checkC:
			if !ok {
				checkC = nil
				continue
			}
			s.mu.Lock()
			if d := s.checks.Dropped(); d != droppedChecks {
				droppedChecks = d
				for h := range s.handles {
					s.checkChange(h, h.Status())
				}
			}
			s.checkChange(c.Handle, c.Status)
			s.mu.Unlock()
		case c, ok := <-psubC:
			s.mu.Lock()
			if !ok {
				if s.psubC == psubC {
					s.psubC = nil
				}
			} else {
				s.processChange(c)
			}
			s.mu.Unlock()
		case <-s.in.wake:
			inq = s.in.take(inq)
			s.mu.Lock()
			for _, msg := range inq {
				s.handle(msg)
			}
			s.mu.Unlock()
			clear(inq) // hold no router past its messages
		}
	}
}

// allDone reports whether every started router has stopped. s.mu held.
func (s *Supervisor) allDone() bool {
	for _, m := range s.insts {
		if m.started && !m.done {
			return false
		}
	}
	return true
}

// stop begins the shutdown: sync groups stop, routers resign. s.mu held.
func (s *Supervisor) stop() {
	s.stopping = true
	for _, g := range s.groups {
		if g.started {
			s.syncActions(g, g.g.Step(vrrp.SyncInput{Kind: vrrp.SyncStop}, g.acts[:0]))
		}
	}
	for _, m := range s.insts {
		if m.started {
			m.cancel()
		}
	}
}

// handle applies a message of the loop's inbox. s.mu held.
func (s *Supervisor) handle(msg any) {
	switch msg := msg.(type) {
	case routerMsg:
		if msg.m.current(msg.r) {
			s.transition(msg.m, msg.ev)
		}
	case lowerPrioMsg:
		if msg.m.current(msg.r) {
			s.lowerPrio(msg.m, msg.ev)
		}
	case syncMsg:
		if g := msg.m.group; g != nil && g.started && !msg.m.removed && msg.m.current(msg.r) {
			s.syncActions(g, g.g.Step(vrrp.SyncInput{Kind: vrrp.SyncUpdate, Member: msg.m.index, Status: msg.st}, g.acts[:0]))
		}
	case doneMsg:
		msg.m.done = true
		if msg.err != nil {
			s.errs = append(s.errs, fmt.Errorf("vigil: instance %s: %w", msg.m.cfg.VRRP.Name, msg.err))
			if !s.stopping {
				s.stop()
			}
		}
		if msg.m.removed {
			s.dropMember(msg.m)
		}
	case startupDone:
		s.endDelay()
	case ifDelayDone:
		s.ifDelayDone(msg)
	}
}

// transition reports a router's transition. s.mu held.
func (s *Supervisor) transition(m *member, ev vrrp.Event) {
	m.state = ev.To
	s.n.emit(Event{Kind: EventInstance, Time: ev.Time, Instance: ev.Instance, From: ev.From, To: ev.To,
		Reason: ev.Reason, Priority: ev.Priority, Master: ev.Master})
	if ev.Reason == vrrp.ReasonResumed {
		return // a restarted router still master: nothing changed outside
	}
	if ns, ok := notifyState(ev.To); ok {
		if m.removed && ev.To == vrrp.Stopped {
			// keepalived: DELETED with notify_deleted, else FAULT, and
			// nothing if it already was in FAULT.
			switch {
			case m.cfg.Notify.Deleted != nil || m.cfg.Notify.SendDeleted:
				s.n.instanceNotify(&m.cfg, ev.Instance, notify.Deleted, ev.Priority)
			case ev.From != vrrp.Fault:
				s.n.instanceNotify(&m.cfg, ev.Instance, notify.Fault, ev.Priority)
			}
		} else {
			s.n.instanceNotify(&m.cfg, ev.Instance, ns, ev.Priority)
		}
	}
	if s.vs != nil && (ev.From == vrrp.Master || ev.To == vrrp.Master) {
		s.vs.setHeld(s.masterVIPs())
	}
	if d := s.cfg.Global.SyncDaemon; d != nil && d.Instance == m.cfg.VRRP.Name {
		s.syncTransition()
	}
}

// masterVIPs lists the VIPs of the instances in MASTER, and those
// SetHeldVIPs gave. s.mu held.
func (s *Supervisor) masterVIPs() []netip.Addr {
	out := slices.Clone(s.extHeld)
	for _, m := range s.insts {
		if m.state == vrrp.Master {
			for _, v := range m.cfg.VRRP.VIPs {
				out = append(out, v.Addr().Unmap())
			}
		}
	}
	return out
}

// syncActions carries out a sync group's actions. s.mu held.
func (s *Supervisor) syncActions(g *syncRun, acts []vrrp.SyncAction) {
	g.acts = acts
	for _, a := range acts {
		switch a.Kind {
		case vrrp.SyncTell:
			if err := g.members[a.Member].syncTo(a.To, a.Seq); err != nil {
				s.log.Error("vigil: sync group", "group", g.cfg.Name, "err", err)
			}
		case vrrp.SyncTransition:
			s.n.emit(Event{Kind: EventGroup, Group: g.cfg.Name, From: a.From, To: a.To})
			if ns, ok := notifyState(a.To); ok {
				s.n.groupNotify(&g.cfg, ns)
			}
		}
	}
}

// syncTo tells m's router its group's state, and remembers it for a
// restarted router. s.mu held.
func (m *member) syncTo(group vrrp.State, seq uint64) error {
	m.syncState, m.syncSeq = group, seq
	return m.router.SyncTo(group, seq)
}

// startReady starts the routers that can start: those whose fault
// trackers' states are known (a process tracker's after its first scan;
// keepalived holds an instance in INIT until then), a sync group's
// members together. s.mu held.
func (s *Supervisor) startReady() {
	if s.stopping {
		return
	}
	if s.delaying {
		return
	}
	for _, g := range s.groups {
		if g.started {
			continue
		}
		ready := true
		for _, m := range g.members {
			ready = ready && s.ready(m)
		}
		if !ready {
			continue
		}
		for i, m := range g.members {
			g.g.Step(vrrp.SyncInput{Kind: vrrp.SyncUpdate, Member: i, Status: m.router.SyncStatus()}, nil)
		}
		g.started = true
		s.syncActions(g, g.g.Step(vrrp.SyncInput{Kind: vrrp.SyncStart}, g.acts[:0]))
		for _, m := range g.members {
			s.startRouter(m)
		}
	}
	for _, m := range s.insts {
		if !m.started && m.group == nil && !m.removed && s.ready(m) {
			s.startRouter(m)
		}
	}
}

// ready reports whether every fault tracker of m has a result.
func (s *Supervisor) ready(m *member) bool {
	for _, b := range m.binds {
		if b.tracker != "" && (b.weight == 0 || b.file) && !s.trackers[b.tracker].known {
			return false
		}
	}
	return true
}

// startRouter runs m's router under the watchdog, which restarts it
// (beginRun) when it stalls, panics or fails. s.mu held.
func (s *Supervisor) startRouter(m *member) {
	m.started = true
	ctx, cancel := context.WithCancel(s.runCtx)
	m.cancel = cancel
	first := true
	p := s.wdp
	p.Deadline = 0
	name := LoopVRRP + " " + m.cfg.VRRP.Name
	done := func(err error) {
		defer s.fwd.Done()
		if err != nil {
			s.giveUp(m)
		}
		// After the last event of the last router.
		s.in.put(doneMsg{m, err})
	}
	// The watchdog's Go: the router's goroutine is the loop's only one
	// (Guard's caller would be a second, ~8 KiB a router).
	s.fwd.Add(1)
	if err := s.wd.Go(ctx, name, p, func(ctx context.Context, b *watchdog.Beat) error {
		// One run of m's router (supervisor_watchdog.go): set up and
		// cleaned up in frames of their own, so that the router waits
		// with only this frame above its own on the goroutine's stack
		// (vrrp.Router.Run: a waiting router's stack fits in 4 KiB only
		// if its frames are small).
		run, err := s.beginRun(ctx, m, b, &first)
		if err != nil {
			return err
		}
		defer run.end()
		return run.r.Run(ctx)
	}, done); err != nil {
		go done(err) // s.mu held: giveUp takes it
	}
}

// applyTracks gives m's router the weights and faults of its sources now,
// and reports a change of its effective priority. s.mu held.
func (s *Supervisor) applyTracks(m *member) {
	sum := 0
	for _, b := range m.binds {
		var up bool
		var value int
		known := true
		if b.iface != "" {
			st, ok := s.ifaces[b.iface]
			up = st || (!ok && !s.synced) // unknown before the first listing: up
		} else {
			ts := s.trackers[b.tracker]
			up, value, known = ts.up, ts.value, ts.known
		}
		delta, fault := 0, false
		if known {
			delta, fault = trackEffect(b.file, b.weight, b.reverse, up, value)
		}
		if b.weight == 0 && !b.file || fault || m.faults[b.source] {
			if m.faults[b.source] != fault {
				m.router.SetFault(b.source, fault)
				if fault {
					m.faults[b.source] = true
				} else {
					delete(m.faults, b.source)
				}
			}
		}
		if b.weight != 0 || b.file {
			if m.deltas[b.source] != delta {
				m.router.Track(b.source, delta)
				m.deltas[b.source] = delta
			}
			sum += delta
		}
	}
	prio := m.cfg.VRRP.Priority
	if prio != vrrp.PriorityOwner {
		prio = uint8(min(max(int(prio)+sum, 1), vrrp.PriorityOwner-1))
	}
	if prio != m.prio {
		m.prio = prio
		if m.started {
			s.n.emit(Event{Kind: EventPriority, Instance: m.cfg.VRRP.Name, Priority: prio})
			if s.notifyPriority(m) {
				st := notify.BackupPriority
				if m.state == vrrp.Master {
					st = notify.MasterPriority
				}
				s.n.notify("instance:"+m.cfg.VRRP.Name, fifoVRRP, notify.InstanceLine(m.cfg.VRRP.Name, st, prio))
			}
		}
	}
}

// notifyPriority reports whether m's priority changes go to the FIFOs.
func (s *Supervisor) notifyPriority(m *member) bool {
	return m.cfg.NotifyPriorityChanges || s.cfg.Global.NotifyPriorityChanges ||
		(m.group != nil && m.group.cfg.NotifyPriorityChanges)
}

// platformEvent applies an interface or address event. s.mu held.
func (s *Supervisor) platformEvent(e netlink.Event) {
	if s.holdIface(e) {
		return
	}
	switch e.Kind {
	case netlink.Synced:
		s.synced = true
		for _, m := range s.insts {
			s.applyTracks(m)
		}
		return
	case netlink.InterfaceDown, netlink.InterfaceRemoved:
		s.ifaces[e.Interface] = false
	case netlink.InterfaceUp:
		s.ifaces[e.Interface] = true
	case netlink.InterfaceAdded:
		s.ifaces[e.Interface] = e.Up
	}
	for _, m := range s.insts {
		if m.removed {
			continue
		}
		switch e.Kind {
		case netlink.InterfaceDown, netlink.InterfaceRemoved, netlink.InterfaceUp, netlink.InterfaceAdded:
			for _, b := range m.binds {
				if b.iface == e.Interface {
					s.applyTracks(m)
					break
				}
			}
		case netlink.AddrRemoved, netlink.AddrDADFailed:
			if e.Interface == m.cfg.Interface || e.Interface == m.iface {
				hostwire.AddrEvent(s.log, e, &m.cfg.VRRP, m.cfg.AddrOptions, m.router, m.held)
			}
			s.srcAddrEvent(m, e)
		case netlink.AddrAdded:
			s.srcAddrEvent(m, e)
		}
	}
}

// checkChange applies a tracker check's new status. s.mu held.
func (s *Supervisor) checkChange(h *check.Handle, st check.Status) {
	name, ok := s.handles[h]
	if !ok {
		return // a real server's check
	}
	ts := s.trackers[name]
	if !ts.fromStatus(st) {
		return
	}
	s.trackerChanged(ts)
}

// processChange applies a process tracker's new state. s.mu held.
func (s *Supervisor) processChange(c process.Change) {
	ts := s.trackers[c.Name]
	if ts == nil {
		return
	}
	up := c.State == process.StateUp
	if ts.known && ts.up == up {
		return
	}
	ts.known, ts.up, ts.value, ts.at = true, up, c.Count, time.Now()
	s.trackerChanged(ts)
}

// trackerChanged reports a tracker's change and applies it to the
// instances that track it. s.mu held.
func (s *Supervisor) trackerChanged(ts *trackerState) {
	// Its time is when the deciding check ended (or the process count
	// changed), not when the loop got to it.
	s.n.emit(Event{Kind: EventTracker, Time: ts.at, Tracker: ts.cfg.Name, Up: ts.up, Weight: ts.value, Err: ts.err})
	for _, m := range s.insts {
		for _, b := range m.binds {
			if b.tracker == ts.cfg.Name {
				s.applyTracks(m)
				break
			}
		}
	}
	s.startReady()
}
