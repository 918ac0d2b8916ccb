package vigildcmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/vigil-ha/vigil"
	"github.com/vigil-ha/vigil/watchdog"
)

// --process-model=keepalived: keepalived's process model. A parent
// process starts the VRRP side and the checker side as two child
// processes (this program again, with --child=vrrp and --child=checker,
// that is -P and -C), each talking to the parent over a socketpair
// (childMsg), and watches them with package watchdog: a child that
// exits, or whose heartbeats stop for --child-deadline (a child stuck
// in a syscall, or SIGSTOPped), is killed (SIGKILL) and respawned by
// watchdog.Guard, at once the first time within childPolicy's window,
// then after 1s, 2s, 4s; the fifth failure within a minute makes the
// parent stop the other child and exit 1, for systemd to restart it. A
// child that exits with a permanent status (1, 2 or 6: a fatal error,
// a configuration it cannot run, no configuration) is not respawned:
// the parent stops the other and exits with that status, as keepalived's
// report_child_status.

// childPolicy is how the parent respawns its children: the first
// failure within a minute at once (keepalived respawns a child that ran
// for over a minute at once), then after 1s, 2s and 4s; the fifth
// failure within a minute ends the parent (exit 1). A killed child is
// waited for at most 5s (a process in uninterruptible sleep).
// With -R (dontRespawn) the first failure ends the parent, as
// keepalived's --dont-respawn.
func childPolicy(deadline time.Duration, dontRespawn bool) watchdog.Policy {
	p := watchdog.Policy{Deadline: deadline, Immediate: 1, Backoff: time.Second, MaxBackoff: time.Minute,
		Failures: 5, Window: time.Minute, Abandon: 5 * time.Second}
	if dontRespawn {
		p.Failures = 1
	}
	return p
}

// childStopWait is how long the parent waits for a child to stop after
// SIGTERM before it kills it, unless child_wait_time says otherwise: the
// Supervisor gives the notify scripts queued up to a minute.
const childStopWait = 70 * time.Second

// stopWait is cfg's child_wait_time, or childStopWait.
func stopWait(cfg *vigil.Config) time.Duration {
	if d := cfg.Global.Daemon.ChildWaitTime; d > 0 {
		return d
	}
	return childStopWait
}

// resumeEnv is the environment variable that names, to a respawned VRRP
// child, the instances it resumes as MASTER (comma-separated).
const resumeEnv = "VIGILD_RESUME"

// parent is vigild's parent process under --process-model=keepalived.
type parent struct {
	o      *Options
	env    *Env
	log    *slog.Logger
	launch launcher
	wd     *watchdog.Watchdog
	policy watchdog.Policy
	// ctx and cancel are run's: the children run until ctx is done;
	// cancel's cause says why the parent stops.
	ctx    context.Context
	cancel context.CancelCauseFunc
	guards sync.WaitGroup // the children's Guards

	mu        sync.Mutex
	kinds     []childKind // the children run (startNew adds)
	kids      map[childKind]*kid
	stopWait  time.Duration      // child_wait_time, or childStopWait
	masters   []string           // the VRRP child's MASTER instances, from its last beat
	held      []netip.Addr       // their VIPs, relayed to the checker child
	readySent bool               // READY=1 sent to systemd
	reloading map[childKind]bool // children a SIGHUP reload waits for
}

// kid is the running child of a kind.
type kid struct {
	proc  childProc
	ready bool
}

// childKinds are the children the parent starts: keepalived starts a
// side with something to run (its running_vrrp, running_checker), every
// side with --all, and -P/-C keep one.
func childKinds(o *Options, cfg *vigil.Config) []childKind {
	var kinds []childKind
	hasVRRP := len(cfg.Instances) > 0 || len(cfg.Trackers) > 0 || !staticEmpty(&cfg.Static)
	if !o.CheckOnly && (hasVRRP || o.All) {
		kinds = append(kinds, childVRRP)
	}
	if !o.VRRPOnly && (len(cfg.VirtualServers) > 0 || o.All) {
		kinds = append(kinds, childChecker)
	}
	return kinds
}

func staticEmpty(s *vigil.Static) bool {
	return len(s.Addresses) == 0 && len(s.Routes) == 0 && len(s.Rules) == 0
}

// runParent runs vigild as keepalived's parent process: the
// configuration is checked here (a missing or unusable file exits 6 or
// 2 before any child starts), the main pid file (-p) written, and the
// children started and watched until SIGTERM or SIGINT.
func runParent(o *Options, env *Env, args []string) int {
	log := newLogger(env.Stderr, o).With("process", "parent")
	log.Info("Starting vigild", "version", version(), "config", o.ConfigFile, "process_model", o.ProcessModel)
	cfg, status := startConfig(o, env, log)
	if status != ExitOK {
		return status
	}
	kinds := childKinds(o, &cfg)
	if !slices.Contains(kinds, childVRRP) && hasHASuspend(&cfg) {
		log.Warn("ha_suspend without a VRRP child: those virtual servers stay suspended")
	}
	if len(kinds) == 0 {
		log.Warn("Nothing to run: no VRRP instance, tracker or static address, and no virtual server (--all starts the children anyway)")
	}
	pp := pidFiles(o, &cfg.Global.Daemon, env.RunDir)
	pids, err := writePidFiles([]string{pp.main}, env.Pid, env.Proc, log)
	if err != nil {
		log.Error(err.Error())
		return ExitFatal
	}
	defer removePidFiles(pids, log)

	launch := env.Launch
	if launch == nil {
		if launch, err = execLauncherFor(args, env); err != nil {
			log.Error("Cannot start the children", "err", err)
			return ExitFatal
		}
	}
	wd, err := watchdog.New(watchdog.Config{Deadline: o.ChildDeadline, WatchdogInterval: -1, Stacks: -1, Logger: log})
	if err != nil {
		log.Error("Cannot start", "err", err)
		return ExitFatal
	}
	p := &parent{o: o, env: env, log: log, launch: launch, wd: wd, policy: childPolicy(o.ChildDeadline, o.DontRespawn),
		kinds: kinds, kids: map[childKind]*kid{}, reloading: map[childKind]bool{}, stopWait: stopWait(&cfg)}
	stop, err := startServers(o, log, p.handle, p.serveHTTP)
	if err != nil {
		log.Error("Cannot start", "err", err)
		return ExitFatal
	}
	defer stop()
	return p.run()
}

// run starts the children under the watchdog and serves signals until a
// stop, then stops the children and returns the exit status.
func (p *parent) run() int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	wctx, wcancel := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Go(func() { p.wd.Run(wctx) })
	defer func() {
		wcancel()
		bg.Wait()
	}()
	p.ctx, p.cancel = ctx, cancel
	for _, k := range p.kinds {
		p.startGuard(k)
	}
	if len(p.kinds) == 0 {
		p.notify("READY=1\nSTATUS=running")
	}
	var ping <-chan time.Time
	if iv := p.watchdogInterval(); iv > 0 {
		t := time.NewTicker(iv / 2)
		defer t.Stop()
		ping = t.C
	}
	p.wait(ctx, cancel, ping)
	p.awaitChildren()
	var perm *permanentExit
	switch cause := context.Cause(ctx); {
	case errors.As(cause, &perm):
		p.log.Error("Stopped: a child exited with a permanent error", "child", perm.kind.String(), "status", perm.status.String())
		return perm.status.Code
	case errors.Is(cause, watchdog.ErrFailing):
		p.log.Error("Stopped: a child keeps failing", "err", cause)
		return ExitFatal
	}
	p.log.Info("Stopped vigild")
	return ExitOK
}

// startGuard runs the child of kind under the watchdog until the
// parent stops; a child that keeps failing stops the parent. Called
// from run's goroutine only, before awaitChildren waits for guards.
func (p *parent) startGuard(kind childKind) {
	p.guards.Go(func() {
		err := p.wd.Guard(p.ctx, kind.String()+" child", p.policy, func(gctx context.Context, b *watchdog.Beat) error {
			return p.runChild(gctx, kind, b, p.cancel)
		})
		if err != nil {
			p.cancel(err)
		}
	})
}

// children returns the kinds of children the parent runs.
func (p *parent) children() []childKind {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.kinds)
}

// startNew starts the children a reloaded file has something for and
// that do not run yet, as keepalived's parent does on SIGHUP; a file
// with errors starts nothing (the children keep their configuration).
func (p *parent) startNew() {
	l := loadConfig(p.o, p.env)
	if !l.ok() {
		return
	}
	cfg := filter(l.cfg, p.o)
	p.mu.Lock()
	p.stopWait = stopWait(&cfg)
	p.mu.Unlock()
	for _, kind := range childKinds(p.o, &cfg) {
		p.mu.Lock()
		known := slices.Contains(p.kinds, kind)
		if !known {
			p.kinds = append(p.kinds, kind)
		}
		p.mu.Unlock()
		if !known {
			p.log.Info("Starting the "+kind.String()+" child: the configuration has something for it now", "config", p.o.ConfigFile)
			p.startGuard(kind)
		}
	}
}

// wait serves signals until SIGTERM (SIGINT) or a child's failure ends
// ctx.
func (p *parent) wait(ctx context.Context, cancel context.CancelCauseFunc, ping <-chan time.Time) {
	for {
		select {
		case sig := <-p.env.Signals:
			switch sig {
			case syscall.SIGTERM, syscall.SIGINT:
				if !stops(p.o, sig) {
					continue
				}
				p.log.Info("Stopping", "signal", sig.String())
				p.notify("STOPPING=1")
				cancel(nil)
				return
			case syscall.SIGHUP:
				p.reload()
				p.startNew()
			case syscall.SIGUSR1:
				p.forward(syscall.SIGUSR1, childVRRP, childChecker)
			case syscall.SIGUSR2, JSONSignal:
				// Only the VRRP side writes keepalived.stats and
				// keepalived.json, as keepalived's.
				p.forward(sig.(syscall.Signal), childVRRP)
			default:
				p.log.Warn("Ignoring signal", "signal", sig.String())
			}
		case <-ping:
			if p.beating() {
				p.notify(sd.SdNotifyWatchdog)
			}
		case <-ctx.Done():
			p.notify("STOPPING=1")
			return
		}
	}
}

// awaitChildren waits for the children to stop once run's ctx is done.
// A SIGTERM or SIGINT meanwhile (one that stops vigild: with systemd's
// KillMode=process only the parent gets it) is passed on to the VRRP
// child as SIGTERM, which cuts its BGP drain (daemon.drainBGP); the
// other signals are ignored.
func (p *parent) awaitChildren() {
	done := make(chan struct{})
	go func() {
		p.guards.Wait()
		close(done)
	}()
	for {
		select {
		case <-done:
			return
		case sig := <-p.env.Signals:
			if !stops(p.o, sig) {
				p.log.Info("Ignoring signal while stopping", "signal", sig.String())
				continue
			}
			p.log.Info("Stopping now: passing the signal on to the VRRP child (it cuts its BGP drain)", "signal", sig.String())
			p.forward(syscall.SIGTERM, childVRRP)
		}
	}
}

// runChild is one run of a child under the watchdog (Guard's fn): it
// starts the child, beats b on each of its messages, and returns when
// the child exits (an error: Guard respawns it), when the watchdog
// finds it stalled (it is killed first), or when ctx is done (it is
// stopped with SIGTERM). A child that exits with a permanent status ends
// the parent through cancel.
func (p *parent) runChild(ctx context.Context, kind childKind, b *watchdog.Beat, cancel context.CancelCauseFunc) error {
	p.mu.Lock()
	var resume []string
	if kind == childVRRP {
		resume = slices.Clone(p.masters)
	}
	p.mu.Unlock()
	c, err := p.launch.launch(kind, resume)
	if err != nil {
		return fmt.Errorf("starting the %s child: %w", kind, err)
	}
	pid := c.Pid()
	p.log.Info(fmt.Sprintf("Starting %s child process, pid=%d", kind.title(), pid), "resume", resume)
	k := &kid{proc: c}
	p.mu.Lock()
	p.kids[kind] = k
	if kind == childChecker {
		p.send(c, parentMsg{Held: p.held})
	}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.kids, kind)
		delete(p.reloading, kind)
		p.mu.Unlock()
	}()
	msgs := c.Msgs()
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				msgs = nil
				continue
			}
			if m.Beat || m.Ready {
				b.Beat()
			}
			p.childSaid(kind, k, m)
		case <-c.Exited():
			st := c.Status()
			if st.Code >= 0 {
				// It ran its shutdown: its VIPs are gone.
				p.forget(kind)
			}
			if st.permanent() {
				p.log.Error(fmt.Sprintf("%s child process(%d) exited with permanent error: Terminating", kind.title(), pid), "status", st.String())
				cancel(&permanentExit{kind, st})
				return nil
			}
			p.log.Error(fmt.Sprintf("%s child process(%d) died: Respawning", kind.title(), pid), "status", st.String())
			return fmt.Errorf("%s child process(%d) %v", kind, pid, st)
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), watchdog.ErrStalled) {
				p.log.Error(fmt.Sprintf("%s child process(%d) missed its heartbeat deadline: killing it", kind.title(), pid),
					"deadline", b.Deadline())
				c.Signal(syscall.SIGKILL)
				<-c.Exited()
				return watchdog.ErrStalled
			}
			b.Done() // stopping: no longer watched
			c.Signal(syscall.SIGTERM)
			c.Signal(syscall.SIGCONT) // a stopped child acts on SIGTERM
			p.mu.Lock()
			wait := p.stopWait
			p.mu.Unlock()
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-c.Exited():
			case <-t.C:
				p.log.Error(fmt.Sprintf("%s child process(%d) did not stop within %v: killing it", kind.title(), pid, wait))
				c.Signal(syscall.SIGKILL)
				<-c.Exited()
			}
			p.log.Info(fmt.Sprintf("%s child process(%d) stopped", kind.title(), pid), "status", c.Status().String())
			return nil
		}
	}
}

// childSaid takes in a child's message: its masters, and its readiness
// (READY=1 to systemd once every child started, and after a reload once
// every child reloaded).
func (p *parent) childSaid(kind childKind, k *kid, m childMsg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m.Beat && kind == childVRRP {
		p.masters = slices.Clone(m.Masters)
		p.setHeld(m.Held)
	}
	if !m.Ready {
		return
	}
	k.ready = true
	if !p.readySent {
		for _, want := range p.kinds {
			if c := p.kids[want]; c == nil || !c.ready {
				return
			}
		}
		p.readySent = true
		p.notify("READY=1\nSTATUS=running")
		return
	}
	if p.reloading[kind] {
		delete(p.reloading, kind)
		if len(p.reloading) == 0 {
			p.notify("READY=1\nSTATUS=running")
		}
	}
}

// forget drops what the parent knows of a child that ran its shutdown.
func (p *parent) forget(kind childKind) {
	if kind != childVRRP {
		return
	}
	p.mu.Lock()
	p.masters = nil
	p.setHeld(nil)
	p.mu.Unlock()
}

// setHeld records the VIPs the VRRP child holds and, when they changed,
// relays them to the checker child. p.mu held.
func (p *parent) setHeld(held []netip.Addr) {
	if slices.Equal(held, p.held) {
		return
	}
	p.held = slices.Clone(held)
	if k := p.kids[childChecker]; k != nil {
		p.send(k.proc, parentMsg{Held: p.held})
	}
}

// send writes m to the child c; a failure is logged (the child is
// respawned if it is gone).
func (p *parent) send(c childProc, m parentMsg) {
	if err := c.Send(m); err != nil {
		p.log.Warn("Cannot write to a child", "pid", c.Pid(), "err", err)
	}
}

// reload is SIGHUP: forwarded to the children, each of which reloads
// the file (keeping its configuration if the file has errors); systemd
// hears RELOADING=1, then READY=1 once every child has reloaded.
func (p *parent) reload() {
	p.log.Info("Reloading", "config", p.o.ConfigFile)
	p.mu.Lock()
	sent := false
	for kind, k := range p.kids {
		if k.ready {
			p.reloading[kind] = true
			sent = true
		}
	}
	if sent {
		p.notify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d\nSTATUS=reloading", p.env.Monotonic()))
	}
	p.mu.Unlock()
	p.forward(syscall.SIGHUP, childVRRP, childChecker)
}

// forward sends sig to the running children of kinds.
func (p *parent) forward(sig syscall.Signal, kinds ...childKind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, kind := range kinds {
		if k := p.kids[kind]; k != nil {
			k.proc.Signal(sig)
		}
	}
}

// beating says whether every child runs and beats: the parent sends
// systemd's WATCHDOG=1 only then.
func (p *parent) beating() bool {
	p.mu.Lock()
	n, want := len(p.kids), len(p.kinds)
	p.mu.Unlock()
	return n == want && p.wd.Healthy()
}

// watchdogInterval is systemd's watchdog interval for the parent.
func (p *parent) watchdogInterval() time.Duration {
	if iv := p.env.WatchdogInterval; iv != 0 {
		return max(iv, 0)
	}
	iv, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		p.log.Warn("systemd watchdog", "err", err)
		return 0
	}
	return iv
}

// notify tells systemd; an error is logged.
func (p *parent) notify(state string) {
	if err := p.env.Notify(state); err != nil {
		p.log.Warn("sd_notify", "state", state, "err", err)
	}
}
